/**
 * Nested submission, in the parent: tasks that task code submits through
 * `currentTask().executor` (docs/nested.md; the worker side is
 * worker/nested-executor.ts, the messages are in wire/nested-messages.ts).
 *
 * A nested task is an ordinary task record with a link to its parent task;
 * it goes to the FRONT of the queue, so that a tree is explored depth-first
 * and the frontier stays about depth x branching, not the whole tree. Its
 * outcome goes back to the parent task's worker (`nsettled`), where task
 * code awaits it.
 *
 * No deadlock: a task that awaits nested futures "parks" (`park`): its
 * worker runs the next task of its line meanwhile, and the engine takes the
 * parked task out of the worker's line, so that the line's room (its depth)
 * is free for more work, its children included. With one worker, the
 * children run on the very worker their parent waits on.
 *
 * Trees behave as one: when a task ends, however (returned, failed,
 * cancelled, timed out, crashed), its unfinished nested tasks are
 * cancelled, running ones stopped (`detached` below, called from the
 * engine's `detach`). Limits: `maxNestingDepth` and `maxNestedTasks`.
 */
import { CancelledError, NestingLimitError } from '../errors.js';
import type { Future } from '../future.js';
import type { decodeChunkOutcome } from '../wire/chunk-outcome.js';
import { encodeError } from '../wire/error-codec.js';
import {
  type FnRef,
  NEST_CANCELLED,
  NEST_CHUNK,
  NEST_FAILED,
  NEST_OK,
  NEST_SETTLED_FIELDS,
  NEST_SUBMIT_FIELDS,
  PROTOCOL_TAG,
} from '../wire/protocol.js';
import { cancelRunning } from './cancellation.js';
import type { Engine } from './context.js';
import { startHead } from './dispatch.js';
import type { FnInfo, FunctionRegistry } from './functions.js';
import type { TaskKind, TaskRecord } from './task-record.js';
import type { WorkerSlot } from './worker-slot.js';

/** A nested task's link to the task that submitted it. */
export interface NestLink {
  readonly parent: TaskRecord;
  /** 1 for a task a top-level task submitted, and so on. */
  readonly depth: number;
  /** The number the parent's worker gave the nested future. */
  readonly sub: number;
  /** The parent's worker: where the outcome goes. */
  readonly home: WorkerSlot;
}

/** What a worker's slot keeps about nesting (made on first use). */
export interface SlotNest {
  /** Tasks of this worker waiting on nested futures: out of its line, still running. */
  readonly parked: Map<number, TaskRecord>;
  /** The worker's function numbers, resolved. */
  readonly fns: Map<number, FnInfo>;
  /** Nested tasks its tasks submitted, by their number (for `ncancel`). */
  readonly subs: Map<number, TaskRecord>;
  /** Settlements to send, NEST_SETTLED_FIELDS each; sent once per tick. */
  outgoing: unknown[];
}

/** The engine's nesting state and counters (`stats().nested`). */
export class Nesting {
  readonly maxDepth: number;
  readonly maxTasks: number;
  readonly functions: FunctionRegistry;
  /** Nested tasks not yet detached. */
  live = 0;
  /** Nested tasks submitted (accepted or refused). */
  submitted = 0;
  /** Nested submissions refused by a nesting limit. */
  refused = 0;
  /** Most nested tasks unfinished at once so far. */
  peak = 0;
  /** Deepest nesting so far. */
  deepest = 0;

  constructor(maxDepth: number, maxTasks: number, functions: FunctionRegistry) {
    this.maxDepth = maxDepth;
    this.maxTasks = maxTasks;
    this.functions = functions;
  }
}

/** What the scheduler does for a nested submission (Scheduler.submitNested). */
export type NestedSubmit = (
  kind: TaskKind,
  fn: FnInfo,
  payload: unknown[],
  timeout: number | undefined,
  link: NestLink,
) => Future<unknown>;

export function slotNest(slot: WorkerSlot): SlotNest {
  slot.nest ??= { parked: new Map(), fns: new Map(), subs: new Map(), outgoing: [] };
  return slot.nest;
}

/**
 * An `nsubmit` message: task code on `slot` submitted tasks. Each becomes
 * a task at the queue's front (in the order submitted), or, if its parent
 * is gone or a limit is reached, a settlement sent back at once.
 */
export function onNestedSubmit(
  engine: Engine,
  slot: WorkerSlot,
  subs: unknown[],
  submit: NestedSubmit,
): void {
  const nest = slotNest(slot);
  const { nesting } = engine;
  // Function numbers first, front to back: the first use carries the source.
  for (let at = 0; at < subs.length; at += NEST_SUBMIT_FIELDS) {
    const ref = subs[at + 2];
    if (typeof ref === 'object' && ref !== null) {
      nest.fns.set((ref as FnRef).id, nesting.functions.fromRef(ref as FnRef));
    }
  }
  for (let at = 0; at < subs.length; at += NEST_SUBMIT_FIELDS) {
    const parentId = subs[at] as number;
    const sub = subs[at + 1] as number;
    const ref = subs[at + 2] as number | FnRef;
    const payload = subs[at + 3] as unknown[];
    const flags = subs[at + 4] as number;
    const timeout = subs[at + 5] as number;
    nesting.submitted++;
    const fn = nest.fns.get(typeof ref === 'number' ? ref : ref.id);
    const parent = slot.find(parentId);
    if (fn === undefined || parent === undefined || parent.future.done()) {
      // The parent ended (cancelled, timed out) while its code went on.
      reply(engine, slot, sub, NEST_CANCELLED, {
        cause: new CancelledError(
          `Task ${parentId} submitted a nested task after it ended: the nested task was not run`,
        ),
      });
      continue;
    }
    const depth = (parent.nest?.depth ?? 0) + 1;
    if (depth > nesting.maxDepth || nesting.live >= nesting.maxTasks) {
      nesting.refused++;
      const byDepth = depth > nesting.maxDepth;
      const error = new NestingLimitError(
        byDepth
          ? `Task ${parentId} is at nesting depth ${depth - 1} and cannot submit deeper: maxNestingDepth is ${nesting.maxDepth} (a runaway recursion?)`
          : `Too many nested tasks unfinished at once: maxNestedTasks is ${nesting.maxTasks}; await some before submitting more`,
        { limit: byDepth ? 'depth' : 'count', max: byDepth ? nesting.maxDepth : nesting.maxTasks },
      );
      reply(engine, slot, sub, NEST_FAILED, { error });
      continue;
    }
    const kind: TaskKind = (flags & NEST_CHUNK) !== 0 ? 'chunk' : 'run';
    const future = submit(kind, fn, payload, timeout >= 0 ? timeout : undefined, {
      parent,
      depth,
      sub,
      home: slot,
    });
    // Whatever settles it (its outcome, a cancel, a refusal), the parent's worker hears.
    if (future.done()) replySettled(engine, slot, sub, kind, future);
    else future._addWaiter((done) => replySettled(engine, slot, sub, kind, done));
  }
  engine.schedulePump();
}

/**
 * How far behind the queue's head a nested task looks for queued siblings
 * to line up behind: they are at the front when the tree runs depth-first.
 */
const SIBLING_SCAN = 256;

/**
 * Queues a nested task at the queue's front, behind its queued siblings:
 * depth first (the frontier of a tree stays about depth x branching, not
 * the whole tree) and, among the tasks one parent submitted, in order.
 */
export function queueNested(engine: Engine, task: TaskRecord): void {
  const parent = task.nest?.parent;
  const { queue } = engine;
  let after = -1;
  const scan = Math.min(queue.size, SIBLING_SCAN);
  for (let i = 0; i < scan; i++) {
    if (queue.at(i)?.nest?.parent === parent) after = i;
  }
  queue.insert(after + 1, task);
}

/** Links a new nested task to its parent; called by the scheduler before it queues it. */
export function linkChild(engine: Engine, task: TaskRecord): void {
  const link = task.nest;
  if (link === undefined) return;
  const { nesting } = engine;
  link.parent.children ??= new Set();
  link.parent.children.add(task);
  slotNest(link.home).subs.set(link.sub, task);
  nesting.live++;
  if (nesting.live > nesting.peak) nesting.peak = nesting.live;
  if (link.depth > nesting.deepest) nesting.deepest = link.depth;
}

/**
 * The engine let go of `task` (Engine.detach): a nested task leaves its
 * parent's count; a parent's unfinished nested tasks are cancelled.
 */
export function detached(engine: Engine, task: TaskRecord): void {
  const link = task.nest;
  if (link !== undefined && link.parent.children?.delete(task) === true) {
    engine.nesting.live--;
    link.home.nest?.subs.delete(link.sub);
  }
  const children = task.children;
  if (children === undefined || children.size === 0) return;
  task.children = undefined;
  const cause = new CancelledError(
    `Its parent task ${task.id} ended before it (${task.future.state})`,
  );
  for (const child of children) {
    if (child.nest !== undefined) {
      engine.nesting.live--;
      child.nest.home.nest?.subs.delete(child.nest.sub);
    }
    if (!child.future.done()) cancelRunning(engine, child, cause);
  }
}

/** `true` while the task has nested tasks not yet finished. */
export function hasChildren(task: TaskRecord): boolean {
  return task.children !== undefined && task.children.size > 0;
}

/** An `ncancel` message: task code cancelled nested futures; stop those tasks. */
export function onNestedCancel(engine: Engine, slot: WorkerSlot, subs: number[]): void {
  const nest = slot.nest;
  if (nest === undefined) return;
  for (const sub of subs) {
    const task = nest.subs.get(sub);
    if (task !== undefined && !task.future.done()) {
      cancelRunning(engine, task, new CancelledError('Cancelled by the task that submitted it'));
    }
  }
}

/**
 * A `park` message: the task awaits nested futures and its worker moved on.
 * It leaves the line (so the worker's room is free for more work) and keeps
 * running, its clock too, until its outcome comes.
 */
export function onPark(engine: Engine, slot: WorkerSlot, id: number): void {
  const index = slot.tasks.findIndex((task) => task.id === id);
  if (index < 0) return;
  const [task] = slot.tasks.splice(index, 1) as [TaskRecord];
  slotNest(slot).parked.set(id, task);
  if (index === 0) startHead(engine, slot, performance.now());
  engine.schedulePump();
}

/** The parked task `id` of `slot`, taken out of the parked set (its outcome came). */
export function unpark(slot: WorkerSlot, id: number): TaskRecord | undefined {
  const parked = slot.nest?.parked;
  if (parked === undefined) return undefined;
  const task = parked.get(id);
  if (task !== undefined) parked.delete(id);
  return task;
}

/** The parked tasks of `slot`, taken out (its worker is gone). */
export function takeParked(slot: WorkerSlot): TaskRecord[] {
  const parked = slot.nest?.parked;
  if (parked === undefined || parked.size === 0) return [];
  const all = [...parked.values()];
  parked.clear();
  return all;
}

/** The parked tasks of every worker (cancelAll). */
export function allParked(engine: Engine): TaskRecord[] {
  const all: TaskRecord[] = [];
  for (const slot of engine.workers) {
    if (slot.nest !== undefined) all.push(...slot.nest.parked.values());
  }
  return all;
}

function replySettled(
  engine: Engine,
  slot: WorkerSlot,
  sub: number,
  kind: TaskKind,
  future: Future<unknown>,
): void {
  if (future.cancelled()) {
    const error = future._error() as CancelledError;
    reply(engine, slot, sub, NEST_CANCELLED, { cause: error.cause });
  } else if (future._failed()) {
    reply(engine, slot, sub, NEST_FAILED, { error: future._error() });
  } else if (kind === 'chunk') {
    reply(engine, slot, sub, NEST_OK, { value: future._value(), chunk: true });
  } else {
    reply(engine, slot, sub, NEST_OK, { value: future._value() });
  }
}

interface Settlement {
  value?: unknown;
  chunk?: boolean;
  error?: unknown;
  cause?: unknown;
}

/** Queues a settlement for `slot`'s worker; one message per worker per tick. */
function reply(
  engine: Engine,
  slot: WorkerSlot,
  sub: number,
  state: number,
  what: Settlement,
): void {
  if (!engine.workers.has(slot) || slot.ending !== undefined) return;
  let value: unknown;
  if (state === NEST_OK) {
    value = what.chunk === true ? encodeChunk(what.value) : what.value;
  } else if (state === NEST_FAILED) {
    value = encodeError(what.error);
  } else {
    value = what.cause === undefined ? undefined : encodeError(what.cause);
  }
  const nest = slotNest(slot);
  if (nest.outgoing.length === 0) queueMicrotask(() => flushReplies(slot));
  nest.outgoing.push(sub, state, value);
}

function encodeChunk(value: unknown): unknown {
  const outcome = value as ReturnType<typeof decodeChunkOutcome>;
  return outcome.failed
    ? { values: outcome.values, failed: true, error: encodeError(outcome.error) }
    : { values: outcome.values, failed: false };
}

function flushReplies(slot: WorkerSlot): void {
  const nest = slot.nest;
  if (nest === undefined || nest.outgoing.length === 0) return;
  const done = nest.outgoing;
  nest.outgoing = [];
  try {
    slot.handle.send({ cf: PROTOCOL_TAG, k: 'nsettled', done });
  } catch {
    // A value came from a worker, so it can be cloned; should one still
    // refuse, send them one by one and fail only that one.
    for (let at = 0; at < done.length; at += NEST_SETTLED_FIELDS) {
      const one = done.slice(at, at + NEST_SETTLED_FIELDS);
      try {
        slot.handle.send({ cf: PROTOCOL_TAG, k: 'nsettled', done: one });
      } catch (error) {
        try {
          slot.handle.send({
            cf: PROTOCOL_TAG,
            k: 'nsettled',
            done: [one[0], NEST_FAILED, encodeError(error)],
          });
        } catch {
          // The channel is closing: the worker's exit settles what is left.
        }
      }
    }
  }
}
