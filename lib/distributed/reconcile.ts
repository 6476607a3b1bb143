/**
 * Reconciliation: the executor learns what happens to its jobs from queue
 * events, and events can be missed (BullMQ trims its event stream; a Redis
 * restart loses what was not persisted). Every `reconcileInterval`, after a
 * reconnection and at shutdown, the jobs of tasks not heard of for a while
 * are read from Redis and handled as their events would have been.
 */
import type { JobReading, QueueLink } from './link.js';
import type { LiveTasks } from './live-tasks.js';
import type { Outcomes } from './outcomes.js';
import type { FinishedJobs } from './removal.js';
import type { TrackedTask } from './tracked-task.js';

/** What reconciliation needs of the other rooms. */
export interface ReconcileContext {
  readonly live: LiveTasks;
  readonly link: Pick<QueueLink, 'read'>;
  readonly finished: Pick<FinishedJobs, 'orphans' | 'reconcile'>;
  readonly outcomes: Pick<Outcomes, 'completed' | 'failedInQueue' | 'vanished'>;
}

/**
 * Reads the jobs of tasks not heard of for `quietMs` (all of them with 0)
 * and acts on what happened to them: a result whose event was missed, a
 * job that vanished. Orphaned jobs are removed if they ended.
 */
export async function reconcile(context: ReconcileContext, quietMs: number): Promise<void> {
  const { live, link, finished } = context;
  const now = performance.now();
  const tasks = live
    .all()
    .filter((t) => t.state !== 'queued' && t.state !== 'adding' && now - t.heardAt >= quietMs);
  const orphans = finished.orphans();
  if (tasks.length === 0 && orphans.length === 0) return;
  const ids = tasks.map((t) => t.id);
  const readings = await link.read([...ids, ...orphans]);
  for (let i = 0; i < tasks.length; i++) reconcileTask(context, tasks[i]!, ids[i]!, readings[i]!);
  for (let i = 0; i < orphans.length; i++) {
    finished.reconcile(orphans[i]!, readings[tasks.length + i]!);
  }
}

function reconcileTask(
  context: ReconcileContext,
  task: TrackedTask,
  jobId: string,
  reading: JobReading,
): void {
  const { live, outcomes } = context;
  // Settled or forgotten while the read was under way, or added again under
  // a new job id: the reading is of a job the task no longer has.
  if (task.id !== jobId || !live.tracks(task)) return;
  task.heardAt = performance.now();
  switch (reading.state) {
    case 'completed':
      outcomes.completed(task, reading.returnvalue);
      return;
    case 'failed':
      outcomes.failedInQueue(task, reading.failedReason);
      return;
    case 'missing':
      if (task.state === 'withdrawn') live.forget(task);
      else outcomes.vanished(task);
      return;
    case 'pending':
      return;
  }
}
