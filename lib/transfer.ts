/**
 * `transfer(value, list)`: a result that moves its ArrayBuffers back from a
 * worker thread instead of copying them.
 *
 * The mark is a global symbol, so that the worker runtime recognises it
 * whichever copy of this package task code imported.
 */
import type { TransferListItem } from 'node:worker_threads';

const MARK = Symbol.for('concurrent-futures.transfer');

/** What `transfer()` returns; the worker unwraps it. */
export interface Transfer<T> {
  readonly [MARK]: true;
  readonly value: T;
  readonly list: readonly (TransferListItem | ArrayBufferLike)[];
}

/**
 * Returns `value` from a task so that the ArrayBuffers (or MessagePorts) in
 * `list` move to the parent instead of being copied (ThreadPoolExecutor;
 * a ProcessPoolExecutor copies them, as it must). The future resolves with
 * `value` itself. After the move the worker's buffers are detached: do not
 * keep using them in the task. Inline functions can use `transfer` without
 * importing it. Works for `submit` results; a `map` item's result is copied.
 *
 * @example
 * ```ts
 * export function render(width: number, height: number) {
 *   const pixels = new Uint8ClampedArray(width * height * 4);
 *   draw(pixels);
 *   return transfer(pixels, [pixels.buffer]);
 * }
 * ```
 */
export function transfer<T>(value: T, list: readonly (TransferListItem | ArrayBufferLike)[]): T {
  if (!Array.isArray(list)) {
    throw new TypeError(
      `Expected the transfer list to be an array of ArrayBuffers or MessagePorts, got ${typeof list}`,
    );
  }
  // Typed as T so that a task's declared result type stays what the parent receives.
  return { [MARK]: true, value, list } as unknown as T;
}

/**
 * The value and list of a `transfer()` result, or undefined for any other
 * value. Never throws: task code may return a Proxy or an object with
 * getters, which are read here. @internal
 */
export function unwrapTransfer(
  value: unknown,
): { value: unknown; list: readonly TransferListItem[] } | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  try {
    if ((value as Transfer<unknown>)[MARK] !== true) return undefined;
    const marked = value as Transfer<unknown>;
    const list = marked.list;
    // Made by transfer() (maybe another copy's): an array. Anything else is
    // sent as it is, and fails to clone if it must.
    if (!Array.isArray(list)) return undefined;
    return { value: marked.value, list: [...list] as TransferListItem[] };
  } catch {
    return undefined;
  }
}
