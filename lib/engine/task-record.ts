/**
 * One unit of work as the engine keeps it (CPython's `_WorkItem`): a
 * submit, or one chunk of a map. The record owns its timers (the time
 * limit of the current attempt, the grace a stopped task gets): only the
 * functions of this module touch them. It is also what the engine binds to
 * the task's future (a `CancelBinding`), so that cancelling the future
 * reaches the engine without the future knowing it.
 *
 * A record is a plain object made by `newTaskRecord`, always of one shape,
 * with its two binding methods shared by every record; not a class
 * instance. The difference is the garbage collector's: V8 tracks where
 * object literals are made and, seeing that tasks outlive many young
 * collections (thousands wait in the queue), allocates them straight into
 * the old generation. Class instances are copied at every young
 * collection instead: that tripled the collector's time per tiny task.
 *
 * A new kind of task (say, a long-running explorer of a map-reduce) is a
 * new `TaskKind`, a flag the worker understands (wire/protocol.ts), and the
 * settlement of its outcome (outcomes.ts). Links between records (a parent
 * task and the tasks it submitted) are new fields here.
 */
import type { TransferListItem } from 'node:worker_threads';
import type { Future } from '../future.js';
import type { CancelBinding } from '../future-support.js';
import type { TaskSettings } from '../options/index.js';
import {
  cancelledWhilePending,
  cancelRunning,
  stopGraceExpired,
  timedOut,
} from './cancellation.js';
import type { Engine } from './context.js';
import type { FnInfo } from './functions.js';
import type { NestLink } from './nesting.js';
import type { Capture } from './output/capture.js';
import type { WorkerSlot } from './worker-slot.js';

/**
 * `run`: `fn(...payload)` (a submit); `chunk`: `fn(item)` for each item of
 * the payload (a map); `explore`: a map-reduce explorer whose `fn` is the
 * `map` function (engine/map-reduce/).
 */
export type TaskKind = 'run' | 'chunk' | 'explore';

/** Per-submit settings (defined in options/checks.ts, which the worker side may import). */
export type { TaskSettings } from '../options/index.js';

export interface TaskRecord extends CancelBinding {
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
  startedAt: number;
  retriesLeft: number;
  /** Re-runs so far after crashes. */
  retried: number;
  /** The worker whose line it is in, if any. */
  worker: WorkerSlot | undefined;
  /** Set once the engine let go of the task (see `Engine.detach`). */
  detached: boolean;
  /**
   * The task was in a crashed worker's line, among tasks whose outcomes
   * were not reported yet, and the crash could not be pinned on one of them
   * (crash-blame.ts). It runs again with its outcome reported alone and at
   * once (TASK_REPORT_ALONE), so that a second crash is pinned on the right
   * task. (A task that had in fact finished before the crash runs twice.)
   */
  reportAlone: boolean;
  /** Asked back from its worker (work stealing), answer pending. */
  stealing: boolean;
  /** Cancelled while waiting in the engine's queue (TaskQueue bookkeeping). */
  deadInQueue: boolean;
  /** `stdio: 'capture'`: what the current attempt wrote so far (output/capture.ts). */
  capture: Capture | undefined;
  /** A nested task: the task that submitted it (nesting.ts); undefined for a top-level task. */
  nest: NestLink | undefined;
  /** The nested tasks it submitted that are not detached yet (nesting.ts). */
  children: Set<TaskRecord> | undefined;
}

/** A record with what only this module touches: its engine and its timers. */
interface OwnedRecord extends TaskRecord {
  readonly engine: Engine;
  /** The time limit of the current attempt. */
  clock: NodeJS.Timeout | undefined;
  /** Armed when the task was told to stop: its worker is killed if it has not stopped in time. */
  stopTimer: NodeJS.Timeout | undefined;
}

/** A new record for a task of `engine`. */
export function newTaskRecord(
  engine: Engine,
  id: number,
  kind: TaskKind,
  future: Future<any>,
  fn: FnInfo,
  payload: unknown[],
  settings: TaskSettings,
  nest?: NestLink,
): TaskRecord {
  const limit = settings.timeout ?? engine.options.taskTimeout;
  const record: OwnedRecord = {
    id,
    kind,
    future,
    fn,
    payload,
    timeout: limit === Number.POSITIVE_INFINITY ? undefined : limit,
    signal: settings.signal,
    onProgress: settings.onProgress,
    transfer: settings.transfer,
    submittedAt: performance.now(),
    startedAt: 0,
    retriesLeft: settings.retries ?? engine.options.retries,
    retried: 0,
    worker: undefined,
    detached: false,
    reportAlone: false,
    stealing: false,
    deadInQueue: false,
    capture: undefined,
    nest,
    children: undefined,
    engine,
    clock: undefined,
    stopTimer: undefined,
    cancelRunning: cancelRunningBinding,
    cancelledWhilePending: cancelledWhilePendingBinding,
  };
  return record;
}

/** `future.cancel({ running: true })` (CancelBinding), shared by every record. */
function cancelRunningBinding(this: OwnedRecord, cause: unknown): boolean {
  return cancelRunning(this.engine, this, cause);
}

/** The pending future was cancelled (CancelBinding), shared by every record. */
function cancelledWhilePendingBinding(this: OwnedRecord, cause: unknown): void {
  cancelledWhilePending(this.engine, this, cause);
}

/** Starts the time limit of the task's attempt (if it has one and is not done). */
export function startClock(task: TaskRecord): void {
  const own = task as OwnedRecord;
  if (own.timeout === undefined || own.future.done()) return;
  clearTimeout(own.clock);
  own.clock = setTimeout(() => {
    own.clock = undefined;
    timedOut(own.engine, own);
  }, own.timeout);
}

/** Stops the time limit: the attempt ended, or the task left its worker. */
export function stopClock(task: TaskRecord): void {
  const own = task as OwnedRecord;
  if (own.clock === undefined) return;
  clearTimeout(own.clock);
  own.clock = undefined;
}

/** `true` while the task was told to stop and its grace runs. */
export function isStopping(task: TaskRecord): boolean {
  return (task as OwnedRecord).stopTimer !== undefined;
}

/** The task was told to stop on `slot`: kill that worker if it has not stopped after `grace` ms. */
export function armStopGrace(
  task: TaskRecord,
  slot: WorkerSlot,
  why: 'timeout' | 'cancel',
  grace: number,
): void {
  const own = task as OwnedRecord;
  own.stopTimer = setTimeout(() => {
    own.stopTimer = undefined;
    stopGraceExpired(own.engine, own, slot, why);
  }, grace);
}

/** The task stopped (its outcome came, or its worker is gone). */
export function clearStopGrace(task: TaskRecord): void {
  const own = task as OwnedRecord;
  if (own.stopTimer === undefined) return;
  clearTimeout(own.stopTimer);
  own.stopTimer = undefined;
}
