/**
 * Work stealing: a worker is idle, nothing is queued, and another worker
 * holds tasks that have not started behind a task running for longer than
 * STEAL_AFTER_MS (an async task waiting on something, perhaps on one of
 * those very tasks). The engine asks that worker to give them back (a
 * `steal` message); it answers with the ones it had not started (`stolen`),
 * which go to the queue's head and from there to the idle worker. A worker
 * blocked in synchronous code answers only once it is free, by which time
 * its tasks may have run: nothing ever runs twice.
 */
import { PROTOCOL_TAG } from '../wire/protocol.js';
import type { Engine } from './context.js';
import { requeueFront, startHead } from './dispatch.js';
import { stopClock, type TaskRecord } from './task-record.js';
import { becameIdleIfSo } from './worker-life.js';
import type { WorkerSlot } from './worker-slot.js';

/**
 * A task running this long (ms) with unstarted tasks behind it, while
 * another worker is idle, has them taken back. Well above TARGET_QUEUED_MS
 * (the work a line is meant to hold), so a worker working through its
 * usual line of tiny tasks, or slowed by a GC pause, is never robbed.
 */
const STEAL_AFTER_MS = 10;

/**
 * A recheck is due when the first line becomes old enough; the timer fires
 * this much (ms) later, so that the line is past due, not a hair short of it.
 */
const RECHECK_MARGIN_MS = 1;

export class WorkStealing {
  /** Wakes the engine when the oldest line becomes old enough to steal from. */
  #recheck: NodeJS.Timeout | undefined;

  /** Asks busy workers for their unstarted tasks, if a worker idles and nothing is queued. */
  stealForIdle(engine: Engine): void {
    if (engine.queue.live > 0 || engine.closing) return;
    let idle = false;
    for (const slot of engine.workers) {
      // A worker whose only tasks are parked (awaiting nested ones) has room too.
      if (slot.idle || (slot.ready && slot.open && slot.tasks.length === 0)) idle = true;
    }
    if (!idle) return;
    const now = performance.now();
    let recheck = Number.POSITIVE_INFINITY;
    for (const slot of engine.workers) {
      if (!slot.ready || !slot.open || slot.tasks.length < 2) continue;
      const due = slot.headSince + STEAL_AFTER_MS;
      if (now < due) {
        recheck = Math.min(recheck, due - now);
        continue;
      }
      const ids: number[] = [];
      for (let i = 1; i < slot.tasks.length; i++) {
        const task = slot.tasks[i]!;
        // A task with a transfer list is never taken back: its buffers now
        // belong to that worker, and sending it again would send them detached.
        if (!task.stealing && task.future.state === 'pending' && task.transfer === undefined) {
          task.stealing = true;
          ids.push(task.id);
        }
      }
      if (ids.length > 0) slot.handle.send({ cf: PROTOCOL_TAG, k: 'steal', ids });
    }
    if (Number.isFinite(recheck) && this.#recheck === undefined) {
      this.#recheck = setTimeout(() => {
        this.#recheck = undefined;
        engine.schedulePump();
      }, recheck + RECHECK_MARGIN_MS);
      this.#recheck.unref();
    }
  }
}

/** The worker gave back tasks it had not started (`stolen`): they go back to the queue's head. */
export function onStolen(engine: Engine, slot: WorkerSlot, ids: number[]): void {
  const given = new Set(ids);
  const head = slot.tasks[0];
  const back: TaskRecord[] = [];
  for (let i = slot.tasks.length - 1; i >= 0; i--) {
    const task = slot.tasks[i]!;
    if (!given.has(task.id)) continue;
    slot.tasks.splice(i, 1);
    task.stealing = false;
    // The task ahead of it may have reported meanwhile, making it the head
    // (marked running, its clock started) although it never ran. It stays
    // running, like a retried task, and its clock restarts where it runs.
    stopClock(task);
    engine.output?.forget(task);
    if (task.future.done()) engine.detach(task);
    else back.push(task);
  }
  // `back` is in reverse order: requeueing each at the front restores it.
  for (const task of back) requeueFront(engine, task);
  if (slot.tasks[0] !== head) startHead(engine, slot, performance.now());
  becameIdleIfSo(engine, slot);
  engine.pump();
}
