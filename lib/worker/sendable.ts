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
  if (isBinary(value) || !needsCopy(value)) return { ok: true, value };
  try {
    return { ok: true, value: copy(value) };
  } catch (error) {
    return refused(error, what);
  }
}

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
 * `true` when `root` holds an Error, a Proxy or a getter (on a non-array
 * object), or more than LOOK_BUDGET objects: values a copy makes safe.
 * Reads only data properties (array elements excepted), so it runs no task
 * code but an array index's getter. Never throws (a throw means: copy).
 */
function needsCopy(root: object): boolean {
  try {
    const stack: unknown[] = [root];
    const seen = new Set<unknown>();
    let budget = LOOK_BUDGET;
    const visit = (item: unknown): void => {
      if (item !== null && typeof item === 'object') stack.push(item);
    };
    while (stack.length > 0) {
      const value = stack.pop() as object;
      if (seen.has(value)) continue;
      seen.add(value);
      if (--budget < 0) return true;
      if (types.isProxy(value) || types.isNativeError(value) || value instanceof Error) return true;
      if (isBinary(value) || value instanceof Date || value instanceof RegExp) continue;
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
        if (descriptor === undefined || descriptor.get !== undefined) return true;
        visit(descriptor.value);
      }
    }
    return false;
  } catch {
    return true;
  }
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
