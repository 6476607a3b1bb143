/**
 * Runs one job inside a worker process of a node's ProcessPoolExecutor.
 *
 * The node submits `task(<this module>, 'runJob')` with the job's function
 * and its still-encoded arguments, so the node process itself only moves
 * strings: decoding the arguments and encoding the result happen here, in
 * parallel across the node's worker processes.
 *
 * A `CancelAll` thrown by task code is caught here and reported as a value:
 * the node's pool serves every executor on the queue, and must not cancel
 * the other executors' tasks. The executor that owns the task cancels its
 * siblings on every node instead.
 */
import { hostname } from 'node:os';
import { currentTask } from '../index.js';
import { decodeValue, encodeThrown, encodeValue } from './codec.js';
import {
  describeError,
  type FnRef,
  FunctionCache,
  isCancelAll,
  isThenable,
  withHint,
} from './internal.js';
import {
  ANSWER_THROWN,
  ANSWER_VALUE,
  type FnSpec,
  KIND_CHUNK,
  type RunnerResult,
  type WireChunkOutcome,
} from './protocol.js';

const functions = new FunctionCache();
const ids = new Map<string, number>();

type Resolved = Awaited<ReturnType<FunctionCache['resolve']>>;

/**
 * Runs the job's function over its arguments (or, for a chunk, over each
 * item). Synchronously when it can: once the function is loaded, a job
 * whose function returns a plain value returns its result without a
 * promise, so that the worker runs the jobs sent to it together back to
 * back and sends their results in one message (an async task makes the
 * worker report each result on its own, one IPC round trip per job).
 */
export function runJob(
  fn: FnSpec,
  args: string,
  kind: string,
  limit: number,
): RunnerResult | Promise<RunnerResult> {
  let resolved: Resolved | Promise<Resolved>;
  try {
    resolved = functions.resolve(reference(fn));
  } catch (error) {
    return failure(error, limit);
  }
  if (resolved instanceof Promise) {
    return resolved.then(
      (loaded) => run(loaded, args, kind, limit),
      (error: unknown) => failure(error, limit),
    );
  }
  return run(resolved, args, kind, limit);
}

function run(
  resolved: Resolved,
  args: string,
  kind: string,
  limit: number,
): RunnerResult | Promise<RunnerResult> {
  let input: unknown;
  try {
    input = decodeValue(args);
  } catch (error) {
    return failure(
      new TypeError('The job arguments could not be decoded', { cause: error }),
      limit,
    );
  }
  if (!Array.isArray(input)) {
    return failure(new TypeError('The job arguments are not an array'), limit);
  }
  if (kind === KIND_CHUNK) return runChunk(resolved, input, limit);
  let value: unknown;
  try {
    value = resolved.fn(...input);
    // Reading `then` runs task code too (a getter may throw): a throw here
    // is the task's failure, as `await value` would make it.
    if (!isThenable(value)) return result(value, limit);
  } catch (error) {
    return failure(withHint(error, resolved), limit);
  }
  // Not Promise.resolve(value): for a promise it reads `constructor`, which
  // may throw; a resolve function turns any throw of `then` into a rejection.
  return new Promise<unknown>((resolve) => resolve(value)).then(
    (settled) => result(settled, limit),
    (error: unknown) => failure(withHint(error, resolved), limit),
  );
}

function result(value: unknown, limit: number): RunnerResult {
  try {
    return { s: ANSWER_VALUE, d: encodeValue(value, limit, "task's result"), p: process.pid };
  } catch (error) {
    return failure(cannotSend('result', error), limit);
  }
}

/**
 * Calls `fn(item)` for each item until one throws or the task is
 * cancelled: synchronously while the values are plain, asynchronously from
 * the first promise on.
 */
function runChunk(
  resolved: Resolved,
  items: unknown[],
  limit: number,
): RunnerResult | Promise<RunnerResult> {
  const state: ChunkState = {
    outcome: { values: [], failed: false },
    stoppedAt: undefined,
    next: 0,
  };
  const { signal } = currentTask();
  for (; state.next < items.length; state.next++) {
    if (signal.aborted) return stopChunk(state, signal.reason, limit);
    let value: unknown;
    try {
      value = resolved.fn(items[state.next]);
      if (isThenable(value)) return finishChunk(resolved, items, state, value, signal, limit);
    } catch (error) {
      return stopChunk(state, withHint(error, resolved), limit);
    }
    state.outcome.values.push(value);
  }
  return chunkResult(state, limit);
}

interface ChunkState {
  outcome: WireChunkOutcome;
  /** Tracked apart from the thrown value: `throw undefined` is a failure too. */
  stoppedAt: unknown;
  next: number;
}

async function finishChunk(
  resolved: Resolved,
  items: unknown[],
  state: ChunkState,
  pending: PromiseLike<unknown>,
  signal: AbortSignal,
  limit: number,
): Promise<RunnerResult> {
  try {
    state.outcome.values.push(await pending);
  } catch (error) {
    return stopChunk(state, withHint(error, resolved), limit);
  }
  for (state.next++; state.next < items.length; state.next++) {
    if (signal.aborted) return stopChunk(state, signal.reason, limit);
    try {
      let value = resolved.fn(items[state.next]);
      if (isThenable(value)) value = await value;
      state.outcome.values.push(value);
    } catch (error) {
      return stopChunk(state, withHint(error, resolved), limit);
    }
  }
  return chunkResult(state, limit);
}

/** The chunk stops at a failure (a throw, or its cancellation): the items before it keep their values. */
function stopChunk(state: ChunkState, reason: unknown, limit: number): RunnerResult {
  state.outcome.failed = true;
  state.stoppedAt = reason;
  return chunkResult(state, limit);
}

function chunkResult(state: ChunkState, limit: number): RunnerResult {
  const { outcome, stoppedAt } = state;
  let encoded: string;
  try {
    if (outcome.failed) {
      // The error travels encoded inside the outcome (the executor decodes it).
      outcome.error = encodeThrown(stoppedAt, limit);
    }
    encoded = encodeValue(outcome, limit, "chunk's results");
  } catch (error) {
    return failure(cannotSend('results', error), limit);
  }
  const result: RunnerResult = { s: ANSWER_VALUE, d: encoded, p: process.pid };
  if (outcome.failed && isCancelAll(stoppedAt)) result.ca = 1;
  return result;
}

function reference(fn: FnSpec): FnRef {
  const key = 'src' in fn ? `src:${fn.src}` : `mod:${fn.m}#${fn.e}`;
  let id = ids.get(key);
  if (id === undefined) {
    id = ids.size + 1;
    ids.set(key, id);
  }
  return 'src' in fn ? { id, src: fn.src } : { id, url: fn.m, name: fn.e };
}

function failure(error: unknown, limit: number): RunnerResult {
  const result: RunnerResult = { s: ANSWER_THROWN, d: encodeThrown(error, limit), p: process.pid };
  if (isCancelAll(error)) result.ca = 1;
  return result;
}

function cannotSend(what: string, error: unknown): unknown {
  if (error instanceof Error && error.name === 'ValueTooLargeError') return error;
  return new TypeError(
    `The task's ${what} cannot be sent to the executor (${hostname()}): ${describeError(error)}`,
    { cause: error },
  );
}
