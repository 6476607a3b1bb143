/**
 * Errors across the worker boundary.
 *
 * Structured clone keeps only a few built-in error types and drops own
 * properties, `cause` and the class of anything else. So the worker encodes
 * what it threw into plain data, and the parent rebuilds an error of the
 * same class (built-ins such as TypeError or AggregateError, and this
 * package's own, such as CancelAll) with its name, message, own enumerable
 * properties, `cause` chain, `errors` and the worker-side stack. Values that
 * are not errors (`throw 0`, `throw 'x'`, `throw null`) travel as they are.
 * Each decode builds a new instance, so every future gets its own error.
 */
import { errorClasses } from '../errors.js';

/** A thrown value, encoded for transport. */
export type EncodedError = EncodedErrorObject | EncodedThrownValue;

export interface EncodedErrorObject {
  e: 1;
  name: string;
  message: string;
  stack: string | undefined;
  props: Record<string, unknown> | undefined;
  cause?: EncodedError;
  hasCause: boolean;
  errors?: EncodedError[];
}

export interface EncodedThrownValue {
  e: 0;
  value: unknown;
}

const MAX_DEPTH = 8;
const RESERVED = new Set(['name', 'message', 'stack', 'cause', 'errors']);

const builtins: Record<string, new (message?: string) => Error> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
  AggregateError: AggregateError as unknown as new (message?: string) => Error,
};

function cloneable(value: unknown): boolean {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) {
    return typeof value !== 'symbol';
  }
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

/** Encodes any thrown value for transport. Never throws. */
export function encodeError(thrown: unknown, depth = 0): EncodedError {
  if (!(thrown instanceof Error) || depth > MAX_DEPTH) {
    if (cloneable(thrown)) return { e: 0, value: thrown };
    return { e: 0, value: `[uncloneable thrown value: ${describe(thrown)}]` };
  }
  let props: Record<string, unknown> | undefined;
  for (const key of Object.keys(thrown)) {
    if (RESERVED.has(key)) continue;
    const value = (thrown as unknown as Record<string, unknown>)[key];
    props ??= {};
    props[key] = cloneable(value) ? value : describe(value);
  }
  const encoded: EncodedErrorObject = {
    e: 1,
    name: safeString(thrown.name, 'Error'),
    message: safeString(thrown.message, ''),
    stack: typeof thrown.stack === 'string' ? thrown.stack : undefined,
    props,
    hasCause: 'cause' in thrown,
  };
  if (encoded.hasCause) encoded.cause = encodeError(thrown.cause, depth + 1);
  if (thrown instanceof AggregateError && Array.isArray(thrown.errors)) {
    encoded.errors = thrown.errors.map((error: unknown) => encodeError(error, depth + 1));
  }
  return encoded;
}

/** Rebuilds a thrown value in the parent. */
export function decodeError(encoded: EncodedError): unknown {
  if (encoded.e === 0) return encoded.value;
  const ctor = errorClasses[encoded.name] ?? builtins[encoded.name] ?? Error;
  // A real error object (with the engine's internal error slot) of the right
  // class, without running the class's constructor.
  const error = Reflect.construct(Error, [encoded.message], ctor) as Error;
  if (error.name !== encoded.name) {
    Object.defineProperty(error, 'name', {
      value: encoded.name,
      writable: true,
      configurable: true,
    });
  }
  if (encoded.stack !== undefined) {
    Object.defineProperty(error, 'stack', {
      value: encoded.stack,
      writable: true,
      configurable: true,
    });
  }
  if (encoded.props !== undefined) Object.assign(error, encoded.props);
  if (encoded.hasCause && encoded.cause !== undefined) {
    Object.defineProperty(error, 'cause', {
      value: decodeError(encoded.cause),
      writable: true,
      configurable: true,
    });
  }
  if (encoded.errors !== undefined) {
    Object.defineProperty(error, 'errors', {
      value: encoded.errors.map(decodeError),
      writable: true,
      configurable: true,
    });
  }
  return error;
}

function safeString(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value : value === undefined ? fallback : String(value);
}

function describe(value: unknown): string {
  if (typeof value === 'function') return `[function ${value.name || 'anonymous'}]`;
  if (typeof value === 'symbol') return value.toString();
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
