/**
 * `wait` and `asCompleted`: waiting on many futures at once.
 *
 * Neither polls. Both register an internal waiter on each unfinished future
 * and wake when one completes; the waiters are removed when the wait ends,
 * so a long-lived future does not accumulate listeners from past waits.
 *
 * One deliberate difference from CPython: a future cancelled with `cancel()`
 * counts as done at once. CPython's waiters only learn of a cancellation when
 * the executor later calls `set_running_or_notify_cancel()`; here there is no
 * thread race to protect against, so waiting for the executor would only
 * delay the caller.
 */
import { ArgumentTypeError, TimeoutError } from './errors.js';
import type { Future } from './future.js';
import { validateOneOf, validateOptions, validateTimeout } from './validate.js';

/** `wait` returns as soon as any future finishes or is cancelled. */
export const FIRST_COMPLETED = 'FIRST_COMPLETED';
/** `wait` returns as soon as any future fails; if none fails, like `ALL_COMPLETED`. */
export const FIRST_EXCEPTION = 'FIRST_EXCEPTION';
/** `wait` returns when every future is finished or cancelled (the default). */
export const ALL_COMPLETED = 'ALL_COMPLETED';

/** When `wait` returns. */
export type ReturnWhen = typeof FIRST_COMPLETED | typeof FIRST_EXCEPTION | typeof ALL_COMPLETED;

const RETURN_WHEN: readonly ReturnWhen[] = [FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED];

/** Options of `wait`. */
export interface WaitOptions {
  /** Stop waiting after this many milliseconds and resolve with what is done so far. Default: no limit. */
  timeout?: number | undefined;
  /** When to return: `FIRST_COMPLETED`, `FIRST_EXCEPTION` or `ALL_COMPLETED` (default). */
  returnWhen?: ReturnWhen | undefined;
}

/** What `wait` resolves with: the futures that are done and those that are not. */
export interface DoneAndNotDone<T> {
  /** The futures that were done (finished or cancelled) when `wait` resolved. */
  done: Set<Future<T>>;
  /** The others. */
  notDone: Set<Future<T>>;
}

/** Options of `asCompleted`. */
export interface AsCompletedOptions {
  /**
   * Milliseconds from the call after which the iteration rejects with
   * `TimeoutError` if futures are still unfinished. Default: no limit.
   */
  timeout?: number | undefined;
}

function collect<T>(futures: Iterable<Future<T>>): Set<Future<T>> {
  if (futures === null || typeof futures !== 'object' || !(Symbol.iterator in futures)) {
    throw new ArgumentTypeError(
      `Expected \`futures\` to be an iterable of futures, got ${futures === null ? 'null' : typeof futures}`,
    );
  }
  return new Set(futures);
}

function isFailure<T>(future: Future<T>): boolean {
  return future.done() && !future.cancelled() && future._failed();
}

/**
 * Waits for futures to complete. Resolves with `{ done, notDone }`; a
 * `timeout` resolves with what is done so far (it never rejects for time).
 * Duplicates count once.
 *
 * @example
 * ```ts
 * const { done, notDone } = await wait(futures, { returnWhen: FIRST_COMPLETED });
 * ```
 */
export function wait<T>(
  futures: Iterable<Future<T>>,
  options?: WaitOptions,
): Promise<DoneAndNotDone<T>> {
  try {
    validateOptions('options', options);
    const timeout = validateTimeout('timeout', options?.timeout);
    const returnWhen = validateOneOf('returnWhen', options?.returnWhen, RETURN_WHEN, ALL_COMPLETED);
    const all = collect(futures);
    return waitValidated(all, timeout, returnWhen);
  } catch (error) {
    return Promise.reject(error);
  }
}

function waitValidated<T>(
  all: Set<Future<T>>,
  timeout: number | undefined,
  returnWhen: ReturnWhen,
): Promise<DoneAndNotDone<T>> {
  const done = new Set<Future<T>>();
  const notDone = new Set<Future<T>>();
  for (const future of all) (future.done() ? done : notDone).add(future);

  const satisfied = (): boolean => {
    if (notDone.size === 0) return true;
    if (returnWhen === FIRST_COMPLETED) return done.size > 0;
    if (returnWhen === FIRST_EXCEPTION) {
      for (const future of done) if (isFailure(future)) return true;
    }
    return false;
  };
  if (satisfied() || timeout === 0) return Promise.resolve({ done, notDone });

  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      clearTimeout(timer);
      for (const future of notDone) future._removeWaiter(onDone);
      resolve({ done, notDone });
    };
    const onDone = (future: Future<T>): void => {
      notDone.delete(future);
      done.add(future);
      if (
        notDone.size === 0 ||
        returnWhen === FIRST_COMPLETED ||
        (returnWhen === FIRST_EXCEPTION && isFailure(future))
      ) {
        finish();
      }
    };
    for (const future of notDone) future._addWaiter(onDone);
    if (timeout !== undefined) timer = setTimeout(finish, timeout);
  });
}

/**
 * Yields futures as they complete: those already done first (in input
 * order), then each as it finishes or is cancelled. A future passed twice is
 * yielded once. With `timeout`, the iteration rejects with `TimeoutError`
 * ("2 (of 4) futures unfinished") once that many milliseconds have passed
 * since the call with futures still unfinished. Leaving the loop early
 * removes its listeners; the futures themselves are untouched.
 *
 * @example
 * ```ts
 * for await (const future of asCompleted(futures)) console.log(await future);
 * ```
 */
export function asCompleted<T>(
  futures: Iterable<Future<T>>,
  options?: AsCompletedOptions,
): AsyncIterableIterator<Future<T>> {
  validateOptions('options', options);
  const timeout = validateTimeout('timeout', options?.timeout);
  return new AsCompletedIterator(collect(futures), timeout);
}

/**
 * Set up at call time, not on first `next()`, so that the completion order
 * of futures finishing before the first pull is preserved and the timeout
 * counts from the call, as in Python.
 */
class AsCompletedIterator<T> implements AsyncIterableIterator<Future<T>> {
  readonly #total: number;
  readonly #ready: Future<T>[] = [];
  readonly #pending = new Set<Future<T>>();
  readonly #deadline: number | undefined;
  #wake: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #chain: Promise<void> = Promise.resolve();
  #closed = false;
  readonly #onDone = (future: Future<T>): void => {
    if (!this.#pending.delete(future)) return;
    this.#ready.push(future);
    this.#wake?.();
  };

  constructor(all: Set<Future<T>>, timeout: number | undefined) {
    this.#total = all.size;
    this.#deadline = timeout === undefined ? undefined : performance.now() + timeout;
    for (const future of all) {
      if (future.done()) this.#ready.push(future);
      else this.#pending.add(future);
    }
    for (const future of this.#pending) future._addWaiter(this.#onDone);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Concurrent next() calls are served one after another, each with its own future. */
  next(): Promise<IteratorResult<Future<T>>> {
    const step = this.#chain.then(() => this.#step());
    this.#chain = step.then(
      () => undefined,
      () => undefined,
    );
    return step;
  }

  async return(): Promise<IteratorResult<Future<T>>> {
    this.#close();
    return { value: undefined, done: true };
  }

  async throw(error?: unknown): Promise<IteratorResult<Future<T>>> {
    this.#close();
    throw error;
  }

  async #step(): Promise<IteratorResult<Future<T>>> {
    while (!this.#closed) {
      const future = this.#ready.shift();
      if (future !== undefined) return { value: future, done: false };
      if (this.#pending.size === 0) break;
      await this.#sleep();
    }
    this.#close();
    return { value: undefined, done: true };
  }

  /** Resolves when a future completes or the iterator closes; rejects with TimeoutError at the deadline. */
  #sleep(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#wake = () => {
        this.#wake = undefined;
        clearTimeout(this.#timer);
        this.#timer = undefined;
        resolve();
      };
      if (this.#deadline !== undefined) {
        const left = this.#deadline - performance.now();
        const expire = (): void => {
          this.#wake = undefined;
          this.#timer = undefined;
          const unfinished = this.#pending.size;
          this.#close();
          reject(new TimeoutError(`${unfinished} (of ${this.#total}) futures unfinished`));
        };
        if (left <= 0) expire();
        else this.#timer = setTimeout(expire, left);
      }
    });
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const future of this.#pending) future._removeWaiter(this.#onDone);
    this.#pending.clear();
    this.#ready.length = 0;
    // A next() sleeping right now ends as done instead of hanging.
    this.#wake?.();
  }
}
