/**
 * The errors only the distributed executor produces. Like the package's own
 * (lib/errors.ts), each has a stable `code`; a node that raises one sends it
 * by name and the executor rebuilds it as the same class (see codec.ts).
 */
import { FuturesError, type FuturesErrorOptions } from '../index.js';

function named(ctor: { prototype: Error }, name: string, code: string): void {
  Object.defineProperty(ctor.prototype, 'name', {
    value: name,
    writable: true,
    configurable: true,
  });
  Object.defineProperty(ctor.prototype, 'code', {
    value: code,
    writable: true,
    configurable: true,
  });
}

/**
 * A value to send through Redis (the arguments of a task, its result or its
 * error) is larger than `maxValueSize`. Only that task's future fails.
 */
export class ValueTooLargeError extends FuturesError {
  declare readonly code: 'ERR_VALUE_TOO_LARGE';
  /** Size of the serialized value, bytes. */
  readonly size: number;
  /** The limit it exceeded, bytes. */
  readonly limit: number;
  constructor(message?: string, options?: FuturesErrorOptions & { size?: number; limit?: number }) {
    super(message, options);
    this.size = options?.size ?? 0;
    this.limit = options?.limit ?? 0;
  }
}

/**
 * A job vanished from Redis while its task ran (Redis restarted without
 * persistence, or the queue was emptied or obliterated by someone else),
 * and no `retries` were left to run it again.
 */
export class JobLostError extends FuturesError {
  declare readonly code: 'ERR_JOB_LOST';
}

/**
 * A worker node received an inline function (source text) but was not
 * started with `allowInlineFunctions: true` (`--allow-inline-functions`).
 */
export class InlineFunctionRefusedError extends FuturesError {
  declare readonly code: 'ERR_INLINE_FUNCTION_REFUSED';
}

named(ValueTooLargeError, 'ValueTooLargeError', 'ERR_VALUE_TOO_LARGE');
named(JobLostError, 'JobLostError', 'ERR_JOB_LOST');
named(InlineFunctionRefusedError, 'InlineFunctionRefusedError', 'ERR_INLINE_FUNCTION_REFUSED');

/** The classes above, by name, for rebuilding errors that crossed from a node. */
export const distributedErrorClasses: Readonly<Record<string, { prototype: Error }>> = {
  ValueTooLargeError,
  JobLostError,
  InlineFunctionRefusedError,
};
