/**
 * How errors and results become JSON for the output records.
 *
 * Used on both sides of the process boundary: in the CLI for single-item
 * tasks (whose errors arrive rebuilt by the library) and inside the workers
 * by the batch helper (`batch-task.ts`), which encodes each item's outcome
 * where it happened. One encoder for both is what makes a record look the
 * same whatever `--chunksize` was.
 */
import { describe, describeError, isInstance, messageOf, read } from '../describe.js';

/** An error as it appears in an output record. */
export interface ErrorRecord {
  /** The error's `name` (its class for built-in errors and this package's); for a thrown non-Error, its type. */
  class: string;
  message: string;
  /** The error's `code`, when it has one (own or inherited, e.g. `ERR_TASK_TIMEOUT`). */
  code?: string | number;
  /** The underlying error, encoded the same way. */
  cause?: ErrorRecord;
  /** A thrown non-Error value itself, when JSON can hold it. */
  value?: unknown;
  /** Own enumerable properties of the error (`exitCode`, `timeout`, `reason`, user fields). */
  [property: string]: unknown;
}

/** Properties handled explicitly, or too bulky for a record. */
const SKIPPED = new Set(['name', 'message', 'stack', 'cause', 'code', 'stderr']);

/** How deep a `cause` chain is followed; a cycle of causes cannot recurse past it. */
const MAX_CAUSE_DEPTH = 4;

/** A JSON-safe copy of `value`, or its description when JSON cannot hold it. */
function jsonSafe(value: unknown): unknown {
  if (value === undefined) return null;
  try {
    const text = JSON.stringify(value);
    return text === undefined ? describe(value) : (JSON.parse(text) as unknown);
  } catch {
    return describe(value);
  }
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** A string field of an error (`name`, `message`) as text, whatever it holds. */
function textOf(error: Error, key: 'name' | 'message', absent: string): string {
  const field = read(error, key);
  if (!field.ok) return `[unreadable: ${describeError(field.error)}]`;
  if (typeof field.value === 'string') return field.value;
  return field.value === undefined ? absent : describe(field.value);
}

/** Encodes any thrown value for an output record. Never throws. */
export function errorRecord(error: unknown, depth = 0): ErrorRecord {
  if (!isInstance(error, Error)) {
    const value = jsonSafe(error);
    let message: string;
    try {
      message =
        typeof error === 'string' ? error : String(JSON.stringify(error) ?? describe(error));
    } catch {
      message = describe(error);
    }
    return { class: typeName(error), message, value };
  }
  const record: ErrorRecord = {
    class: textOf(error, 'name', 'Error'),
    message: textOf(error, 'message', ''),
  };
  // `code` lives on the prototype for this package's errors, so read it
  // through the chain rather than among the own properties.
  const code = read(error, 'code');
  if (code.ok && (typeof code.value === 'string' || typeof code.value === 'number')) {
    record.code = code.value;
  }
  let keys: string[] = [];
  try {
    keys = Object.keys(error);
  } catch {
    // A Proxy whose ownKeys trap throws: no properties to report.
  }
  for (const key of keys) {
    if (SKIPPED.has(key)) continue;
    const value = read(error, key);
    Object.defineProperty(record, key, {
      value: value.ok ? jsonSafe(value.value) : `[unreadable: ${describeError(value.error)}]`,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  }
  const cause = read(error, 'cause');
  if (cause.ok && cause.value !== undefined && depth < MAX_CAUSE_DEPTH) {
    record.cause = errorRecord(cause.value, depth + 1);
  }
  return record;
}

/** A result that JSON cannot hold: the record says so instead of losing it silently. */
function unserializable(detail: string): TypeError {
  return new TypeError(`the result cannot be written as JSON: ${detail}`);
}

/**
 * The JSON text of a task's result. `undefined` becomes `null` (a function
 * that returns nothing still gets a record). Throws a TypeError for values
 * JSON cannot hold (BigInt, cycles, a function).
 */
export function resultJson(value: unknown): string {
  if (value === undefined) return 'null';
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw unserializable(messageOf(error));
  }
  if (text === undefined) throw unserializable(`got a ${typeof value}`);
  return text;
}
