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
import { validateBoolean, validateOneOf, validateOptions, validateTimeout } from './validate.js';

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

/**
 * What `wait` resolves with: the futures that are done and those that are
 * not. `F` is the type of the futures passed in, kept as it is: waiting on
 * a `Future<number>` and a `Future<string>` gives sets of
 * `Future<number> | Future<string>`.
 */
export interface DoneAndNotDone<F extends Future<unknown> = Future<unknown>> {
  /** The futures that were done (finished or cancelled) when `wait` resolved. */
  done: Set<F>;
  /** The others. */
  notDone: Set<F>;
}

/** Options of `asCompleted`. */
export interface AsCompletedOptions {
  /**
   * Milliseconds from the call after which the iteration rejects with
   * `TimeoutError` if futures are still unfinished. Default: no limit.
   */
  timeout?: number | undefined;
  /**
   * Yield `[index, future]` pairs instead of futures, `index` being the
   * future's (first) position in the input. In TypeScript the future keeps
   * its `Future` type there. Default `false`.
   */
  entries?: boolean | undefined;
}

function iterable<F extends Future<unknown>>(futures: Iterable<F>): Iterable<F> {
  if (futures === null || typeof futures !== 'object' || !(Symbol.iterator in futures)) {
    throw new ArgumentTypeError(
      `Expected \`futures\` to be an iterable of futures, got ${futures === null ? 'null' : typeof futures}`,
    );
  }
  return futures;
}

function isFailure(future: Future<unknown>): boolean {
  return future.done() && !future.cancelled() && future._failed();
}

/**
 * Waits for futures to complete. Resolves with `{ done, notDone }`; a
 * `timeout` resolves with what is done so far (it never rejects for time).
 * Duplicates count once. Futures of different result types can be mixed;
 * the sets keep each future's type.
 *
 * @example
 * ```ts
 * const { done, notDone } = await wait(futures, { returnWhen: FIRST_COMPLETED });
 * ```
 */
export function wait<F extends Future<unknown>>(
  futures: Iterable<F>,
  options?: WaitOptions,
): Promise<DoneAndNotDone<F>> {
  try {
    validateOptions('options', options);
    const timeout = validateTimeout('timeout', options?.timeout);
    const returnWhen = validateOneOf('returnWhen', options?.returnWhen, RETURN_WHEN, ALL_COMPLETED);
    return waitValidated(new Set(iterable(futures)), timeout, returnWhen);
  } catch (error) {
    return Promise.reject(error);
  }
}

function waitValidated<F extends Future<unknown>>(
  all: Set<F>,
  timeout: number | undefined,
  returnWhen: ReturnWhen,
): Promise<DoneAndNotDone<F>> {
  const done = new Set<F>();
  const notDone = new Set<F>();
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
    // Typed for Future<unknown>, as _addWaiter calls it; every caller is one of `all`.
    const onDone = (completed: Future<unknown>): void => {
      const future = completed as F;
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
 * removes its listeners; the futures themselves are untouched. Futures of
 * different result types can be mixed.
 *
 * In TypeScript, the variable of `for await (const f of asCompleted(...))`
 * is typed as the future's *value*: TypeScript assumes async iteration
 * unwraps promise-like elements, as async generators do. At run time `f` is
 * the Future (`await f` is right either way). With `{ entries: true }` the
 * iteration yields `[index, future]` pairs instead, and there the future
 * keeps its type.
 *
 * @example
 * ```ts
 * for await (const future of asCompleted(futures)) console.log(await future);
 *
 * for await (const [i, future] of asCompleted(futures, { entries: true })) {
 *   const error = await future.exception(); // future: Future<T>
 *   console.log(`job ${i}:`, error ?? (await future));
 * }
 * ```
 */
export function asCompleted<F extends Future<unknown>>(
  futures: Iterable<F>,
  options: AsCompletedOptions & { entries: true },
): AsyncIterableIterator<[index: number, future: F]>;
export function asCompleted<F extends Future<unknown>>(
  futures: Iterable<F>,
  options?: AsCompletedOptions & { entries?: false | undefined },
): AsyncIterableIterator<F>;
export function asCompleted<F extends Future<unknown>>(
  futures: Iterable<F>,
  options?: AsCompletedOptions,
): AsyncIterableIterator<F> | AsyncIterableIterator<[index: number, future: F]>;
export function asCompleted<F extends Future<unknown>>(
  futures: Iterable<F>,
  options?: AsCompletedOptions,
): AsyncIterableIterator<F> | AsyncIterableIterator<[index: number, future: F]> {
  validateOptions('options', options);
  const timeout = validateTimeout('timeout', options?.timeout);
  const entries = validateBoolean('entries', options?.entries, false);
  return entries
    ? new CompletionIterator(positions(futures), timeout, (future, index): [number, F] => [
        index,
        future,
      ])
    : new CompletionIterator(positions(futures), timeout, (future) => future);
}

/** Each distinct future with its first position in the input, in one pass (it may be a generator). */
function positions<F extends Future<unknown>>(futures: Iterable<F>): Map<F, number> {
  const found = new Map<F, number>();
  let position = 0;
  for (const future of iterable(futures)) {
    if (!found.has(future)) found.set(future, position);
    position++;
  }
  return found;
}

/**
 * Set up at call time, not on first `next()`, so that the completion order
 * of futures finishing before the first pull is preserved and the timeout
 * counts from the call, as in Python.
 */
class CompletionIterator<F extends Future<unknown>, Y> implements AsyncIterableIterator<Y> {
  readonly #total: number;
  readonly #yielded: (future: F, index: number) => Y;
  /** Each unyielded future's input position; an entry goes once its future is yielded. */
  readonly #positions: Map<F, number>;
  readonly #ready: F[] = [];
  readonly #pending = new Set<F>();
  readonly #deadline: number | undefined;
  #wake: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #chain: Promise<void> = Promise.resolve();
  #closed = false;
  // Typed for Future<unknown>, as _addWaiter calls it; every caller is one of #pending.
  readonly #onDone = (completed: Future<unknown>): void => {
    const future = completed as F;
    if (!this.#pending.delete(future)) return;
    this.#ready.push(future);
    this.#wake?.();
  };

  constructor(
    all: Map<F, number>,
    timeout: number | undefined,
    yielded: (future: F, index: number) => Y,
  ) {
    this.#positions = all;
    this.#yielded = yielded;
    this.#total = all.size;
    this.#deadline = timeout === undefined ? undefined : performance.now() + timeout;
    for (const future of all.keys()) {
      if (future.done()) this.#ready.push(future);
      else this.#pending.add(future);
    }
    for (const future of this.#pending) future._addWaiter(this.#onDone);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Concurrent next() calls are served one after another, each with its own future. */
  next(): Promise<IteratorResult<Y, undefined>> {
    const step = this.#chain.then(() => this.#step());
    this.#chain = step.then(
      () => undefined,
      () => undefined,
    );
    return step;
  }

  async return(): Promise<IteratorResult<Y, undefined>> {
    this.#close();
    return { value: undefined, done: true };
  }

  async throw(error?: unknown): Promise<IteratorResult<Y, undefined>> {
    this.#close();
    throw error;
  }

  async #step(): Promise<IteratorResult<Y, undefined>> {
    while (!this.#closed) {
      const future = this.#ready.shift();
      if (future !== undefined) {
        const index = this.#positions.get(future)!;
        // Nothing keeps a yielded future alive once the caller drops it.
        this.#positions.delete(future);
        return { value: this.#yielded(future, index), done: false };
      }
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
    this.#positions.clear();
    // A next() sleeping right now ends as done instead of hanging.
    this.#wake?.();
  }
}
