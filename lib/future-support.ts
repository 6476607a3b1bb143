/**
 * What the Future (future.ts) needs beyond its state machine: the shapes
 * of its options and of what it carries, the binding through which an
 * executor stops its task, calling a done callback so that its error is
 * reported and never thrown into the executor, and a wait limited by a
 * timeout and/or a signal (`result({ timeout, signal })`).
 */
import { describeError } from './describe.js';
import { TimeoutError } from './errors.js';
import type { DoneCallback, Future } from './future.js';

/** Options of `future.result()` and `future.exception()`. */
export interface ResultOptions {
  /**
   * Give up waiting after this many milliseconds and reject with
   * `TimeoutError`. The future itself is unaffected. Default: wait forever.
   */
  timeout?: number | undefined;
  /** Give up waiting when this signal aborts, rejecting with `signal.reason`. */
  signal?: AbortSignal | undefined;
}

/** Options of `future.cancel()`. */
export interface CancelOptions {
  /**
   * Also stop the task if it is already running (not Python's default). The
   * task's `currentTask().signal` aborts; a task that ignores it is killed
   * after the executor's grace period. The future ends cancelled at once.
   * Default `false`: a running future is left alone and `cancel()` returns
   * `false`, as in Python.
   */
  running?: boolean | undefined;
}

/** What a task wrote, as kept with `stdio: 'capture'` (`future.output`). */
export interface TaskOutput {
  /** What the task wrote to stdout (the first 1 MiB). */
  stdout: string;
  /** What the task wrote to stderr (the first 1 MiB). */
  stderr: string;
  /** `true` if it wrote more than that on either stream; the rest was dropped. */
  truncated: boolean;
}

/**
 * What an executor binds to a future (`_bindCancel`) when it can stop the
 * future's task: the future calls it on cancellation and knows nothing
 * else of the executor. Not part of the public API (index.ts does not
 * export it), but not marked internal: `stripInternal` would drop it from
 * future.d.ts while other declarations still name it, and a consumer
 * compiling with `skipLibCheck: false` would get TS2305.
 */
export interface CancelBinding {
  /**
   * `cancel({ running: true })` on the running future: stop the task.
   * Returns `true` if it will be stopped (the future is then cancelled).
   */
  cancelRunning(cause: unknown): boolean;
  /**
   * The pending future was cancelled (its task may already sit in a
   * worker's line). Called once the future is cancelled and its callbacks ran.
   */
  cancelledWhilePending(cause: unknown): void;
}

/**
 * Calls a done callback; one that throws is reported with
 * `process.emitWarning` (`FutureCallbackWarning`, code `ERR_FUTURE_CALLBACK`).
 */
export function invokeCallback<T>(future: Future<T>, fn: DoneCallback<T>): void {
  try {
    fn(future);
  } catch (error) {
    const warning = new Error(`exception calling callback for ${future}: ${describeError(error)}`, {
      cause: error,
    });
    warning.name = 'FutureCallbackWarning';
    (warning as Error & { code: string }).code = 'ERR_FUTURE_CALLBACK';
    process.emitWarning(warning);
  }
}

/**
 * abort-controller-x is loaded on the first wait with a timeout or a signal,
 * not with the package: it is most of the package's import time (about
 * 25 ms) and resident memory (about 9 MiB), which every process that
 * imports the package, and every worker it forks, would otherwise pay.
 */
let abortTools: Promise<typeof import('abort-controller-x')> | undefined;

/**
 * A wait limited by a timeout and/or a signal. It listens on the future's
 * waiter list, not on its promise: a reaction added to a promise stays until
 * that promise settles, so a caller polling `result({ timeout })` on one
 * pending future would pile up one reaction (with its closures) per timed-out
 * wait. A waiter, a timer and an abort listener are all removed however the
 * wait ends, so a timed-out wait leaves nothing behind.
 */
export async function waitLimited<T>(
  future: Future<T>,
  timeout: number | undefined,
  signal: AbortSignal | undefined,
): Promise<T> {
  abortTools ??= import('abort-controller-x');
  const { execute, isAbortError } = await abortTools;
  return execute<T>(signal ?? new AbortController().signal, (resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onDone = (): void => {
      clearTimeout(timer);
      // Settled by now: passes on the value or the error (or CancelledError).
      future.result().then(resolve, reject);
    };
    if (timeout !== undefined) {
      timer = setTimeout(() => {
        future._removeWaiter(onDone);
        reject(new TimeoutError(`${future} did not complete within ${timeout} ms`));
      }, timeout);
    }
    if (future.done()) onDone();
    else future._addWaiter(onDone);
    return () => {
      clearTimeout(timer);
      future._removeWaiter(onDone);
    };
  }).then(undefined, (error: unknown) => {
    // abort-controller-x substitutes an AbortError for a null/undefined
    // reason; the contract is to reject with exactly the signal's reason.
    if (signal?.aborted && signal.reason == null && isAbortError(error)) throw signal.reason;
    throw error;
  });
}
