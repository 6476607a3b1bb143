/**
 * One unit of work as the engine keeps it (CPython's `_WorkItem`): a
 * submit, or one chunk of a map. The record owns its timers (the time
 * limit of the current attempt, the grace a stopped task gets) and is what
 * the engine binds to the task's future, so that cancelling the future
 * reaches the engine without the future knowing it.
 *
 * A new kind of task (say, a long-running explorer of a map-reduce) is a
 * new `TaskKind`, a flag the worker understands (wire/protocol.ts), and the
 * settlement of its outcome (outcomes.ts). Links between records (a parent
 * task and the tasks it submitted) belong here too.
 */
import type { TransferListItem } from 'node:worker_threads';
import type { Future } from '../future.js';
import type { CancelBinding } from '../future-support.js';
import {
  cancelledWhilePending,
  cancelRunning,
  stopGraceExpired,
  timedOut,
} from './cancellation.js';
import type { Engine } from './context.js';
import type { FnInfo } from './functions.js';
import type { Capture } from './output/capture.js';
import type { WorkerSlot } from './worker-slot.js';

/** `run`: `fn(...payload)` (a submit); `chunk`: `fn(item)` for each item of the payload (a map). */
export type TaskKind = 'run' | 'chunk';

/** Per-submit settings, validated by the facade (options.ts). */
export interface TaskSettings {
  timeout: number | undefined;
  signal: AbortSignal | undefined;
  retries: number | undefined;
  onProgress: ((value: unknown) => void) | undefined;
  /** ArrayBuffers (and MessagePorts) to move to a worker thread instead of copying. */
  transfer: readonly TransferListItem[] | undefined;
}

export class TaskRecord implements CancelBinding {
  readonly id: number;
  readonly kind: TaskKind;
  readonly future: Future<any>;
  readonly fn: FnInfo;
  readonly payload: unknown[];
  /** Time limit of each attempt in ms, or undefined: none. */
  readonly timeout: number | undefined;
  readonly signal: AbortSignal | undefined;
  readonly onProgress: ((value: unknown) => void) | undefined;
  /** Moved, not copied, to a worker thread (threads only). */
  readonly transfer: readonly TransferListItem[] | undefined;
  /** `performance.now()` at submit. */
  readonly submittedAt: number;
  /** `performance.now()` when it started, as far as the parent knows (0: not yet). */
  startedAt = 0;
  retriesLeft: number;
  /** Re-runs so far after crashes. */
  retried = 0;
  /** The worker whose line it is in, if any. */
  worker: WorkerSlot | undefined = undefined;
  /** Set once the engine let go of the task (see `Engine.detach`). */
  detached = false;
  /**
   * The task was in a crashed worker's line, among tasks whose outcomes
   * were not reported yet, and the crash could not be pinned on one of them
   * (crash-blame.ts). It runs again with its outcome reported alone and at
   * once (TASK_REPORT_ALONE), so that a second crash is pinned on the right
   * task. (A task that had in fact finished before the crash runs twice.)
   */
  reportAlone = false;
  /** Asked back from its worker (work stealing), answer pending. */
  stealing = false;
  /** Cancelled while waiting in the engine's queue (TaskQueue bookkeeping). */
  deadInQueue = false;
  /** `stdio: 'capture'`: what the current attempt wrote so far (output/capture.ts). */
  capture: Capture | undefined = undefined;
  readonly #engine: Engine;
  /** The time limit of the current attempt. */
  #clock: NodeJS.Timeout | undefined = undefined;
  /** Armed when the task was told to stop: its worker is killed if it has not stopped in time. */
  #stopTimer: NodeJS.Timeout | undefined = undefined;

  constructor(
    engine: Engine,
    id: number,
    kind: TaskKind,
    future: Future<any>,
    fn: FnInfo,
    payload: unknown[],
    settings: TaskSettings,
  ) {
    this.#engine = engine;
    this.id = id;
    this.kind = kind;
    this.future = future;
    this.fn = fn;
    this.payload = payload;
    const limit = settings.timeout ?? engine.options.taskTimeout;
    this.timeout = limit === Number.POSITIVE_INFINITY ? undefined : limit;
    this.signal = settings.signal;
    this.onProgress = settings.onProgress;
    this.transfer = settings.transfer;
    this.retriesLeft = settings.retries ?? engine.options.retries;
    this.submittedAt = performance.now();
  }

  /** `future.cancel({ running: true })` (CancelBinding). */
  cancelRunning(cause: unknown): boolean {
    return cancelRunning(this.#engine, this, cause);
  }

  /** The pending future was cancelled (CancelBinding). */
  cancelledWhilePending(cause: unknown): void {
    cancelledWhilePending(this.#engine, this, cause);
  }

  /** Starts the time limit of this attempt (if it has one and is not done). */
  startClock(): void {
    if (this.timeout === undefined || this.future.done()) return;
    clearTimeout(this.#clock);
    this.#clock = setTimeout(() => {
      this.#clock = undefined;
      timedOut(this.#engine, this);
    }, this.timeout);
  }

  /** Stops the time limit: the attempt ended, or the task left its worker. */
  stopClock(): void {
    if (this.#clock === undefined) return;
    clearTimeout(this.#clock);
    this.#clock = undefined;
  }

  /** `true` while the task was told to stop and its grace runs. */
  get stopping(): boolean {
    return this.#stopTimer !== undefined;
  }

  /** The task was told to stop on `slot`: kill that worker if it has not stopped after `grace` ms. */
  armStopGrace(slot: WorkerSlot, why: 'timeout' | 'cancel', grace: number): void {
    this.#stopTimer = setTimeout(() => {
      this.#stopTimer = undefined;
      stopGraceExpired(this.#engine, this, slot, why);
    }, grace);
  }

  /** The task stopped (its outcome came, or its worker is gone). */
  clearStopGrace(): void {
    if (this.#stopTimer === undefined) return;
    clearTimeout(this.#stopTimer);
    this.#stopTimer = undefined;
  }
}
