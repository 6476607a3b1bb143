/**
 * Stopping tasks: cancellation of pending and running tasks (a future's
 * `cancel()`, a signal, `CancelAll`, `cancelAll()`, shutdown's
 * `cancelFutures`) and time limits.
 *
 * A task that has not reached a worker just leaves the queue. One that sits
 * in a worker's line, or runs there, is told to stop (a `cancel` message:
 * the worker skips it, or aborts its `currentTask().signal`); its future
 * settles at once, and if no outcome for it comes back within
 * `cancelGrace`, its worker is killed. The kill is blamed on nobody else:
 * the crash that follows is the engine's own (see crash-blame.ts).
 */
import { TaskTimeoutError } from '../errors.js';
import { PROTOCOL_TAG } from '../wire/protocol.js';
import type { Engine } from './context.js';
import { allParked } from './nesting.js';
import { outputComplete } from './outcomes.js';
import { armStopGrace, isStopping, type TaskRecord } from './task-record.js';
import type { WorkerSlot } from './worker-slot.js';

/**
 * Stops a task whose future is running (`cancel({ running: true })`, its
 * signal, a CancelAll): abort its signal in the worker, kill the worker
 * after the grace period. A pending future is just cancelled. Returns
 * `true` if the future ends cancelled.
 */
export function cancelRunning(engine: Engine, task: TaskRecord, cause: unknown): boolean {
  if (!task.future.running()) return task.future._cancel(cause);
  engine.output?.attach(task);
  task.future._setCancelledWhileRunning(cause);
  engine.detach(task);
  // Running without a worker: a retried task waiting in the queue for its
  // next attempt. It must not run again, nor count as queued.
  if (task.worker === undefined) engine.queue.markDead(task);
  stopInWorker(engine, task, 'cancel');
  engine.telemetry.cancelled(task, true, cause);
  return true;
}

/** A pending future was cancelled: if its task already sits in a worker's line, have it skipped. */
export function cancelledWhilePending(engine: Engine, task: TaskRecord, cause: unknown): void {
  const worker = task.worker;
  engine.detach(task);
  engine.output?.forget(task);
  engine.schedulePump();
  if (worker === undefined) {
    engine.queue.markDead(task);
  } else {
    // It waits in the worker's line: the worker skips it when it gets there.
    // (No kill timer: the task ahead of it may rightly take long.)
    worker.handle.send({ cf: PROTOCOL_TAG, k: 'cancel', id: task.id, why: 'cancel' });
  }
  engine.telemetry.cancelled(task, false, cause);
}

/**
 * Cancels every task not yet done: pending ones never start, running ones
 * are stopped. `cause` becomes the `cause` of their CancelledError.
 * `except` is spared (the task that threw a CancelAll). Returns how many.
 */
export function cancelAll(engine: Engine, cause: unknown, except?: TaskRecord): number {
  let count = 0;
  for (const task of engine.queue.snapshot()) {
    if (task !== except && !task.future.done() && cancelRunning(engine, task, cause)) count++;
  }
  for (const slot of engine.workers) {
    for (const task of [...slot.tasks]) {
      if (task !== except && !task.future.done() && cancelRunning(engine, task, cause)) count++;
    }
  }
  for (const task of allParked(engine)) {
    if (task !== except && !task.future.done() && cancelRunning(engine, task, cause)) count++;
  }
  return count;
}

/** Cancels the tasks that have not started (`shutdown({ cancelFutures: true })`). */
export function cancelPending(engine: Engine): void {
  // Cancelling marks them dead in the queue; retried tasks (still running
  // from their first attempt) refuse and stay.
  for (const task of engine.queue.snapshot()) task.future.cancel();
  engine.queue.dropDead();
  // Tasks sent ahead to a worker and not started are pending too: the
  // worker skips them.
  for (const slot of engine.workers) {
    for (const task of [...slot.tasks]) {
      if (task.future.state === 'pending') task.future.cancel();
    }
  }
}

/** The task's time limit passed (its clock, see task-record.ts). */
export function timedOut(engine: Engine, task: TaskRecord): void {
  if (task.future.done()) return;
  if (task.capture?.heldOutcome !== undefined) {
    // It finished within its limit; only its output is late: settle with
    // the outcome it had, and what of its output came.
    outputComplete(engine, task);
    return;
  }
  engine.detach(task);
  engine.output?.attach(task);
  const error = new TaskTimeoutError(
    `Task ${task.id} exceeded its time limit of ${task.timeout} ms`,
    { timeout: task.timeout },
  );
  task.future.setException(error);
  engine.telemetry.failed(task, error);
  stopInWorker(engine, task, 'timeout');
}

/**
 * Asks the worker to abort (or skip) a task whose future is settled; if no
 * outcome for it came back after `cancelGrace`, the worker is killed.
 */
export function stopInWorker(engine: Engine, task: TaskRecord, why: 'timeout' | 'cancel'): void {
  const slot = task.worker;
  if (slot === undefined || isStopping(task)) return;
  slot.handle.send({ cf: PROTOCOL_TAG, k: 'cancel', id: task.id, why });
  armStopGrace(task, slot, why, engine.options.cancelGrace);
}

/** A stopped task's grace ran out: if it is still in that worker's line, kill the worker. */
export function stopGraceExpired(
  engine: Engine,
  task: TaskRecord,
  slot: WorkerSlot,
  why: 'timeout' | 'cancel',
): void {
  if (task.worker === slot && (slot.tasks.includes(task) || slot.nest?.parked.has(task.id))) {
    slot.kill(engine.options.shutdownGrace, why === 'timeout' ? 'timeout' : 'cancelled');
  }
}
