/**
 * Calling a task: `fn(...payload)` for a submit, `fn(item)` for each item
 * of a chunk, synchronously when it returns a plain value, awaited when it
 * returns a promise. Also learns how long a function's runs take, which
 * tells the runtime when to report finished work before a task (runtime.ts).
 */
import { isThenable } from '../describe.js';
import { CancelledError, TaskTimeoutError } from '../errors.js';
import { type EncodedChunkOutcome, failedChunk, packNumbers } from '../wire/chunk-outcome.js';
import { type FnRef, LONG_TASK_MS, TASK_CHUNK, TASK_EXPLORE } from '../wire/protocol.js';
import { Context, type ProgressSender } from './context.js';
import { type FunctionCache, type Resolved, withHint } from './functions.js';
import { sendable } from './sendable.js';

/** A task of a batch, unpacked from the message's flat fields. */
export interface TaskMessage {
  k: 'task';
  id: number;
  /** The function's id, or its FnRef on first use. */
  fn: number | FnRef;
  /** The arguments, or the items of a chunk. */
  payload: unknown[];
  /** TASK_CHUNK, TASK_TIMED, TASK_REPORT_ALONE. */
  flags: number;
}

/** What invoking a task needs from the runtime. */
export interface InvokeHooks {
  readonly sendProgress: ProgressSender;
  /** The task is about to run (its context becomes current). */
  start(context: Context): void;
  /** The task ran (or threw): its context is no longer current. */
  finish(context: Context): void;
  /** Its outcome: the value (`ok`) or what it threw, and ms it ran (-1: it never ran). */
  outcome(id: number, ok: boolean, value: unknown, ms: number, chunk?: boolean): void;
  /** The function of task `id` is loading (a cancel may come meanwhile), or done loading. */
  resolving(id: number | undefined): void;
  /** Why task `id` was cancelled before it started, if it was (and forgets it). */
  takeEarlyCancel(id: number): 'timeout' | 'cancel' | undefined;
  /** Runs a map-reduce explorer (TASK_EXPLORE) whose `map` is `resolved` (explorer.ts). */
  explore(resolved: Resolved, payload: unknown[], context: Context): Promise<unknown>;
}

/**
 * Weight of the newest run in the moving average of a function's
 * synchronous run time: a function that turns slow is treated as long
 * after a few runs, not after one odd run.
 */
const NEWEST_RUN_WEIGHT = 0.2;

/**
 * What an async run counts as (ms): long, and still long for the next few
 * synchronous runs (the average decays from here): a later run may wait on
 * anything.
 */
const ASYNC_RUN_MS = LONG_TASK_MS * 2;

/** Runs one task; returns a promise only when it did not finish synchronously. */
export function invoke(
  fns: FunctionCache,
  msg: TaskMessage,
  hooks: InvokeHooks,
): Promise<void> | undefined {
  const resolved = fns.get(msg.fn);
  if (resolved === undefined || isThenable(resolved)) {
    // First use on this worker (compile or import), or an import in progress.
    return invokeAfterResolve(fns, msg, hooks);
  }
  return invokeResolved(msg, resolved, hooks);
}

async function invokeAfterResolve(
  fns: FunctionCache,
  msg: TaskMessage,
  hooks: InvokeHooks,
): Promise<void> {
  // A cancel may arrive while the function loads: the runtime records it.
  hooks.resolving(msg.id);
  let resolved: Resolved;
  try {
    resolved = await fns.resolve(msg.fn);
  } catch (error) {
    hooks.outcome(msg.id, false, error, -1);
    return;
  } finally {
    hooks.resolving(undefined);
  }
  await invokeResolved(msg, resolved, hooks);
}

function invokeResolved(
  msg: TaskMessage,
  resolved: Resolved,
  hooks: InvokeHooks,
): Promise<void> | undefined {
  const early = hooks.takeEarlyCancel(msg.id);
  if (early !== undefined) {
    hooks.outcome(msg.id, false, abortReason(early), -1);
    return undefined;
  }
  const chunk = (msg.flags & TASK_CHUNK) !== 0;
  const context = new Context(msg.id, hooks.sendProgress);
  hooks.start(context);
  const started = performance.now();
  let value: unknown;
  let thenable: boolean;
  try {
    value = chunk
      ? runChunk(resolved, msg.payload, context)
      : (msg.flags & TASK_EXPLORE) !== 0
        ? hooks.explore(resolved, msg.payload, context)
        : resolved.fn(...msg.payload);
    // Reading `then` runs task code too (a getter may throw): a throw here
    // is the task's failure, as `await value` would make it.
    thenable = isThenable(value);
  } catch (error) {
    const ms = timed(resolved, started);
    hooks.finish(context);
    hooks.outcome(msg.id, false, withHint(error, resolved), ms);
    return undefined;
  }
  if (!thenable) {
    const ms = timed(resolved, started);
    hooks.finish(context);
    hooks.outcome(msg.id, true, value, ms, chunk);
    return undefined;
  }
  // An async task counts as long: a later run may wait on anything.
  resolved.runs++;
  resolved.avgMs = Math.max(resolved.avgMs, ASYNC_RUN_MS);
  // Not Promise.resolve(value): for a promise it reads `constructor`, which
  // may throw synchronously; a resolve function turns any throw of `then`
  // into a rejection.
  return new Promise<unknown>((resolve) => resolve(value)).then(
    (settled) => {
      hooks.finish(context);
      hooks.outcome(msg.id, true, settled, performance.now() - started, chunk);
    },
    (error: unknown) => {
      hooks.finish(context);
      hooks.outcome(msg.id, false, withHint(error, resolved), performance.now() - started);
    },
  );
}

/** `true` when a run of `fn` is not known to be quick (never run, async, or slow on average). */
export function mayTakeLong(fns: FunctionCache, fn: number | FnRef): boolean {
  const known = fns.get(fn);
  return known === undefined || isThenable(known) || known.runs === 0 || known.avgMs > LONG_TASK_MS;
}

/** Keeps a moving average of how long a function's synchronous runs take; returns this run's ms. */
function timed(resolved: Resolved, started: number): number {
  const took = performance.now() - started;
  resolved.avgMs =
    resolved.runs === 0
      ? took
      : resolved.avgMs * (1 - NEWEST_RUN_WEIGHT) + took * NEWEST_RUN_WEIGHT;
  resolved.runs++;
  return took;
}

/**
 * Runs `fn(item)` for each item, synchronously while results are plain
 * values, and stops at the first item that throws or when aborted.
 */
function runChunk(
  resolved: Resolved,
  items: ArrayLike<unknown>,
  context: Context,
): EncodedChunkOutcome | Promise<EncodedChunkOutcome> {
  const values: unknown[] = [];
  for (let i = 0; i < items.length; i++) {
    let value: unknown;
    let thenable: boolean;
    try {
      value = resolved.fn(items[i]);
      // A number is the common map result: nothing to look at.
      if (typeof value === 'number') {
        values.push(value);
        continue;
      }
      thenable = isThenable(value);
    } catch (error) {
      return failedChunk(values, withHint(error, resolved));
    }
    if (thenable) {
      return finishChunkAsync(resolved, items, i, value as PromiseLike<unknown>, values, context);
    }
    const safe = sendable(value);
    if (!safe.ok) return failedChunk(values, safe.error);
    values.push(safe.value);
  }
  return { values: packNumbers(values), failed: false };
}

async function finishChunkAsync(
  resolved: Resolved,
  items: ArrayLike<unknown>,
  from: number,
  first: PromiseLike<unknown>,
  values: unknown[],
  context: Context,
): Promise<EncodedChunkOutcome> {
  for (let i = from; i < items.length; i++) {
    if (i > from && context.aborted) return failedChunk(values, context.signal.reason);
    let value: unknown;
    try {
      value = await (i === from ? first : resolved.fn(items[i]));
    } catch (error) {
      return failedChunk(values, withHint(error, resolved));
    }
    const safe = sendable(value);
    if (!safe.ok) return failedChunk(values, safe.error);
    values.push(safe.value);
  }
  return { values: packNumbers(values), failed: false };
}

/** What `currentTask().signal.reason` becomes when the parent stops a task. */
export function abortReason(why: 'timeout' | 'cancel'): Error {
  return why === 'timeout'
    ? new TaskTimeoutError('The task exceeded its time limit')
    : new CancelledError('The task was cancelled');
}
