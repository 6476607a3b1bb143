/**
 * What the engine's helpers (dispatch, outcomes, cancellation, stealing,
 * worker life, messages) see of it: its settings, its shared state, and the
 * few things only the scheduler may do. The scheduler implements `Engine`
 * and hands itself over as one; no helper imports the scheduler.
 */

import type { SpawnOptions, Transport } from '../transport/transport.js';
import type { FnInfo, FunctionRegistry } from './functions.js';
import type { NestedSubmit, Nesting } from './nesting.js';
import type { OutputRoom } from './output/room.js';
import type { TaskQueue } from './queue.js';
import type { SignalWatch } from './signal-watch.js';
import type { TaskRecord } from './task-record.js';
import type { Telemetry } from './telemetry.js';
import type { WorkerSlot } from './worker-slot.js';

/** Engine settings, validated by the executor facades (options/checks.ts). */
export interface EngineOptions {
  transport: Transport;
  maxWorkers: number;
  minWorkers: number;
  /** ms an idle worker above `minWorkers` lives on. */
  idleTimeout: number;
  /** Recycle a worker after this many tasks (Infinity: never). */
  maxTasksPerWorker: number;
  initializer: FnInfo | undefined;
  initargs: unknown[];
  /** Bound of the pending queue (Infinity: unbounded). */
  maxQueued: number;
  /** Default time limit of a task in ms, or undefined. */
  taskTimeout: number | undefined;
  /** Default number of re-runs of a task whose worker crashed. */
  retries: number;
  /** ms between SIGTERM and SIGKILL when a worker must go. */
  shutdownGrace: number;
  /** ms a running task gets to react to its aborted signal before its worker is killed. */
  cancelGrace: number;
  /** ms a worker may take to get ready (start-up and initializer), or undefined: no limit. */
  initializerTimeout: number | undefined;
  /** Deepest nesting of tasks submitted from tasks (nesting.ts). */
  maxNestingDepth: number;
  /** Nested tasks unfinished at once. */
  maxNestedTasks: number;
  /** The executor's function ids: a nested submission names its function as the worker knows it. */
  functions: FunctionRegistry;
  /** How workers are made; `nonce` is set by the engine. */
  spawn: Omit<SpawnOptions, 'nonce'>;
}

/** The engine, as its helpers see it. */
export interface Engine {
  readonly options: EngineOptions;
  /** Tasks waiting for a worker. */
  readonly queue: TaskQueue<TaskRecord>;
  /** Live workers (starting, ready, or going away). */
  readonly workers: Set<WorkerSlot>;
  readonly telemetry: Telemetry;
  /** The tasks' AbortSignals. */
  readonly signals: SignalWatch<TaskRecord>;
  /** `stdio: 'capture'` or `'pipe'`: where workers' output goes; undefined with `'inherit'`. */
  readonly output: OutputRoom | undefined;
  /** `shutdown()` was called: no new work, workers go once idle. */
  readonly closing: boolean;
  /** Nested submission: limits and counters. */
  readonly nesting: Nesting;
  /** Queues a task submitted by task code (nesting.ts) at the queue's front. */
  submitNested: NestedSubmit;
  /** The executor is broken (workers cannot start): every queued task fails. */
  readonly broken: boolean;
  /** Breaks the executor: `cause` is why (the last failed start). */
  breakDown(cause: unknown): void;
  /** A worker failed to start; enough failures in a row break the executor. */
  startFailed(cause: () => unknown): void;
  /** A worker got ready: the run of failed starts ends. */
  startSucceeded(): void;
  /** Runs a scheduling pass at the end of this tick (once, however often asked). */
  schedulePump(): void;
  /** Runs a scheduling pass now. */
  pump(): void;
  /**
   * The engine is done with a task (its future settled, or about to be): it
   * no longer counts as unsettled, its clock stops, its signal and its
   * future are let go of. Idempotent.
   */
  detach(task: TaskRecord): void;
}
