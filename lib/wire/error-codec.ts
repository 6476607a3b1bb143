/**
 * Errors across the worker boundary.
 *
 * Structured clone keeps only a few built-in error types and drops own
 * properties, `cause` and the class of anything else. So the worker encodes
 * what it threw into plain data, and the parent rebuilds an error of the
 * same class (built-ins such as TypeError or AggregateError, and this
 * package's own, such as CancelAll) with its name, message, `code`, own
 * enumerable properties, `cause` chain, `errors` and the worker-side stack.
 * Values that are not errors (`throw 0`, `throw 'x'`, `throw null`) travel
 * as they are. Each decode builds a new instance, so every future gets its
 * own error.
 *
 * Both directions are total: whatever task code throws (a Proxy whose traps
 * throw, getters that throw, a `name` that is not a string or that names an
 * `Object.prototype` member, cycles), `encodeError` returns data that can be
 * sent, and whatever arrives, `decodeError` returns an Error or the thrown
 * value. Neither ever throws:
 *
 * - every read of the thrown value goes through `read`/`isInstance`, which
 *   catch; what cannot be read is described in its place;
 * - what is kept of the value is copied with `structuredClone` at once, so
 *   the message cannot fail later when it is sent (a getter that throws only
 *   on its second call);
 * - a class is looked up only among own keys of a null-prototype table, and
 *   only this package's classes whose `code` matches are rebuilt as such:
 *   an unrelated error named `CancelAll` stays a plain Error (it must not
 *   cancel the executor), while a CancelAll from another copy of this
 *   package (same `code`) is recognised.
 */
import { describe, describeError, isInstance, read } from '../describe.js';
import { errorClasses } from '../errors.js';

/** A thrown value, encoded for transport. */
export type EncodedError = EncodedErrorObject | EncodedThrownValue;

export interface EncodedErrorObject {
  e: 1;
  name: string;
  message: string;
  stack: string | undefined;
  /** The error's `code`, own or inherited (Node's and this package's errors keep it on the prototype): the brand of this package's classes. */
  code?: string | number;
  props: Record<string, unknown> | undefined;
  cause?: EncodedError;
  hasCause: boolean;
  errors?: EncodedError[];
}

export interface EncodedThrownValue {
  e: 0;
  value: unknown;
}

/** How deep `cause` and `errors` are followed when encoding. */
const MAX_DEPTH = 8;
/**
 * How deep decoding follows them: looser than MAX_DEPTH, so that it never
 * cuts what an encoder of this package sent (a cut chain becomes a value at
 * MAX_DEPTH + 1); it only bounds data of another origin.
 */
const MAX_DECODE_DEPTH = MAX_DEPTH * 2;
/** At most this many own properties and `errors` entries are kept. */
const MAX_ENTRIES = 100;
const RESERVED = new Set(['name', 'message', 'stack', 'cause', 'errors']);

/** What is sent when nothing at all could be read from the thrown value. */
function unreadable(): EncodedThrownValue {
  return { e: 0, value: '[a thrown value that cannot be read]' };
}

const builtins: Record<string, new (message?: string) => Error> = Object.assign(
  Object.create(null) as Record<string, new (message?: string) => Error>,
  {
    Error,
    TypeError,
    RangeError,
    SyntaxError,
    ReferenceError,
    EvalError,
    URIError,
    AggregateError: AggregateError as unknown as new (message?: string) => Error,
  },
);

/** A structured-clone copy of `value`, or `undefined` if it cannot be cloned. */
function cloned(value: unknown): { value: unknown } | undefined {
  if (typeof value === 'symbol' || typeof value === 'function') return undefined;
  if (value === null || typeof value !== 'object') return { value };
  try {
    return { value: structuredClone(value) };
  } catch {
    return undefined;
  }
}

/** A copy of `value` that can be sent, or a description of it. */
function sendable(value: unknown): unknown {
  const copy = cloned(value);
  if (copy !== undefined) return copy.value;
  return typeof value === 'function'
    ? `[function ${functionName(value)}]`
    : `[uncloneable: ${describe(value)}]`;
}

function functionName(fn: Function): string {
  const name = read(fn, 'name');
  return name.ok && typeof name.value === 'string' && name.value !== '' ? name.value : 'anonymous';
}

/** Encodes any thrown value for transport. Never throws. */
export function encodeError(thrown: unknown): EncodedError {
  try {
    return encodeAt(thrown, 0, new Set());
  } catch {
    // Only a stack overflow or an out-of-memory can get here: every read is guarded.
    return unreadable();
  }
}

function encodeAt(value: unknown, depth: number, seen: Set<unknown>): EncodedError {
  if (!isInstance(value, Error)) {
    const thrown = value;
    const copy = cloned(thrown);
    return {
      e: 0,
      value: copy !== undefined ? copy.value : `[uncloneable thrown value: ${describe(thrown)}]`,
    };
  }
  const thrown = value as Error;
  if (depth > MAX_DEPTH || seen.has(thrown)) {
    return { e: 0, value: `[cause cycle or chain too deep: ${describeError(thrown)}]` };
  }
  seen.add(thrown);
  const encoded: EncodedErrorObject = {
    e: 1,
    name: textField(thrown, 'name', 'Error'),
    message: textField(thrown, 'message', ''),
    stack: undefined,
    props: undefined,
    hasCause: false,
  };
  const stack = read(thrown, 'stack');
  if (stack.ok && typeof stack.value === 'string') encoded.stack = stack.value;
  let keys: string[] = [];
  try {
    keys = Object.keys(thrown);
  } catch (error) {
    encoded.props = { '[own properties]': `[unreadable: ${describeError(error)}]` };
  }
  for (const key of keys.slice(0, MAX_ENTRIES)) {
    if (RESERVED.has(key)) continue;
    const value = read(thrown, key);
    encoded.props ??= {};
    // Defined, not assigned: a key such as `__proto__` stays an own property.
    Object.defineProperty(encoded.props, key, {
      value: value.ok ? sendable(value.value) : `[unreadable: ${describeError(value.error)}]`,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  }
  // Own or inherited: this package's errors (and Node's) keep it on the prototype.
  const code = read(thrown, 'code');
  if (code.ok && (typeof code.value === 'string' || typeof code.value === 'number')) {
    encoded.code = code.value;
  }
  try {
    encoded.hasCause = 'cause' in thrown;
  } catch {
    encoded.hasCause = false;
  }
  if (encoded.hasCause) {
    const cause = read(thrown, 'cause');
    encoded.cause = cause.ok
      ? encodeAt(cause.value, depth + 1, seen)
      : { e: 0, value: `[unreadable cause: ${describeError(cause.error)}]` };
  }
  if (isInstance(thrown, AggregateError)) {
    const errors = read(thrown, 'errors');
    let list: unknown[] | undefined;
    try {
      list =
        errors.ok && Array.isArray(errors.value) ? errors.value.slice(0, MAX_ENTRIES) : undefined;
    } catch {
      list = undefined;
    }
    if (list !== undefined) encoded.errors = list.map((error) => encodeAt(error, depth + 1, seen));
  }
  seen.delete(thrown);
  return encoded;
}

/** A string field of an error: a string as is, anything else described, a throwing getter noted. */
function textField(error: Error, key: 'name' | 'message', absent: string): string {
  const field = read(error, key);
  if (!field.ok) {
    return key === 'name' ? absent : `[unreadable message: ${describeError(field.error)}]`;
  }
  if (typeof field.value === 'string') return field.value;
  if (field.value === undefined) return absent;
  return describe(field.value);
}

/** Rebuilds a thrown value in the parent. Never throws, whatever arrives. */
export function decodeError(encoded: unknown): unknown {
  try {
    return decodeAt(encoded, 0);
  } catch (error) {
    return new Error(`An error from a worker could not be rebuilt: ${describeError(error)}`);
  }
}

function decodeAt(encoded: unknown, depth: number): unknown {
  if (encoded === null || typeof encoded !== 'object') return encoded;
  const wire = encoded as Omit<Partial<EncodedErrorObject>, 'e'> & { e?: unknown; value?: unknown };
  if (wire.e === 0) return wire.value;
  if (wire.e !== 1) return encoded;
  const name = typeof wire.name === 'string' ? wire.name : 'Error';
  const message = typeof wire.message === 'string' ? wire.message : '';
  const code =
    typeof wire.code === 'string' || typeof wire.code === 'number' ? wire.code : undefined;
  const ctor = classFor(name, code);
  // A real error object (with the engine's internal error slot) of the right
  // class, without running the class's constructor.
  const error = Reflect.construct(Error, [message], ctor) as Error;
  if (error.name !== name) define(error, 'name', name);
  if (typeof wire.stack === 'string') define(error, 'stack', wire.stack);
  if (code !== undefined && (error as { code?: unknown }).code !== code)
    define(error, 'code', code);
  const props = wire.props;
  if (props !== null && typeof props === 'object') {
    for (const key of Object.keys(props)) {
      // Own data properties, as they were: also for keys such as `__proto__`.
      Object.defineProperty(error, key, {
        value: (props as Record<string, unknown>)[key],
        writable: true,
        enumerable: true,
        configurable: true,
      });
    }
  }
  if (wire.hasCause === true && depth < MAX_DECODE_DEPTH) {
    define(error, 'cause', decodeAt(wire.cause, depth + 1));
  }
  if (Array.isArray(wire.errors) && depth < MAX_DECODE_DEPTH) {
    define(
      error,
      'errors',
      wire.errors.map((item: unknown) => decodeAt(item, depth + 1)),
    );
  }
  return error;
}

/** This package's classes by their `code`, the brand they carry. */
const classesByCode: Record<string, new (...args: any[]) => Error> = Object.create(null);
for (const ctor of Object.values(errorClasses)) {
  const code = (ctor.prototype as { code?: unknown }).code;
  if (typeof code === 'string') classesByCode[code] = ctor;
}

/**
 * The class to rebuild an error as: one of this package's classes when the
 * error carries its `code` (whichever copy of the package threw it, and
 * whatever its `name`), else a built-in error class of that `name`, else
 * Error. Only own entries of the tables count: a `name` such as `toString`
 * or `constructor` is just a name.
 */
function classFor(name: string, code: string | number | undefined): new (...args: any[]) => Error {
  if (typeof code === 'string' && Object.hasOwn(classesByCode, code)) return classesByCode[code]!;
  return Object.hasOwn(builtins, name) ? builtins[name]! : Error;
}

/** `true` for an encoded CancelAll: what the parent rebuilds as one and cancels the executor for. */
export function isEncodedCancelAll(encoded: EncodedError | undefined): boolean {
  return encoded?.e === 1 && encoded.code === 'ERR_CANCEL_ALL';
}

function define(error: Error, key: string, value: unknown): void {
  Object.defineProperty(error, key, { value, writable: true, configurable: true });
}
