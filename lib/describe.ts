/**
 * Reading and describing values that come from user code: `read`,
 * `isInstance` and `isThenable` to look at them, `describe`,
 * `describeError` and `messageOf` to put them in messages (`TypeError:
 * boom`, `0`, `{ a: 1 }`).
 *
 * Anything a task, a callback or a signal hands over may be hostile: an
 * error whose `message` is an object, a `name` getter that throws, a Proxy
 * whose traps throw, a `Symbol.toPrimitive` that throws, an
 * `[inspect.custom]` that throws. These helpers are used wherever the
 * package writes such a value into a message, and they never throw: every
 * read is guarded, and the last resort is a constant.
 */
import { inspect } from 'node:util';

/** What a description says when nothing at all could be read. */
const UNREADABLE = '[a value that cannot be described]';

/** The longest description `describe` returns by default. */
const MAX_LENGTH = 80;

/**
 * Reads `target[key]`, or reports that the read threw. A Proxy trap or a
 * getter may throw anything; the caller decides what that means.
 */
export function read(
  target: unknown,
  key: PropertyKey,
): { ok: true; value: unknown } | { ok: false; error: unknown } {
  try {
    return { ok: true, value: (target as Record<PropertyKey, unknown>)[key] };
  } catch (error) {
    return { ok: false, error };
  }
}

/** `value instanceof ctor`, or `false` when asking throws (a Proxy's `getPrototypeOf` trap). */
export function isInstance<T>(
  value: unknown,
  ctor: abstract new (...args: any[]) => T,
): value is T {
  try {
    return value instanceof ctor;
  } catch {
    return false;
  }
}

/**
 * `true` when `value` has a `then` method: a promise, or anything `await`
 * would treat as one. Reading `then` runs user code when it is a getter,
 * and may throw: callers decide what a throw means (in a worker it is the
 * task's failure, as `await value` would make it).
 */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** A one-line description of any value, at most `maxLength` characters. Never throws. */
export function describe(value: unknown, maxLength = MAX_LENGTH): string {
  let text: string;
  try {
    text = inspect(value, { depth: 0, breakLength: Number.POSITIVE_INFINITY });
  } catch {
    // An `[inspect.custom]` or a `stack` getter threw: fall back on the type.
    text = `[${typeof value}]`;
  }
  return text.length > maxLength ? `${text.slice(0, maxLength - 3)}...` : text;
}

/**
 * A one-line description of a thrown value: `TypeError: boom` for an
 * error, `describe(value)` for anything else. Never throws, whatever the
 * error's `name` and `message` are (of any type, or getters that throw).
 */
export function describeError(error: unknown): string {
  return describeErrorAt(error, 0);
}

/**
 * How deep `describeError` follows an error thrown while reading an error
 * (a getter whose error has a throwing getter, and so on).
 */
const MAX_NESTING = 2;

function describeErrorAt(error: unknown, nesting: number): string {
  if (nesting > MAX_NESTING) return UNREADABLE;
  if (!isInstance(error, Error)) return describe(error);
  const name = textOf(read(error, 'name'), 'Error', nesting);
  const message = textOf(read(error, 'message'), '', nesting);
  // CancelAll's message already starts with its name ("CancelAll: found it").
  if (message === name || message.startsWith(`${name}: `)) return message;
  return `${name}: ${message}`;
}

/** A field of an error as text: a string as is, anything else described. */
function textOf(
  field: { ok: true; value: unknown } | { ok: false; error: unknown },
  absent: string,
  nesting: number,
): string {
  if (!field.ok) return `[unreadable: ${describeErrorAt(field.error, nesting + 1)}]`;
  if (typeof field.value === 'string') return field.value;
  if (field.value === undefined) return absent;
  return describe(field.value);
}

/**
 * The `message` of an error when it is a readable string, else the whole
 * description (`describeError`). Never throws.
 */
export function messageOf(error: unknown): string {
  if (isInstance(error, Error)) {
    const message = read(error, 'message');
    if (message.ok && typeof message.value === 'string') return message.value;
  }
  return describeError(error);
}
