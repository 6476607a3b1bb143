/**
 * Option validation shared by futures, wait functions and executors.
 *
 * Bad input gets a clear error at once: a value of the wrong type is an
 * `ArgumentTypeError` (a `TypeError`), a value out of range an
 * `ArgumentRangeError` (a `RangeError`); both name the option, say what was
 * expected and what was given.
 */
import { describe } from './describe.js';
import { ArgumentRangeError, ArgumentTypeError } from './errors.js';

/** The longest description of a given value in an option's error message. */
const GIVEN_LENGTH = 60;

/** Renders a given value for an error message: `` `0` (number) ``. Never throws. */
export function describeValue(value: unknown): string {
  const type = value === null ? 'null' : typeof value;
  return `\`${describe(value, GIVEN_LENGTH)}\` (${type})`;
}

function typeError(name: string, expected: string, value: unknown): ArgumentTypeError {
  return new ArgumentTypeError(
    `Expected \`${name}\` to be ${expected}, got ${describeValue(value)}`,
  );
}

function rangeError(name: string, expected: string, value: unknown): ArgumentRangeError {
  return new ArgumentRangeError(
    `Expected \`${name}\` to be ${expected}, got ${describeValue(value)}`,
  );
}

/**
 * Validates a time in milliseconds: `undefined` means "no limit", otherwise a
 * number >= 0 (`Infinity` allowed, also meaning no limit). Returns the value
 * with `Infinity` mapped to `undefined`.
 */
export function validateTimeout(name: string, value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number') throw typeError(name, 'a number of milliseconds >= 0', value);
  if (Number.isNaN(value) || value < 0) {
    throw rangeError(name, 'a number of milliseconds >= 0', value);
  }
  return value === Number.POSITIVE_INFINITY ? undefined : value;
}

/** Validates an integer option within `[min, max]`; `undefined` returns `fallback`. */
export function validateInteger(
  name: string,
  value: unknown,
  min: number,
  fallback: number,
  max: number = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  const expected =
    max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
  if (typeof value !== 'number') throw typeError(name, expected, value);
  if (!Number.isInteger(value) || value < min || value > max) {
    // Infinity is accepted as "unbounded" where the caller allows it via max.
    if (!(value === Number.POSITIVE_INFINITY && max === Number.POSITIVE_INFINITY)) {
      throw rangeError(name, expected, value);
    }
  }
  return value;
}

/** Validates that `value` is one of `choices`. */
export function validateOneOf<T extends string>(
  name: string,
  value: unknown,
  choices: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string') {
    throw typeError(name, `one of ${choices.map((c) => `'${c}'`).join(', ')}`, value);
  }
  if (!(choices as readonly string[]).includes(value)) {
    throw rangeError(name, `one of ${choices.map((c) => `'${c}'`).join(', ')}`, value);
  }
  return value as T;
}

/** Validates an optional AbortSignal. */
export function validateSignal(name: string, value: unknown): AbortSignal | undefined {
  if (value === undefined || value === null) return undefined;
  if (!(value instanceof AbortSignal)) throw typeError(name, 'an AbortSignal', value);
  return value;
}

/** Validates an optional boolean. */
export function validateBoolean(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw typeError(name, 'a boolean', value);
  return value;
}

/** Validates that `value` is a plain options object (or undefined). */
export function validateOptions(name: string, value: unknown): void {
  if (value === undefined || value === null) return;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw typeError(name, 'an options object', value);
  }
}

/** Validates that a value is a function. */
export function validateFunction(name: string, value: unknown): void {
  if (typeof value !== 'function') throw typeError(name, 'a function', value);
}

export { rangeError, typeError };
