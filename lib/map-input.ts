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

/**
 * Joins chunk results into one plain array. Plain arrays are joined with
 * the engine's bulk copy, not a loop per item; when some chunks are packed
 * numbers (Float64Array, wire/chunk-outcome.ts), the result is filled in
 * one pass instead, which is also the only time those numbers become heap
 * values.
 */
export function flatten<R>(chunks: ArrayLike<R>[]): R[] {
  let plain = true;
  let total = 0;
  for (const chunk of chunks) {
    if (!Array.isArray(chunk)) plain = false;
    total += chunk.length;
  }
  if (plain) {
    const arrays = chunks as R[][];
    if (arrays.length === 1) return arrays[0]!;
    let out: R[] = [];
    // concat takes its chunks as arguments: a bounded number per call.
    for (let i = 0; i < arrays.length; i += 4096) {
      out = out.concat(...arrays.slice(i, i + 4096));
    }
    return out;
  }
  // Preallocated while V8 still gives such an array fast elements (past
  // ~32M it would be a dictionary); beyond, grown by push.
  if (total > PREALLOCATE_AT_MOST) {
    const out: R[] = [];
    for (const chunk of chunks) for (let i = 0; i < chunk.length; i++) out.push(chunk[i]!);
    return out;
  }
  const out = new Array<R>(total);
  let at = 0;
  for (const chunk of chunks) for (let i = 0; i < chunk.length; i++) out[at++] = chunk[i]!;
  return out;
}

/** The longest result `flatten` preallocates. */
const PREALLOCATE_AT_MOST = 1 << 24;

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
