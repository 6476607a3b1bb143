/**
 * `map`'s input: any Iterable or AsyncIterable, read lazily; a plain array
 * is read by slices. Also the joining of the chunks' results.
 */
import { ArgumentTypeError } from './errors.js';
import type { Future } from './future.js';
import { describeValue } from './validate.js';

/** An input being read. */
export type Source<T> = Iterator<T> | AsyncIterator<T>;

/**
 * A plain array as a source: read in slices, which costs one copy per chunk
 * instead of an iterator step per item. Like the array's own iterator, it
 * reads `length` as it goes, so items appended meanwhile are seen.
 */
export class ArraySource<T> implements Iterator<T> {
  readonly #array: readonly T[];
  #position = 0;

  constructor(array: readonly T[]) {
    this.#array = array;
  }

  next(): IteratorResult<T> {
    if (this.#position >= this.#array.length) return { value: undefined, done: true };
    return { value: this.#array[this.#position++] as T, done: false };
  }

  /** The next `count` items (fewer at the end, none once exhausted). */
  take(count: number): T[] {
    const items = this.#array.slice(this.#position, this.#position + count);
    this.#position += items.length;
    return items;
  }

  return(): IteratorResult<T> {
    this.#position = Number.POSITIVE_INFINITY;
    return { value: undefined, done: true };
  }
}

/** Joins chunk results into one array with the engine's bulk copy, not a loop per item. */
export function flatten<R>(chunks: R[][]): R[] {
  if (chunks.length === 1) return chunks[0]!;
  let out: R[] = [];
  // concat takes its chunks as arguments: a bounded number per call.
  for (let i = 0; i < chunks.length; i += 4096) {
    out = out.concat(...chunks.slice(i, i + 4096));
  }
  return out;
}

/** Opens `iterable` for reading; throws ArgumentTypeError for anything else. */
export function openSource<T>(iterable: Iterable<T> | AsyncIterable<T>): Source<T> {
  if (Array.isArray(iterable) && iterable[Symbol.iterator] === Array.prototype[Symbol.iterator]) {
    return new ArraySource(iterable);
  }
  if (iterable !== null && (typeof iterable === 'object' || typeof iterable === 'function')) {
    if (Symbol.asyncIterator in iterable) return iterable[Symbol.asyncIterator]();
    if (Symbol.iterator in iterable) return iterable[Symbol.iterator]();
  } else if (typeof iterable === 'string') {
    return (iterable as Iterable<T>)[Symbol.iterator]();
  }
  throw new ArgumentTypeError(
    `Expected \`iterable\` to be an Iterable or AsyncIterable, got ${describeValue(iterable)}`,
  );
}

/** Resolves when the future is done, whatever its outcome. */
export function settled(future: Future<unknown>): Promise<void> {
  if (future.done()) return Promise.resolve();
  return new Promise((resolve) => future._addWaiter(() => resolve()));
}
