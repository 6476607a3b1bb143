/**
 * The Future: the eventual outcome of one task, with Python's state machine.
 *
 *     pending ──setRunningOrNotifyCancel()──> running ──setResult/setException──> finished
 *        │  └──────────────────────setResult/setException────────────────────────> finished
 *        └──cancel()──> cancelled
 *
 * `cancel()` succeeds only while pending (Python semantics); executors that can
 * stop a running task offer that through their own options.
 *
 * Cost matters: an executor creates one Future per task, so a Future allocates
 * nothing beyond its fields until someone awaits it or adds a callback.
 */
import { inspect } from 'node:util';
import pDefer, { type DeferredPromise } from 'p-defer';
import { describe, describeError } from './describe.js';
import { CancelledError, InvalidStateError } from './errors.js';
import {
  type CancelBinding,
  type CancelOptions,
  invokeCallback,
  type ResultOptions,
  type TaskOutput,
  waitLimited,
} from './future-support.js';
import { validateOptions, validateSignal, validateTimeout } from './validate.js';

/** The states of a Future, readable as `future.state`. */
export type FutureState = 'pending' | 'running' | 'cancelled' | 'finished';

/** A function called with the future once it is done. */
export type DoneCallback<T> = (future: Future<T>) => void;

// Numeric states keep the hot path cheap; `state` maps them to names.
const PENDING = 0;
const RUNNING = 1;
const CANCELLED = 2;
const FINISHED = 3;
const STATE_NAMES: readonly FutureState[] = ['pending', 'running', 'cancelled', 'finished'];

const noop = (): void => {};

/**
 * The eventual result of a task. Await it (`await future`), or call
 * `result()` / `exception()` with a timeout or an AbortSignal.
 *
 * Done callbacks (`addDoneCallback`) run synchronously: at once when the
 * future is already done, otherwise inside the call that completes it
 * (`setResult`, `setException`, `cancel`), in the order they were added. A
 * callback that throws is reported with `process.emitWarning` (a warning
 * named `FutureCallbackWarning`, code `ERR_FUTURE_CALLBACK`, whose `cause` is
 * the thrown value) and the other callbacks still run.
 *
 * @example
 * ```ts
 * const future = executor.submit((a: number, b: number) => a + b, [1, 2]);
 * future.addDoneCallback((f) => console.log('done:', f.state));
 * console.log(await future); // 3
 * ```
 */
export class Future<T = unknown> implements PromiseLike<T> {
  #state: number = PENDING;
  /** Set by `setRunningOrNotifyCancel()` on a cancelled future (Python's CANCELLED_AND_NOTIFIED). */
  #notified = false;
  /** Tracked apart from the value so that `throw 0` / `throw undefined` still count as failures. */
  #failed = false;
  #value: T | undefined = undefined;
  #error: unknown = undefined;
  #cancelCause: unknown = undefined;
  // Stored as `any` so that Future<T> stays covariant: a Future<number> is a Future<unknown>.
  #callbacks: DoneCallback<any>[] | undefined = undefined;
  #waiters: DoneCallback<any>[] | undefined = undefined;
  #deferred: DeferredPromise<T> | undefined = undefined;
  #promise: Promise<T> | undefined = undefined;
  /** `#promise` carries a no-op rejection handler (see `#guarded`). */
  #marked = false;
  /** Bound by an executor that can stop this future's task while it runs. */
  #binding: CancelBinding | undefined = undefined;
  #output: TaskOutput | undefined = undefined;

  /** The current state: `'pending' | 'running' | 'cancelled' | 'finished'`. */
  get state(): FutureState {
    return STATE_NAMES[this.#state]!;
  }

  /**
   * Cancels the future if it has not started: pending becomes cancelled and
   * `true` is returned; an already cancelled future also returns `true`; a
   * finished future returns `false`. A running future returns `false` and is
   * left alone (Python semantics), unless `{ running: true }` is passed and
   * its executor can stop running tasks: then the task is stopped, the future
   * ends cancelled and `true` is returned.
   */
  cancel(options?: CancelOptions): boolean {
    if (this.#state === RUNNING && options?.running === true && this.#binding !== undefined) {
      return this.#binding.cancelRunning(undefined);
    }
    return this._cancel(undefined);
  }

  /**
   * What the task wrote to stdout and stderr, when its executor runs with
   * `stdio: 'capture'`: set before the future settles, for every task that
   * reached a worker (`undefined` otherwise). Output and results travel on
   * different channels; the executor waits for both, so the output is
   * complete once the future is done (except for a task stopped by a time
   * limit or a cancellation, which keeps what arrived until then, and one
   * that broke its worker's output streams, which keeps what arrived within
   * a bounded wait).
   */
  get output(): TaskOutput | undefined {
    return this.#output;
  }

  /** `true` if the future was cancelled. */
  cancelled(): boolean {
    return this.#state === CANCELLED;
  }

  /** `true` while the task is running. */
  running(): boolean {
    return this.#state === RUNNING;
  }

  /** `true` once the future is cancelled or finished. */
  done(): boolean {
    return this.#state >= CANCELLED;
  }

  /**
   * Waits for the task's value. Rejects with the task's error, with
   * `CancelledError` if the future was cancelled, with `TimeoutError` if
   * `timeout` passes first (the future is unaffected), or with the signal's
   * reason if `signal` aborts first.
   */
  result(options?: ResultOptions): Promise<T> {
    if (options === undefined) return this.#guarded();
    validateOptions('options', options);
    const timeout = validateTimeout('timeout', options.timeout);
    const signal = validateSignal('signal', options.signal);
    if (this.#state >= CANCELLED || (timeout === undefined && signal === undefined)) {
      return this.#guarded();
    }
    return waitLimited(this, timeout, signal);
  }

  /**
   * Waits for the task and resolves with the error it failed with, or
   * `undefined` if it succeeded. Rejects with `CancelledError`, `TimeoutError`
   * or the signal's reason like `result()`.
   */
  exception(options?: ResultOptions): Promise<unknown> {
    return this.result(options).then(
      () => undefined,
      (error: unknown) => {
        if (this.#state === FINISHED && this.#failed && error === this.#error) return error;
        throw error;
      },
    );
  }

  /**
   * Calls `fn(future)` once the future is done: at once (synchronously) if it
   * already is. See the class description for ordering and error reporting.
   */
  addDoneCallback(fn: DoneCallback<T>): void {
    if (typeof fn !== 'function') {
      throw new TypeError(`Expected a done callback function, got ${typeof fn}`);
    }
    if (this.#state >= CANCELLED) {
      invokeCallback(this, fn);
      return;
    }
    if (this.#callbacks === undefined) this.#callbacks = [fn];
    else this.#callbacks.push(fn);
  }

  // biome-ignore lint/suspicious/noThenProperty: a Future is deliberately a thenable.
  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: any) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.#settled().then(onfulfilled, onrejected);
  }

  /** Like `Promise.prototype.catch`. */
  catch<R = never>(onrejected?: ((reason: any) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.#settled().catch(onrejected);
  }

  /** Like `Promise.prototype.finally`. */
  finally(onfinally?: (() => void) | null): Promise<T> {
    return this.#settled().finally(onfinally);
  }

  // ---------------------------------------------------------------------
  // For Executor implementations and tests only. Users do not call these:
  // the executor owns the transitions out of pending and running.
  // ---------------------------------------------------------------------

  /**
   * Marks the future as running, or notices that it was cancelled.
   * Returns `true` if it was pending and is now running (start the task),
   * `false` if it was cancelled (do not start it). Throws `InvalidStateError`
   * when running or finished, or when called twice on a cancelled future.
   */
  setRunningOrNotifyCancel(): boolean {
    if (this.#state === PENDING) {
      this.#state = RUNNING;
      return true;
    }
    if (this.#state === CANCELLED && !this.#notified) {
      this.#notified = true;
      return false;
    }
    throw new InvalidStateError(
      `setRunningOrNotifyCancel() expects a pending future or a cancelled one not yet notified, got ${this}`,
    );
  }

  /** Completes the future with a value. Throws `InvalidStateError` unless pending or running. */
  setResult(value: T): void {
    if (this.#state >= CANCELLED) {
      throw new InvalidStateError(`setResult() expects a pending or running future, got ${this}`);
    }
    this.#value = value;
    this.#state = FINISHED;
    this.#deferred?.resolve(value);
    this.#complete();
  }

  /**
   * Completes the future with a failure. Any value counts as a failure,
   * including `0`, `''`, `null` and `undefined`. Throws `InvalidStateError`
   * unless pending or running.
   */
  setException(error: unknown): void {
    if (this.#state >= CANCELLED) {
      throw new InvalidStateError(
        `setException() expects a pending or running future, got ${this}`,
      );
    }
    this.#error = error;
    this.#failed = true;
    this.#state = FINISHED;
    this.#deferred?.reject(error);
    this.#complete();
  }

  /**
   * Cancels a pending future, recording `cause` on the `CancelledError` its
   * waiters receive (a `CancelAll`, a shutdown, ...). Used by executors.
   * @internal
   */
  _cancel(cause: unknown): boolean {
    if (this.#state === CANCELLED) return true;
    if (this.#state !== PENDING) return false;
    // Completing clears the binding: keep it to tell the executor afterwards.
    const binding = this.#binding;
    this.#becomeCancelled(cause);
    binding?.cancelledWhilePending(cause);
    return true;
  }

  #becomeCancelled(cause: unknown): void {
    this.#state = CANCELLED;
    this.#cancelCause = cause;
    if (this.#deferred !== undefined) this.#deferred.reject(this.#cancelledError());
    this.#complete();
  }

  /**
   * Ends a future that is already running as cancelled: the executor stopped
   * the task on request (cancel of a running task, a signal, a CancelAll).
   * @internal
   */
  _setCancelledWhileRunning(cause: unknown): void {
    if (this.#state !== RUNNING) {
      throw new InvalidStateError(`expected a running future, got ${this}`);
    }
    this.#notified = true;
    this.#becomeCancelled(cause);
  }

  /** Sets `output` (executors with `stdio: 'capture'`). @internal */
  _setOutput(output: TaskOutput): void {
    this.#output = output;
  }

  /**
   * Lets `cancel({ running: true })`, and the cancellation of a pending
   * future, reach the executor; `undefined` unbinds. Completing the future
   * unbinds it too. @internal
   */
  _bindCancel(binding: CancelBinding | undefined): void {
    this.#binding = binding;
  }

  /** `true` if the future finished with a failure (any thrown value). @internal */
  _failed(): boolean {
    return this.#failed;
  }

  /** The value of a finished, successful future. @internal */
  _value(): T | undefined {
    return this.#value;
  }

  /** The error of a failed future, or the CancelledError of a cancelled one. @internal */
  _error(): unknown {
    return this.#state === CANCELLED ? this.#cancelledError() : this.#error;
  }

  /** Registers an internal completion listener (wait/asCompleted). @internal */
  _addWaiter(fn: DoneCallback<T>): void {
    if (this.#waiters === undefined) this.#waiters = [fn];
    else this.#waiters.push(fn);
  }

  /** Removes a listener added with `_addWaiter`. @internal */
  _removeWaiter(fn: DoneCallback<T>): void {
    const waiters = this.#waiters;
    if (waiters === undefined) return;
    const index = waiters.indexOf(fn);
    if (index >= 0) waiters.splice(index, 1);
  }

  /** `Future<pending>`, `Future<finished: returned 42>`, `Future<finished: raised TypeError: boom>`. */
  toString(): string {
    if (this.#state !== FINISHED) return `Future<${this.state}>`;
    if (this.#failed) return `Future<finished: raised ${describeError(this.#error)}>`;
    return `Future<finished: returned ${describe(this.#value)}>`;
  }

  /** What `util.inspect` and `console.log` show: the same as `toString()`. */
  [inspect.custom](): string {
    return this.toString();
  }

  /** `'Future'`, for `Object.prototype.toString`. */
  get [Symbol.toStringTag](): string {
    return 'Future';
  }

  #cancelledError(): CancelledError {
    // One instance per future: every waiter of this future sees the same error.
    if (!(this.#error instanceof CancelledError)) {
      this.#error =
        this.#cancelCause === undefined
          ? new CancelledError()
          : new CancelledError(`The future was cancelled: ${describeError(this.#cancelCause)}`, {
              cause: this.#cancelCause,
            });
    }
    return this.#error as CancelledError;
  }

  /**
   * The promise behind `result()`, handed to the caller as is: marked as
   * handled once, so that a caller who drops it never causes an
   * `unhandledRejection`. (`then`/`catch`/`finally` attach their reactions
   * at once and need no mark: one promise less per awaited future.)
   */
  #guarded(): Promise<T> {
    const promise = this.#settled();
    if (!this.#marked) {
      this.#marked = true;
      promise.catch(noop);
    }
    return promise;
  }

  /** The promise behind `await`: created on first use. */
  #settled(): Promise<T> {
    if (this.#promise !== undefined) return this.#promise;
    let promise: Promise<T>;
    if (this.#state === FINISHED) {
      promise = this.#failed ? Promise.reject(this.#error) : Promise.resolve(this.#value as T);
    } else if (this.#state === CANCELLED) {
      promise = Promise.reject(this.#cancelledError());
    } else {
      this.#deferred = pDefer<T>();
      promise = this.#deferred.promise;
    }
    this.#promise = promise;
    return promise;
  }

  #complete(): void {
    this.#binding = undefined;
    const waiters = this.#waiters;
    if (waiters !== undefined) {
      this.#waiters = undefined;
      for (const waiter of waiters) waiter(this);
    }
    const callbacks = this.#callbacks;
    if (callbacks !== undefined) {
      this.#callbacks = undefined;
      for (const callback of callbacks) invokeCallback(this, callback);
    }
  }
}
