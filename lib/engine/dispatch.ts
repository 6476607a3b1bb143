/**
 * Dispatch: handing queued tasks to workers, and the line each worker keeps.
 *
 * A worker gets several tasks at once, up to its depth (worker-slot.ts), in
 * one `batch` message: it runs them in order, and the first of its line is
 * the one running. Tasks behind it stay pending (cancellable) until they
 * reach the head. A function's source or module crosses the channel once
 * per worker; later tasks name it by id.
 */
import type { TransferListItem } from 'node:worker_threads';
import { packNumbers } from '../wire/chunk-outcome.js';
import type { FnRef } from '../wire/protocol.js';
import {
  PROTOCOL_TAG,
  TASK_CHUNK,
  TASK_EXPLORE,
  TASK_REPORT_ALONE,
  TASK_TIMED,
} from '../wire/protocol.js';
import { stopInWorker } from './cancellation.js';
import type { Engine } from './context.js';
import { uncloneableError } from './crash.js';
import { explorerLost } from './map-reduce/room.js';
import { failTask } from './outcomes.js';
import { startClock, stopClock, type TaskRecord } from './task-record.js';
import type { WorkerSlot } from './worker-slot.js';

/**
 * Hands queued tasks to the workers: the least loaded first, and none more
 * than its fair share, so that tasks submitted together spread over the
 * workers instead of filling the first one's line (where a task could
 * wait behind a sibling that waits for it). A starting worker takes its
 * first tasks at once, queued behind its init message: that saves a round
 * trip on the way to the first result.
 */
export function dispatchAll(engine: Engine): void {
  const { maxTasksPerWorker } = engine.options;
  const open: WorkerSlot[] = [];
  for (const slot of engine.workers) {
    if (slot.open && slot.spareCapacity(maxTasksPerWorker) > 0) open.push(slot);
  }
  if (open.length > 1) open.sort((a, b) => a.tasks.length - b.tasks.length);
  const { queue } = engine;
  for (let i = 0; i < open.length && queue.size > 0; i++) {
    const slot = open[i]!;
    const share = Math.ceil(queue.live / (open.length - i));
    dispatch(engine, slot, Math.min(slot.spareCapacity(maxTasksPerWorker), Math.max(1, share)));
  }
}

/** Sends up to `count` queued tasks to `slot` in one message. */
function dispatch(engine: Engine, slot: WorkerSlot, count: number): void {
  const batch: TaskRecord[] = [];
  while (batch.length < count) {
    const task = engine.queue.shift();
    if (task === undefined) break;
    if (task.future.done()) engine.detach(task);
    else batch.push(task);
  }
  if (batch.length === 0) return;
  const fields: unknown[] = [];
  const newFns: number[] = [];
  const transfer: TransferListItem[] = [];
  for (const task of batch) {
    const id = task.fn.id;
    if (slot.knownFns.has(id) || newFns.includes(id)) {
      pushTask(fields, task, id);
    } else {
      pushTask(fields, task, { ...task.fn });
      newFns.push(id);
    }
    if (task.transfer !== undefined) transfer.push(...task.transfer);
  }
  try {
    slot.handle.send(
      { cf: PROTOCOL_TAG, k: 'batch', tasks: fields },
      transfer.length > 0 ? transfer : undefined,
    );
  } catch {
    // Something in the batch cannot be cloned: send one by one to fail only that task.
    dispatchOneByOne(engine, slot, batch);
    return;
  }
  for (const id of newFns) slot.knownFns.add(id);
  accept(engine, slot, batch);
}

function dispatchOneByOne(engine: Engine, slot: WorkerSlot, batch: TaskRecord[]): void {
  for (const task of batch) {
    const known = slot.knownFns.has(task.fn.id);
    const fields: unknown[] = [];
    pushTask(fields, task, known ? task.fn.id : { ...task.fn });
    try {
      slot.handle.send({ cf: PROTOCOL_TAG, k: 'batch', tasks: fields }, task.transfer);
    } catch (sendError) {
      engine.detach(task);
      failTask(engine, task, uncloneableError(task.id, task.kind, task.payload, sendError));
      continue;
    }
    if (!known) slot.knownFns.add(task.fn.id);
    accept(engine, slot, [task]);
  }
}

/** Appends a task's TASK_FIELDS to a batch. */
function pushTask(fields: unknown[], task: TaskRecord, fn: number | FnRef): void {
  let flags = task.kind === 'chunk' ? TASK_CHUNK : task.kind === 'explore' ? TASK_EXPLORE : 0;
  if (task.timeout !== undefined) flags |= TASK_TIMED;
  if (task.reportAlone) flags |= TASK_REPORT_ALONE;
  // A map's chunk of numbers travels packed (wire/chunk-outcome.ts).
  fields.push(task.id, fn, task.kind === 'chunk' ? packNumbers(task.payload) : task.payload, flags);
}

/** Records that `batch` was sent to `slot`. */
function accept(engine: Engine, slot: WorkerSlot, batch: TaskRecord[]): void {
  const wasEmpty = slot.tasks.length === 0;
  const { output } = engine;
  for (const task of batch) {
    task.worker = slot;
    slot.tasks.push(task);
    output?.begin(task);
  }
  slot.cancelIdleTimer();
  slot.keepAlive(true);
  // On a starting worker the head starts (and its clock runs) once it is ready.
  if (wasEmpty && slot.ready) startHead(engine, slot, performance.now());
}

/**
 * The task at the head of the worker's line is the one it runs now: mark
 * its future running and start its time limit.
 */
export function startHead(engine: Engine, slot: WorkerSlot, now: number): void {
  slot.headSince = now;
  const task = slot.tasks[0];
  if (task === undefined) return;
  // A retried task is still running from its first attempt.
  if (task.future.state === 'pending') {
    task.future.setRunningOrNotifyCancel();
    task.startedAt = now;
    engine.telemetry.started(task);
  }
  if (task.future.running()) {
    startClock(task);
  } else if (task.future.done()) {
    // Cancelled while the parent took it for pending (sent ahead, or run by
    // a worker whose 'ready' was not read yet). The worker skips it if it
    // has not started; if it has, it must stop like a running task:
    // signal, then a kill after `cancelGrace` if no outcome comes.
    stopInWorker(engine, task, 'cancel');
  }
}

/**
 * Puts a task back at the queue's head (its worker went away, or gave it
 * back). Its clock stops here: the next attempt gets a full time limit of
 * its own, started when it runs again.
 */
export function requeueFront(engine: Engine, task: TaskRecord): void {
  // A map-reduce explorer that had started held nodes nobody else knows of.
  if (task.kind === 'explore' && explorerLost(engine, task)) return;
  task.worker = undefined;
  stopClock(task);
  engine.queue.unshift(task);
}
