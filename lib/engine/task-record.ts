/**
 * The engine's record types: its settings, the bookkeeping of one task
 * (CPython's `_WorkItem`) and of one worker. Shared by the engine
 * (pool.ts) and its helpers (telemetry, worker output).
 */
import type { TransferListItem } from 'node:worker_threads';
import type { PoolEventHub } from '../events.js';
import type { Future } from '../future.js';
import type { FnInfo } from './functions.js';
import type { Capture } from './output.js';
import type { SpawnOptions, Transport, WorkerHandle } from './transport.js';
import type { WorkerOutput } from './worker-output.js';

/** Engine settings, validated by the executor facades. */
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
  spawn: SpawnOptions;
  /** Where events go. */
  events: PoolEventHub;
  /** `stdio: 'pipe'`: receives every worker's output. */
  pipe:
    | ((pid: number | undefined, stream: 'stdout' | 'stderr', chunk: Buffer | null) => void)
    | undefined;
}

/** Per-submit settings. */
export interface TaskSettings {
  timeout: number | undefined;
  signal: AbortSignal | undefined;
  retries: number | undefined;
  onProgress: ((value: unknown) => void) | undefined;
  /** ArrayBuffers (and MessagePorts) to move to a worker thread instead of copying. */
  transfer: readonly TransferListItem[] | undefined;
}

/** One unit of work: a submit, or one chunk of a map. */
export interface Task {
  readonly id: number;
  readonly kind: 'run' | 'chunk';
  readonly future: Future<any>;
  readonly fn: FnInfo;
  readonly payload: unknown[];
  readonly timeout: number | undefined;
  readonly signal: AbortSignal | undefined;
  readonly onProgress: ((value: unknown) => void) | undefined;
  /** Moved, not copied, to a worker thread (threads only). */
  readonly transfer: readonly TransferListItem[] | undefined;
  /** `performance.now()` at submit. */
  readonly submittedAt: number;
  /** `performance.now()` when it started, as far as the parent knows (0: not yet). */
  startedAt: number;
  retriesLeft: number;
  /** Re-runs so far after crashes. */
  retried: number;
  worker: Slot | undefined;
  timer: NodeJS.Timeout | undefined;
  /** Set once the engine is done with the task (counted out of the unsettled tasks). */
  released: boolean;
  /** Armed when the task was told to stop: kills the worker if it has not stopped after `cancelGrace`. */
  stopTimer: NodeJS.Timeout | undefined;
  /**
   * The task was in flight on a worker that crashed while it held several
   * unreported tasks: outcomes travel in batches, so any of the first ones
   * may have been running. It runs again with its outcome reported alone and
   * at once (TASK_ALONE in the protocol), so that a second crash is pinned
   * on the right task. A task that had finished before the crash runs twice.
   */
  suspect: boolean;
  /** Asked back from its worker (work stealing), answer pending. */
  stealing: boolean;
  /** Cancelled while waiting in the engine's queue (TaskQueue bookkeeping). */
  deadInQueue: boolean;
  /** `stdio: 'capture'`: what the task wrote so far. */
  capture: Capture | undefined;
  /**
   * `stdio: 'capture'`: the outcome, held until the end of the task's output
   * arrived (output and results travel on different channels).
   */
  held: { ok: boolean; value: unknown; ms: number } | undefined;
  /** Bounds how long `held` waits for the output (OUTPUT_HOLD_MS). */
  holdTimer: NodeJS.Timeout | undefined;
}

/** What a worker last reported about its resources. */
export interface WorkerUsage {
  /** Resident set size of the worker process, bytes (processes only). */
  rss: number | undefined;
  /** V8 heap in use, bytes. */
  heapUsed: number;
  /** CPU time used, ms, user plus system (processes only). */
  cpuTime: number | undefined;
  /** `performance.now()` in the parent when it arrived. */
  at: number;
}

/** One worker, as the engine keeps it. */
export interface Slot {
  readonly handle: WorkerHandle;
  /** starting: spawned, not ready yet; ready: takes tasks; retiring: asked or forced to exit. */
  state: 'starting' | 'ready' | 'retiring';
  /** Tasks sent to this worker and not done, in order; the first is running. */
  readonly tasks: Task[];
  readonly knownFns: Set<number>;
  completed: number;
  /** How many tasks may be in flight to this worker (adaptive). */
  depth: number;
  /** Moving average of the time per task, ms (0: not measured yet). */
  avgTaskMs: number;
  /** When the task at the head of `tasks` started, as far as the parent knows. */
  headSince: number;
  idleTimer: NodeJS.Timeout | undefined;
  /** Kills a worker that is not ready after `initializerTimeout`. */
  startTimer: NodeJS.Timeout | undefined;
  killTimer: NodeJS.Timeout | undefined;
  /** Set when the engine itself kills the worker (time limit, cancellation, init failure). */
  killReason: string | undefined;
  /** Set when the engine asked it to exit (idle, recycled, shutdown). */
  retired: boolean;
  startError: unknown;
  /** What the worker reported just before dying of an error that escaped task code. */
  fatal: { origin: string; error: unknown } | undefined;
  referenced: boolean;
  usage: WorkerUsage | undefined;
  /** `stdio: 'capture'` or `'pipe'`: the worker's output, split by task. */
  output: WorkerOutput | undefined;
}
