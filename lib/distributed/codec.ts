/**
 * Values and errors in job data and return values.
 *
 * Values are written with V8's serializer (what `structuredClone` and the
 * process pool's IPC use: Map, Set, Date, BigInt, typed arrays, Buffers,
 * cycles) and base64-encoded, because BullMQ stores job data and return
 * values as JSON. Measured against the alternatives (docs/distributed.md,
 * "What crosses machines"): base64 is the cheapest way to put bytes into
 * JSON, and V8's format is the only fast one with structured-clone fidelity.
 *
 * Errors go through the package's error codec first (class name, message,
 * own properties, cause, stack), then the same way. The executor rebuilds
 * them and records where they came from: `error.remote` is
 * `{ node, host, pid }`, and the stack ends with a line naming the node.
 */
import { deserialize, serialize } from 'node:v8';
import { distributedErrorClasses, ValueTooLargeError } from './errors.js';
import { decodeError, type EncodedError, encodeError } from './internal.js';

/** Where a remote error was raised. */
export interface RemoteErrorInfo {
  /** The worker node's id. */
  node: string;
  /** Host name of the machine. */
  host: string;
  /** Process id of the process that raised it (the task's worker process, or the node). */
  pid: number;
}

/** V8-serializes `value` and base64-encodes it; throws ValueTooLargeError past `limit` bytes. */
export function encodeValue(value: unknown, limit: number, what: string): string {
  const bytes = serialize(value);
  if (bytes.length > limit) throw tooLarge(what, bytes.length, limit);
  return bytes.toString('base64');
}

/** The inverse of `encodeValue`. */
export function decodeValue(text: string): unknown {
  return deserialize(Buffer.from(text, 'base64'));
}

/** A ValueTooLargeError saying what was too large and by how much. */
export function tooLarge(what: string, size: number, limit: number): ValueTooLargeError {
  return new ValueTooLargeError(
    `The ${what} is ${formatBytes(size)} serialized, over the limit of ${formatBytes(limit)} (maxValueSize); ` +
      'pass large data by reference (a path or a key in shared storage) instead',
    { size, limit },
  );
}

/**
 * Encodes a thrown value. Never throws: a value the serializer refuses
 * still becomes an error describing it, and an encoded error over `limit`
 * becomes a ValueTooLargeError (which is small).
 */
export function encodeThrown(thrown: unknown, limit: number): string {
  const encoded = encodeError(thrown);
  try {
    return encodeValue(encoded, limit, 'error thrown by the task');
  } catch (error) {
    return serialize(encodeError(error)).toString('base64');
  }
}

/** Rebuilds a thrown value sent by `encodeThrown`, with where it came from. */
export function decodeThrown(text: string, remote: RemoteErrorInfo | undefined): unknown {
  const error = decodeError(decodeValue(text) as EncodedError);
  restoreClasses(error, 0);
  if (remote !== undefined && error instanceof Error) markRemote(error, remote);
  return error;
}

/** Records on a rebuilt error where it was raised: `error.remote`, and a last stack line. */
export function markRemote(error: Error, remote: RemoteErrorInfo): void {
  Object.defineProperty(error, 'remote', {
    value: Object.freeze({ ...remote }),
    writable: true,
    configurable: true,
    enumerable: false,
  });
  if (typeof error.stack === 'string') {
    Object.defineProperty(error, 'stack', {
      value: `${error.stack}\n    at <worker node ${remote.node} on ${remote.host}, pid ${remote.pid}>`,
      writable: true,
      configurable: true,
    });
  }
}

/** The error codec knows the package's classes; this adds the distributed ones (also in causes). */
function restoreClasses(error: unknown, depth: number): void {
  if (!(error instanceof Error) || depth > 8) return;
  const ctor = distributedErrorClasses[error.name];
  if (ctor !== undefined && !(error instanceof (ctor as unknown as typeof Error))) {
    Object.setPrototypeOf(error, ctor.prototype);
  }
  if ('cause' in error) restoreClasses(error.cause, depth + 1);
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} bytes`;
}
