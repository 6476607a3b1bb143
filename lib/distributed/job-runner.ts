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
import { type FnRef, FunctionCache, withHint } from './internal.js';
import { type FnSpec, KIND_CHUNK, type RunnerResult, type WireChunkOutcome } from './protocol.js';

const functions = new FunctionCache();
const ids = new Map<string, number>();

type Resolved = Awaited<ReturnType<FunctionCache['resolve']>>;

/** Runs the job's function over its arguments (or, for a chunk, over each item). */
export async function runJob(
  fn: FnSpec,
  args: string,
  kind: string,
  limit: number,
): Promise<RunnerResult> {
  let resolved: Resolved;
  try {
    resolved = await functions.resolve(reference(fn));
  } catch (error) {
    return failure(error, limit);
  }
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
    value = await resolved.fn(...input);
  } catch (error) {
    return failure(withHint(error, resolved), limit);
  }
  try {
    return { s: 0, d: encodeValue(value, limit, "task's result"), p: process.pid };
  } catch (error) {
    return failure(cannotSend('result', error), limit);
  }
}

/** Calls `fn(item)` for each item until one throws or the task is cancelled. */
async function runChunk(
  resolved: Resolved,
  items: unknown[],
  limit: number,
): Promise<RunnerResult> {
  const outcome: WireChunkOutcome = { values: [], failed: false };
  // Tracked apart from the thrown value: `throw undefined` is a failure too.
  let stoppedAt: unknown;
  const { signal } = currentTask();
  for (let i = 0; i < items.length; i++) {
    if (signal.aborted) {
      outcome.failed = true;
      stoppedAt = signal.reason;
      break;
    }
    try {
      let value = resolved.fn(items[i]);
      if (isThenable(value)) value = await value;
      outcome.values.push(value);
    } catch (error) {
      outcome.failed = true;
      stoppedAt = withHint(error, resolved);
      break;
    }
  }
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
  const result: RunnerResult = { s: 0, d: encoded, p: process.pid };
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
  const result: RunnerResult = { s: 1, d: encodeThrown(error, limit), p: process.pid };
  if (isCancelAll(error)) result.ca = 1;
  return result;
}

function cannotSend(what: string, error: unknown): unknown {
  if (error instanceof Error && error.name === 'ValueTooLargeError') return error;
  return new TypeError(
    `The task's ${what} cannot be sent to the executor (${hostname()}): ${
      error instanceof Error ? error.message : String(error)
    }`,
    { cause: error },
  );
}

/** A CancelAll, also one from another copy of this package (the error codec goes by name). */
function isCancelAll(error: unknown): boolean {
  return error instanceof Error && error.name === 'CancelAll';
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
