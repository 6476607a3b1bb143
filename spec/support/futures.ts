/**
 * Test fixtures for the Future foundation, in the spirit of CPython's
 * `create_future(state, exception, result)` helper: each call builds a *fresh*
 * Future driven into the requested state through its public API, so tests never
 * share mutable fixtures.
 *
 * Also holds a few small, generic helpers shared by the Future / wait /
 * asCompleted specs (event-loop stepping, settle tracking, capture of
 * rejections, warnings and unhandled rejections).
 */
import { AssertionError } from 'chai';
import { Future } from '../../lib/index.js';

/** States a fixture can be built in (CPython: PENDING ... FINISHED). */
export type FixtureState =
  | 'pending'
  | 'running'
  | 'cancelled'
  | 'cancelled-and-notified'
  | 'finished';

export interface FixtureOptions<T> {
  /** Value for a `finished` future that succeeded. */
  result?: T;
  /**
   * Error for a `finished` future that failed. The *presence* of the key decides,
   * so `{ exception: undefined }` builds a future that failed with `undefined`.
   */
  exception?: unknown;
}

/**
 * Builds a Future in the given state:
 * - `pending`: freshly constructed;
 * - `running`: `setRunningOrNotifyCancel()` was called on a pending future;
 * - `cancelled`: `cancel()` was called, the executor has not noticed yet;
 * - `cancelled-and-notified`: cancelled, then `setRunningOrNotifyCancel()` was called;
 * - `finished`: `setException(options.exception)` when the key is present,
 *   otherwise `setResult(options.result)`.
 */
export function createFuture<T = unknown>(
  state: FixtureState = 'pending',
  options: FixtureOptions<T> = {},
): Future<T> {
  const future = new Future<T>();
  switch (state) {
    case 'pending':
      break;
    case 'running':
      future.setRunningOrNotifyCancel();
      break;
    case 'cancelled':
      future.cancel();
      break;
    case 'cancelled-and-notified':
      future.cancel();
      future.setRunningOrNotifyCancel();
      break;
    case 'finished':
      if ('exception' in options) {
        future.setException(options.exception);
      } else {
        future.setResult(options.result as T);
      }
      break;
  }
  return future;
}

/** The value successful fixtures hold by default. */
export const FIXTURE_RESULT = 42;

/** The error class failed fixtures use by default (CPython uses OSError). */
export class FixtureError extends Error {
  override name = 'FixtureError';
}

export const pendingFuture = <T = unknown>(): Future<T> => createFuture<T>('pending');
export const runningFuture = <T = unknown>(): Future<T> => createFuture<T>('running');
export const cancelledFuture = <T = unknown>(): Future<T> => createFuture<T>('cancelled');
export const cancelledAndNotifiedFuture = <T = unknown>(): Future<T> =>
  createFuture<T>('cancelled-and-notified');
/**
 * A future that failed with `error`, or with a fresh FixtureError when called
 * without an argument. An explicit `undefined` is honoured as the failure value.
 */
export function exceptionFuture<T = unknown>(...args: [error?: unknown]): Future<T> {
  const error = args.length === 0 ? new FixtureError('fixture failure') : args[0];
  return createFuture<T>('finished', { exception: error });
}
export const successfulFuture = <T = number>(result: T = FIXTURE_RESULT as T): Future<T> =>
  createFuture<T>('finished', { result });

/** The six canonical fixtures, labelled for generated test names. */
export type FixtureKind =
  | 'pending'
  | 'running'
  | 'cancelled'
  | 'cancelled-and-notified'
  | 'failed'
  | 'successful';

export const FIXTURE_KINDS: readonly FixtureKind[] = [
  'pending',
  'running',
  'cancelled',
  'cancelled-and-notified',
  'failed',
  'successful',
];

/** Builds one of the six canonical fixtures (failed ones get a fresh FixtureError). */
export function fixture(kind: FixtureKind): Future<unknown> {
  switch (kind) {
    case 'pending':
      return pendingFuture();
    case 'running':
      return runningFuture();
    case 'cancelled':
      return cancelledFuture();
    case 'cancelled-and-notified':
      return cancelledAndNotifiedFuture();
    case 'failed':
      return exceptionFuture();
    case 'successful':
      return successfulFuture();
  }
}

// ---------------------------------------------------------------------------
// Generic helpers
// ---------------------------------------------------------------------------

/** Resolves after `count` turns of the event loop (setImmediate), never on a timer. */
export async function macrotasks(count = 2): Promise<void> {
  for (let i = 0; i < count; i += 1) {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** Resolves after roughly `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface Tracked<T> {
  readonly settled: boolean;
  readonly fulfilled: boolean;
  readonly rejected: boolean;
  readonly value: T | undefined;
  readonly reason: unknown;
  /** The tracked promise with its rejection handled; resolves once settled. */
  readonly promise: Promise<void>;
}

/**
 * Observes a promise-like without leaving a rejection unhandled, so a test can
 * ask "has it settled yet?" at well-defined points of an event sequence.
 */
export function track<T>(thenable: PromiseLike<T>): Tracked<T> {
  const state = {
    settled: false,
    fulfilled: false,
    rejected: false,
    value: undefined as T | undefined,
    reason: undefined as unknown,
    promise: Promise.resolve(),
  };
  state.promise = new Promise<void>((resolve) => {
    thenable.then(
      (value) => {
        state.settled = true;
        state.fulfilled = true;
        state.value = value;
        resolve();
      },
      (reason: unknown) => {
        state.settled = true;
        state.rejected = true;
        state.reason = reason;
        resolve();
      },
    );
  });
  return state;
}

/** Awaits `thenable` and returns its rejection reason; fails if it fulfils. */
export async function rejectionOf(thenable: PromiseLike<unknown>): Promise<unknown> {
  let value: unknown;
  try {
    value = await thenable;
  } catch (reason) {
    return reason;
  }
  throw new AssertionError(`expected a rejection, but it fulfilled with ${String(value)}`);
}

/** Returns what `fn` throws synchronously; fails if it returns normally. */
export function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new AssertionError('expected the call to throw, but it returned normally');
}

/**
 * Returns the error produced by `fn`, whether it throws synchronously, returns
 * a rejecting promise, or returns an async iterator whose first `next()` rejects.
 * Fails if none of these happens.
 */
export async function failureOf(
  fn: () => PromiseLike<unknown> | AsyncIterator<unknown>,
): Promise<unknown> {
  let outcome: PromiseLike<unknown>;
  try {
    const returned = fn();
    outcome =
      typeof (returned as AsyncIterator<unknown>).next === 'function'
        ? (returned as AsyncIterator<unknown>).next()
        : (returned as PromiseLike<unknown>);
  } catch (error) {
    return error;
  }
  return rejectionOf(outcome);
}

/**
 * Records `unhandledRejection` events until `stop()` is called. Always call
 * `stop()` (in a `finally`).
 */
export function watchUnhandledRejections(): { readonly reasons: unknown[]; stop(): void } {
  const reasons: unknown[] = [];
  const listener = (reason: unknown): void => {
    reasons.push(reason);
  };
  process.on('unhandledRejection', listener);
  return {
    reasons,
    stop: () => {
      process.off('unhandledRejection', listener);
    },
  };
}

/**
 * Replaces `process.emitWarning` with a recorder (the warnings are not printed)
 * until `restore()` is called. Always call `restore()` (in a `finally`).
 */
export function captureWarnings(): { readonly warnings: unknown[]; restore(): void } {
  const warnings: unknown[] = [];
  const original = process.emitWarning;
  process.emitWarning = ((warning: unknown) => {
    warnings.push(warning);
  }) as typeof process.emitWarning;
  return {
    warnings,
    restore: () => {
      process.emitWarning = original;
    },
  };
}

/**
 * Number of ref'ed timers currently keeping the event loop alive. Take a
 * baseline only after the test's first `await`: mocha arms its own timeout
 * timer once the test function has returned its promise.
 */
export function activeTimerCount(): number {
  return process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
}
