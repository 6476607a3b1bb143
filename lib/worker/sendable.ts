/**
 * Making a task's result (or progress value) safe to send to the parent.
 *
 * V8 serialises some values that it then cannot deserialise: an Error whose
 * `cause` leads back to the error itself (`e.cause = e`, `e.cause = [e]`).
 * The sender sees no error; the receiver does: a worker thread's message is
 * dropped (the future would wait forever), and a child process's parent
 * throws inside Node's IPC reader, an uncaught exception that ends the
 * user's program. Getters make it worse: the value read when sending may
 * differ from any value checked before.
 *
 * So a result that may hold such a value (it contains an Error, a Proxy or
 * a getter, or is too large to look through cheaply) is sent as a copy made
 * here, the way the channel copies: a copy both serialises and deserialises,
 * so a value it returns can be deserialised, and being plain data (no
 * getters, no Proxy) it serialises the same way again. What cannot be copied
 * fails its task with a TypeError, in the worker, before anything is sent.
 * Other values (primitives, binary data, plain data without errors: the
 * common case, which a copy would make slower) are sent as they are.
 */
import { types } from 'node:util';
import { deserialize, serialize } from 'node:v8';
import type { TransferListItem } from 'node:worker_threads';
import { messageOf } from '../describe.js';

/**
 * How a value is copied: like the channel that will carry it. A child
 * process's channel is V8's serializer with Node's additions (a Buffer stays
 * a Buffer); a thread's is `postMessage`'s structured clone.
 */
let copy: (value: unknown) => unknown = (value) => deserialize(serialize(value));
/** Only threads move buffers; a process's channel copies them anyway. */
let moves = false;

/** Called once by the runtime: worker threads copy as `postMessage` does. */
export function copyLikeThreads(): void {
  copy = (value) => structuredClone(value);
  moves = true;
}

export type Sendable = { ok: true; value: unknown } | { ok: false; error: TypeError };
export type SendableTransfer =
  | { ok: true; value: unknown; list: TransferListItem[] }
  | { ok: false; error: TypeError };

/** `value` as it can be sent, or the TypeError its task fails with. Never throws. */
export function sendable(value: unknown, what: 'result' | 'progress value' = 'result'): Sendable {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) {
    return typeof value === 'symbol' ? refused(value, what) : { ok: true, value };
  }
  if (isBinary(value) || lookThrough(value) !== 'copy') return { ok: true, value };
  try {
    return { ok: true, value: copy(value) };
  } catch (error) {
    return refused(error, what);
  }
}

/**
 * Threads: a result's ArrayBuffers of at least this many bytes are moved to
 * the parent as a private copy instead of being cloned on the parent's side.
 */
export const MOVE_AT_LEAST = 64 * 1024;

/**
 * A task's result, as `sendable` makes it, except that in a worker thread
 * large binary data in it (MOVE_AT_LEAST) is moved, not copied by the
 * parent: the result is first copied here (structured clone, on this
 * thread), and the large buffers of that private copy are transferred.
 *
 * Why: a cloned result is allocated by the parent's main thread (fresh
 * memory faulted in there, the pool's scarce resource); a transferred one
 * was allocated by the worker, in parallel. Nothing the task holds is
 * detached (it may keep its buffers, a Buffer may sit in Node's shared
 * pool slab): only the copy moves. The parent receives what a clone would
 * give it: the same values, views sharing a buffer still share one.
 */
export function sendableResult(value: unknown): Sendable | SendableTransfer {
  if (!moves || value === null || typeof value !== 'object') return sendable(value);
  const look = lookThrough(value);
  if (look === 'plain') return { ok: true, value };
  if (look === 'large') {
    // Plain data (no getters, no proxies, no errors): copy only the large
    // buffers, and the arrays and plain objects on the way to them.
    const moved = new Map<ArrayBuffer, ArrayBuffer>();
    try {
      const copied = withCopiedBuffers(value, moved, new Map(), 0);
      return { ok: true, value: copied, list: [...moved.values()] };
    } catch {
      return { ok: true, value };
    }
  }
  let copied: unknown;
  try {
    copied = copy(value);
  } catch (error) {
    return refused(error, 'result');
  }
  return { ok: true, value: copied, list: largeBuffers(copied) };
}

/** Nesting followed by withCopiedBuffers; deeper containers are sent as they are. */
const MOVE_DEPTH = 16;

/**
 * `value` with every large buffer in it replaced by a copy (one per
 * buffer, in `moved`: views of one buffer keep sharing one), and every
 * array and plain object holding one rebuilt around it (`rebuilt` keeps
 * shared and cyclic containers as they were). Everything else is kept: the
 * channel clones it. Only for values `lookThrough` found plain.
 */
function withCopiedBuffers(
  value: unknown,
  moved: Map<ArrayBuffer, ArrayBuffer>,
  rebuilt: Map<object, unknown>,
  depth: number,
): unknown {
  if (value === null || typeof value !== 'object') return value;
  const done = rebuilt.get(value);
  if (done !== undefined) return done;
  if (isBinary(value)) {
    const buffer = movable(value);
    if (buffer === undefined) return value;
    let copy = moved.get(buffer);
    if (copy === undefined) {
      copy = buffer.slice(0);
      moved.set(buffer, copy);
    }
    const view = viewOn(value, copy);
    rebuilt.set(value, view);
    return view;
  }
  if (depth >= MOVE_DEPTH) return value;
  const array = Array.isArray(value);
  const proto = Object.getPrototypeOf(value);
  if (!array && proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = array
    ? new Array((value as unknown[]).length)
    : Object.create(proto);
  rebuilt.set(value, out);
  let changed = false;
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    const next = withCopiedBuffers(item, moved, rebuilt, depth + 1);
    if (next !== item) changed = true;
    out[key] = next;
  }
  if (changed) return out;
  rebuilt.set(value, value);
  return value;
}

/** A view like `view` (same type, offset, length) on `buffer`; an ArrayBuffer becomes `buffer`. */
function viewOn(view: object, buffer: ArrayBuffer): object {
  if (!ArrayBuffer.isView(view)) return buffer;
  if (types.isDataView(view)) return new DataView(buffer, view.byteOffset, view.byteLength);
  for (const Type of TYPED_ARRAYS) {
    if (view instanceof Type) {
      const bytes = (Type as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
      return new Type(buffer, view.byteOffset, view.byteLength / bytes);
    }
  }
  throw new TypeError('unknown view');
}

// A Buffer is a Uint8Array: it arrives as one, as a clone would send it.
const TYPED_ARRAYS = [
  Uint8Array,
  Int8Array,
  Uint8ClampedArray,
  Uint16Array,
  Int16Array,
  Uint32Array,
  Int32Array,
  Float32Array,
  Float64Array,
  BigUint64Array,
  BigInt64Array,
] as const;

/**
 * A `transfer()` result: `value` cloned with the buffers of `list` moved
 * into the clone (no copy), and the list as it is in the clone.
 */
export function sendableTransfer(
  value: unknown,
  list: readonly TransferListItem[],
): SendableTransfer {
  if (isBinary(value)) return { ok: true, value, list: moves ? [...list] : [] };
  if (!moves) {
    const safe = sendable(value);
    return safe.ok ? { ok: true, value: safe.value, list: [] } : safe;
  }
  try {
    const moved = structuredClone({ value, list }, { transfer: [...list] });
    return { ok: true, value: moved.value, list: [...moved.list] };
  } catch (error) {
    return refused(error, 'result');
  }
}

/** Objects looked at before a value counts as too large to look through (then it is copied). */
const LOOK_BUDGET = 1000;

/**
 * `copy` when `root` holds an Error, a Proxy or a getter (on a non-array
 * object), or more than LOOK_BUDGET objects: values a copy makes safe.
 * Otherwise, in a worker thread, `large` when it holds binary data worth
 * moving (isLarge); else `plain`. Reads only data properties (array
 * elements excepted), so it runs no task code but an array index's getter.
 * Never throws (a throw means: copy).
 */
function lookThrough(root: object): 'copy' | 'large' | 'plain' {
  try {
    const stack: unknown[] = [root];
    const seen = new Set<unknown>();
    let budget = LOOK_BUDGET;
    let large = false;
    const visit = (item: unknown): void => {
      if (item !== null && typeof item === 'object') stack.push(item);
    };
    while (stack.length > 0) {
      const value = stack.pop() as object;
      if (seen.has(value)) continue;
      seen.add(value);
      if (--budget < 0) return 'copy';
      if (types.isProxy(value) || types.isNativeError(value) || value instanceof Error) {
        return 'copy';
      }
      if (isBinary(value)) {
        if (moves && !large) large = isLarge(value);
        continue;
      }
      if (value instanceof Date || value instanceof RegExp) continue;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) visit(value[i]);
        continue;
      }
      if (value instanceof Map) {
        Map.prototype.forEach.call(value, (item: unknown, key: unknown) => {
          visit(key);
          visit(item);
        });
        continue;
      }
      if (value instanceof Set) {
        Set.prototype.forEach.call(value, visit);
        continue;
      }
      for (const key of Object.keys(value)) {
        const descriptor = Object.getOwnPropertyDescriptor(value, key);
        if (descriptor === undefined || descriptor.get !== undefined) return 'copy';
        visit(descriptor.value);
      }
    }
    return large ? 'large' : 'plain';
  } catch {
    return 'copy';
  }
}

/** The (non-shared) ArrayBuffer behind binary data, if it is worth moving. */
function movable(value: object): ArrayBuffer | undefined {
  const buffer = ArrayBuffer.isView(value) ? value.buffer : value;
  // A SharedArrayBuffer stays shared; it is never transferred.
  if (!(buffer instanceof ArrayBuffer)) return undefined;
  // A resizable one keeps its maximum in a clone, not in a copy: cloned.
  if ((buffer as { resizable?: boolean }).resizable === true) return undefined;
  return buffer.byteLength >= MOVE_AT_LEAST ? buffer : undefined;
}

function isLarge(value: object): boolean {
  return movable(value) !== undefined;
}

/**
 * The large ArrayBuffers of a private copy (made by `copy`: plain data,
 * no getters, no proxies), each once, within the look budget.
 */
function largeBuffers(root: unknown): TransferListItem[] {
  const found = new Set<ArrayBuffer>();
  const seen = new Set<unknown>();
  const stack: unknown[] = [root];
  let budget = LOOK_BUDGET;
  while (stack.length > 0 && --budget >= 0) {
    const value = stack.pop();
    if (value === null || typeof value !== 'object' || seen.has(value)) continue;
    seen.add(value);
    if (isBinary(value)) {
      const buffer = movable(value);
      if (buffer !== undefined) found.add(buffer);
    } else if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) stack.push(value[i]);
    } else if (value instanceof Map) {
      for (const [key, item] of value) stack.push(key, item);
    } else if (value instanceof Set) {
      for (const item of value) stack.push(item);
    } else {
      for (const key of Object.keys(value)) stack.push((value as Record<string, unknown>)[key]);
    }
  }
  return [...found];
}

function isBinary(value: unknown): boolean {
  try {
    return ArrayBuffer.isView(value) || value instanceof ArrayBuffer;
  } catch {
    return false;
  }
}

function refused(cause: unknown, what: string): { ok: false; error: TypeError } {
  return {
    ok: false,
    error: new TypeError(`The task's ${what} cannot be sent to the parent: ${messageOf(cause)}`, {
      cause,
    }),
  };
}
