/**
 * Every error this package throws or rejects with.
 *
 * Each class has a stable `code` (Node style) so callers can match on it
 * instead of on message text, accepts `{ cause }`, and keeps `instanceof`
 * working in the parent also for errors that were thrown in a worker: the
 * protocol rebuilds them from their `code` (see `lib/wire/error-codec.ts`).
 */
import { describe, isInstance, messageOf, read } from './describe.js';

/** Options accepted by every error constructor of this package. */
export interface FuturesErrorOptions {
  /** The underlying error, shown by `util.inspect` and kept across process boundaries. */
  cause?: unknown;
}

/** Base class of the errors specific to this package. */
export class FuturesError extends Error {
  /**
   * A stable identifier of the error kind, e.g. `'ERR_FUTURE_CANCELLED'`.
   * Lives on the prototype of each class, like `name`.
   */
  declare readonly code: string;

  constructor(message?: string, options?: FuturesErrorOptions) {
    super(message, options);
  }

  /**
   * The class name, e.g. `'CancelledError'`. It lives on the prototype (set
   * for every class) so that it is not an own enumerable property and does
   * not clutter `util.inspect`.
   */
  declare readonly name: string;
}

function named(ctor: { prototype: Error }, name: string, code: string): void {
  Object.defineProperty(ctor.prototype, 'name', {
    value: name,
    writable: true,
    configurable: true,
  });
  Object.defineProperty(ctor.prototype, 'code', {
    value: code,
    writable: true,
    configurable: true,
  });
}

/** A future was cancelled before its task could finish. `result()` and `exception()` reject with it. */
export class CancelledError extends FuturesError {
  declare readonly code: 'ERR_FUTURE_CANCELLED';
  constructor(message = 'The future was cancelled', options?: FuturesErrorOptions) {
    super(message, options);
  }
}

/**
 * Something ran out of time. Thrown as is when a wait gives up:
 * `future.result({ timeout })`, `asCompleted(..., { timeout })` or the
 * whole-`map` timeout; the future waited on is unaffected and may still
 * finish. Its subclass `TaskTimeoutError` means more: a task exceeded its
 * own time limit, was stopped, and its future failed. `instanceof
 * TimeoutError` holds for both ("it took too long"); tell them apart with
 * `instanceof TaskTimeoutError` or the `code` (`'ERR_FUTURE_TIMEOUT'` for a
 * wait, `'ERR_TASK_TIMEOUT'` for a task).
 */
export class TimeoutError extends FuturesError {
  declare readonly code: 'ERR_FUTURE_TIMEOUT' | 'ERR_TASK_TIMEOUT';
}

/**
 * A task ran longer than its time limit (`timeout` / `taskTimeout`): it was
 * stopped (its `currentTask().signal` aborted with this error, its worker
 * killed if it did not stop) and its future fails with this error. Unlike a
 * plain `TimeoutError`, the future is affected: it is done. A subclass of
 * `TimeoutError`, so that `catch (e) { if (e instanceof TimeoutError) ... }`
 * sees every timeout.
 */
export class TaskTimeoutError extends TimeoutError {
  declare readonly code: 'ERR_TASK_TIMEOUT';
  /** The time limit in milliseconds that the task exceeded. */
  readonly timeout: number | undefined;
  constructor(message?: string, options?: FuturesErrorOptions & { timeout?: number }) {
    super(message, options);
    this.timeout = options?.timeout;
  }
}

/** A method was called on a future in a state that does not allow it (for example `setResult` twice). */
export class InvalidStateError extends FuturesError {
  declare readonly code: 'ERR_FUTURE_INVALID_STATE';
}

/** The executor cannot run tasks any more, for example because its workers fail to start. */
export class BrokenExecutorError extends FuturesError {
  declare readonly code: 'ERR_BROKEN_EXECUTOR';
}

/** What the engine knows about a worker that died while running a task. */
export interface WorkerCrashInfo {
  /** Exit code of the process or thread, or `null` when it was killed by a signal. */
  exitCode?: number | null;
  /** The signal that killed the process, e.g. `'SIGKILL'`, or `null`. */
  signal?: NodeJS.Signals | null;
  /** Process id of the worker (thread id for a worker thread). */
  pid?: number | undefined;
  /** Why the worker died, when known, e.g. `'out-of-memory'`, `'uncaught-exception'`, `'exit'`, `'signal'`. */
  reason?: string;
  /** The last lines the worker wrote to stderr. */
  stderr?: string;
}

/** The worker running a task died (exit, signal, out of memory, abort) before the task settled. */
export class WorkerCrashedError extends FuturesError {
  declare readonly code: 'ERR_WORKER_CRASHED';
  /** Exit code of the process or thread, or `null` when it was killed by a signal. */
  readonly exitCode: number | null;
  /** The signal that killed the process, e.g. `'SIGKILL'`, or `null`. */
  readonly signal: NodeJS.Signals | null;
  /** Process id of the worker (thread id for a worker thread). */
  readonly pid: number | undefined;
  /**
   * Why it died: `'exit'`, `'signal'`, `'abort'`, `'out-of-memory'`,
   * `'uncaught-exception'`, `'unhandled-rejection'`, or, when the executor
   * killed it, `'timeout'`, `'cancelled'`, `'initializer-failed'`.
   */
  readonly reason: string;
  /** The last 8 KiB the worker wrote to stderr (without the executor's task markers). */
  readonly stderr: string;
  constructor(message?: string, options?: FuturesErrorOptions & WorkerCrashInfo) {
    super(message, options);
    this.exitCode = options?.exitCode ?? null;
    this.signal = options?.signal ?? null;
    this.pid = options?.pid;
    this.reason = options?.reason ?? 'unknown';
    this.stderr = options?.stderr ?? '';
  }
}

/** `submit` or `map` was called after `shutdown()`. Thrown synchronously. */
export class ExecutorShutdownError extends FuturesError {
  declare readonly code: 'ERR_EXECUTOR_SHUTDOWN';
  constructor(message = 'cannot schedule new tasks after shutdown', options?: FuturesErrorOptions) {
    super(message, options);
  }
}

/** A submit found the pending queue at its `maxQueued` bound; only that future fails. */
export class QueueFullError extends FuturesError {
  declare readonly code: 'ERR_QUEUE_FULL';
}

/**
 * A task submitted from inside a task (`currentTask().executor`) went past
 * a nesting limit: deeper than `maxNestingDepth`, or more than
 * `maxNestedTasks` nested tasks unfinished at once. Only that nested future
 * fails; task code that awaits it sees this error and may handle it.
 */
export class NestingLimitError extends FuturesError {
  declare readonly code: 'ERR_NESTING_LIMIT';
  /** Which limit: `'depth'` (`maxNestingDepth`) or `'count'` (`maxNestedTasks`). */
  readonly limit: 'depth' | 'count';
  /** The limit's value. */
  readonly max: number;
  constructor(
    message?: string,
    options?: FuturesErrorOptions & { limit?: 'depth' | 'count'; max?: number },
  ) {
    super(message, options);
    this.limit = options?.limit ?? 'depth';
    this.max = options?.max ?? 0;
  }
}

/**
 * Throw `new CancelAll(reason)` in task code to cancel every sibling task of
 * the executor: pending ones never start, running ones are aborted. The
 * throwing task's future rejects with this error; the siblings' futures end
 * cancelled with a `CancelledError` whose `cause` is this error.
 */
export class CancelAll extends FuturesError {
  declare readonly code: 'ERR_CANCEL_ALL';
  /** The value given to the constructor. */
  readonly reason: unknown;
  constructor(reason?: unknown, options?: FuturesErrorOptions) {
    super(reason === undefined ? 'CancelAll' : `CancelAll: ${describeReason(reason)}`, options);
    this.reason = reason;
  }
}

/**
 * `true` for a CancelAll, recognised by its brand (its `code`), not by
 * `instanceof`: task code may import another copy of this package, whose
 * CancelAll is another class. Not by `name` either: an unrelated error
 * class named CancelAll must not cancel an executor. Never throws.
 */
export function isCancelAll(value: unknown): value is CancelAll {
  if (!isInstance(value, Error)) return false;
  const code = read(value, 'code');
  return code.ok && code.value === 'ERR_CANCEL_ALL';
}

/** The reason as text for the message; never throws, whatever the reason is. */
function describeReason(reason: unknown): string {
  if (typeof reason === 'string') return reason;
  if (isInstance(reason, Error)) return messageOf(reason);
  try {
    const json = JSON.stringify(reason);
    if (json !== undefined) return json;
  } catch {
    // BigInt, a cycle, a toJSON that throws: described below.
  }
  return describe(reason);
}

/** An argument or option has the wrong type. Node's `ERR_INVALID_ARG_TYPE`. */
export class ArgumentTypeError extends TypeError {
  /** Always `'ERR_INVALID_ARG_TYPE'`, as Node's own. */
  declare readonly code: 'ERR_INVALID_ARG_TYPE';
}

/** An argument or option has the right type but is out of range. Node's `ERR_OUT_OF_RANGE`. */
export class ArgumentRangeError extends RangeError {
  /** Always `'ERR_OUT_OF_RANGE'`, as Node's own. */
  declare readonly code: 'ERR_OUT_OF_RANGE';
}

named(FuturesError, 'FuturesError', 'ERR_FUTURES');
named(CancelledError, 'CancelledError', 'ERR_FUTURE_CANCELLED');
named(TimeoutError, 'TimeoutError', 'ERR_FUTURE_TIMEOUT');
named(TaskTimeoutError, 'TaskTimeoutError', 'ERR_TASK_TIMEOUT');
named(InvalidStateError, 'InvalidStateError', 'ERR_FUTURE_INVALID_STATE');
named(BrokenExecutorError, 'BrokenExecutorError', 'ERR_BROKEN_EXECUTOR');
named(WorkerCrashedError, 'WorkerCrashedError', 'ERR_WORKER_CRASHED');
named(ExecutorShutdownError, 'ExecutorShutdownError', 'ERR_EXECUTOR_SHUTDOWN');
named(QueueFullError, 'QueueFullError', 'ERR_QUEUE_FULL');
named(CancelAll, 'CancelAll', 'ERR_CANCEL_ALL');
named(NestingLimitError, 'NestingLimitError', 'ERR_NESTING_LIMIT');
named(ArgumentTypeError, 'TypeError', 'ERR_INVALID_ARG_TYPE');
named(ArgumentRangeError, 'RangeError', 'ERR_OUT_OF_RANGE');

/**
 * The classes a worker-side error can be rebuilt as in the parent, found by
 * their `code` (the brand each class carries on its prototype). Built-in
 * Error subclasses are found by name in the codec.
 */
export const errorClasses: Readonly<Record<string, new (...args: any[]) => Error>> = {
  FuturesError,
  CancelledError,
  TimeoutError,
  TaskTimeoutError,
  InvalidStateError,
  BrokenExecutorError,
  WorkerCrashedError,
  ExecutorShutdownError,
  QueueFullError,
  CancelAll,
  NestingLimitError,
};
