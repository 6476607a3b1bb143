/**
 * Where the engine meets the map-reduce coordinators: the messages of
 * explorers (engine/messages.ts) and an explorer's worker dying
 * (dispatch.requeueFront) reach the coordinator of its run, found by the
 * explorer task's future.
 */
import type { Future } from '../../future.js';
import type { ExplorerWorkerMessage } from '../../wire/protocol.js';
import type { Engine } from '../context.js';
import { failTask } from '../outcomes.js';
import type { TaskRecord } from '../task-record.js';
import type { WorkerSlot } from '../worker-slot.js';
import type { Coordinator } from './coordinator.js';
import type { ExplorerOutcome } from './explorers.js';

/** Each explorer task's future, to its run's coordinator. */
const coordinators = new WeakMap<Future<unknown>, Coordinator>();

/** Messages of the explorer `future` go to `coordinator` from now on. */
export function registerExplorer(future: Future<ExplorerOutcome>, coordinator: Coordinator): void {
  coordinators.set(future, coordinator);
}

/** A message from an explorer running on `slot`. One of a task no longer there is dropped. */
export function onExplorerMessage(
  _engine: Engine,
  slot: WorkerSlot,
  message: ExplorerWorkerMessage,
): void {
  const task = slot.find(message.id);
  if (task === undefined || task.kind !== 'explore') return;
  const future = task.future as Future<ExplorerOutcome>;
  coordinators.get(future)?.receive(future, slot, task, message);
}

/**
 * The worker of an explorer task died and the engine is about to run the
 * task again. An explorer that had started held nodes nobody else knows
 * of: its task fails instead (and with it the run). Returns `true` when
 * the task must not be requeued.
 */
export function explorerLost(engine: Engine, task: TaskRecord): boolean {
  const future = task.future as Future<ExplorerOutcome>;
  const coordinator = coordinators.get(future);
  if (coordinator === undefined) return false;
  return coordinator.lost(future, task, (error) => {
    engine.detach(task);
    engine.output?.attach(task);
    failTask(engine, task, error);
  });
}
