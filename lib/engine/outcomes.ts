/**
 * Outcomes: what a worker reports about the tasks it finished, and how the
 * engine settles their futures.
 *
 * Outcomes arrive in batches (a `results` message), in the order the
 * worker ran its tasks, which is the order it received them: normally the
 * first tasks of its line. Each settles its future (rebuilding what a task
 * threw, wire/error-codec.ts, and what a chunk produced,
 * wire/chunk-outcome.ts), after its captured output is attached; a
 * CancelAll among them cancels every sibling.
 */
import { isCancelAll } from '../errors.js';
import { decodeChunkOutcome, type EncodedChunkOutcome } from '../wire/chunk-outcome.js';
import { decodeError, type EncodedError } from '../wire/error-codec.js';
import { OUTCOME_FIELDS } from '../wire/protocol.js';
import { cancelAll } from './cancellation.js';
import type { Engine } from './context.js';
import { startHead } from './dispatch.js';
import { unpark } from './nesting.js';
import { clearStopGrace, type TaskRecord } from './task-record.js';
import { becameIdleIfSo } from './worker-life.js';
import type { WorkerSlot } from './worker-slot.js';

/** A `results` message: `done` holds OUTCOME_FIELDS per finished task. */
export function onResults(engine: Engine, slot: WorkerSlot, done: unknown[]): void {
  const now = performance.now();
  const tasks = slot.tasks;
  const count = done.length / OUTCOME_FIELDS;
  // They stay in the line while they are settled one by one, so that a
  // CancelAll among them still reaches the siblings behind it; the line is
  // then cut once (not once per outcome: lines are up to 256 long).
  let inOrder = count <= tasks.length;
  for (let i = 0; inOrder && i < count; i++) {
    inOrder = tasks[i]!.id === done[i * OUTCOME_FIELDS];
  }
  let headDone = false;
  if (inOrder) {
    const finished = tasks.slice(0, count);
    for (let i = 0; i < count; i++) finishInWorker(engine, slot, finished[i]!, done, i, now);
    // Done callbacks cannot take tasks out of a worker's line; check anyway.
    if (tasks[count - 1] === finished[count - 1]) tasks.splice(0, count);
    else for (const task of finished) tasks.splice(tasks.indexOf(task), 1);
    headDone = count > 0;
  } else {
    for (let i = 0; i < count; i++) {
      const id = done[i * OUTCOME_FIELDS] as number;
      const index = tasks.findIndex((task) => task.id === id);
      if (index < 0) {
        // A task that awaited nested ones, out of the line (nesting.ts).
        const parked = unpark(slot, id);
        if (parked !== undefined) finishInWorker(engine, slot, parked, done, i, now);
        continue;
      }
      const [task] = tasks.splice(index, 1) as [TaskRecord];
      if (index === 0) headDone = true;
      finishInWorker(engine, slot, task, done, i, now);
    }
  }
  if (headDone) {
    slot.adaptDepth(count, now);
    startHead(engine, slot, now);
  }
  if (
    slot.ready &&
    slot.open &&
    slot.completed >= engine.options.maxTasksPerWorker &&
    !slot.hasParked
  ) {
    slot.retire(engine.options.shutdownGrace);
  }
  becameIdleIfSo(engine, slot);
  engine.pump();
}

/** Settles a task whose outcome (the `i`-th in `done`) the worker reported. */
function finishInWorker(
  engine: Engine,
  slot: WorkerSlot,
  task: TaskRecord,
  done: unknown[],
  i: number,
  now: number,
): void {
  const at = i * OUTCOME_FIELDS;
  const ok = done[at + 1] === 1;
  const value = done[at + 2];
  const ms = done[at + 3] as number;
  clearStopGrace(task);
  slot.completed++;
  if (task.future.done()) {
    engine.detach(task);
    engine.output?.forget(task);
    return;
  }
  // Outcomes of tasks behind the head arrive with it: they ran too.
  if (task.future.state === 'pending') {
    task.future.setRunningOrNotifyCancel();
    task.startedAt = ms >= 0 ? now - ms : now;
    engine.telemetry.started(task);
  }
  const capture = task.capture;
  if (capture !== undefined && ms >= 0 && capture.ends < 2) {
    // Its output is still on its way (another channel): settle when it is
    // in (outputComplete), or after a bounded wait. Its time limit keeps
    // running meanwhile (see cancellation.timedOut).
    capture.hold({ ok, value, ms }, () => outputComplete(engine, task));
    return;
  }
  engine.detach(task);
  settle(engine, task, ok, value, ms);
}

/** A captured task's output is complete (or no longer awaited): settle its held outcome. */
export function outputComplete(engine: Engine, task: TaskRecord): void {
  const held = task.capture?.takeHeld();
  if (held === undefined) return;
  engine.detach(task);
  if (task.future.done()) engine.output?.forget(task);
  else settle(engine, task, held.ok, held.value, held.ms);
}

/** Settles the future of a task the worker reported (`ok`: it returned `value`). */
function settle(engine: Engine, task: TaskRecord, ok: boolean, value: unknown, ms: number): void {
  engine.output?.attach(task);
  const { telemetry } = engine;
  if (!ok) {
    const error = decodeError(value as EncodedError);
    task.future.setException(error);
    telemetry.failed(task, error, ms);
    if (isCancelAll(error)) cancelAll(engine, error, task);
    return;
  }
  if (task.kind !== 'chunk') {
    task.future.setResult(value);
    telemetry.succeeded(task, value, ms);
    return;
  }
  const outcome = decodeChunkOutcome(value as EncodedChunkOutcome);
  task.future.setResult(outcome);
  if (outcome.failed) telemetry.failed(task, outcome.error, ms);
  else telemetry.succeeded(task, outcome.values, ms);
  if (isCancelAll(outcome.error)) cancelAll(engine, outcome.error, task);
}

/**
 * Fails a task that never got an outcome from a worker. A task already done
 * (cancelled while queued, also a retried one cancelled with
 * `{ running: true }`) is left alone: its future changes state only once.
 */
export function failTask(engine: Engine, task: TaskRecord, error: unknown): void {
  if (task.future.done()) return;
  task.future.setException(error);
  engine.telemetry.failed(task, error);
}
