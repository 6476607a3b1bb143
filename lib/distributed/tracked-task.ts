/**
 * One task of a DistributedExecutor as the executor tracks it: a `submit`
 * or one chunk of a `map`, its future, and the BullMQ job of its current
 * attempt. The task rooms share this record (tasks.ts draws their map):
 *
 *   queued ──addBulk──> waiting ──'active'──> running ──'completed'──> (settled, job removed)
 *     │                    │                     │
 *     └─cancel: dropped    └─cancel: withdrawn   ├─cancel / CancelAll: withdrawn (nodes told, job removed when it ends)
 *                                                └─'stalled' (node lost): re-added under a new job id
 *                                                   within `retries`, else WorkerCrashedError
 *
 * A task is tracked until its job is gone from Redis (or handed over as an
 * orphan, see removal.ts), so that every job it ever added is removed.
 */
import type { Future } from '../index.js';
import type { JobData } from './protocol.js';

/**
 * - `queued`: made, waiting for the next addBulk;
 * - `adding`: in an addBulk that has not answered yet;
 * - `waiting`: its job is in the queue, no node has taken it;
 * - `running`: a node took it;
 * - `withdrawn`: its future settled early (cancelled); its job is being
 *   taken out of the queue and off its node.
 */
export type TaskState = 'queued' | 'adding' | 'waiting' | 'running' | 'withdrawn';

export interface TrackedTask {
  /** The task's number within its executor (CancelAll watermarks compare these). */
  seq: number;
  /** The BullMQ job id of the current attempt (see `jobIdOf`). */
  id: string;
  /** 0, then one more for every time its job is added again. */
  attempt: number;
  kind: 'run' | 'chunk';
  /** Items in the chunk; 1 for a submit. */
  items: number;
  /** The job's name (the export's name, `inline` for inline source). */
  name: string;
  data: JobData;
  future: Future<unknown>;
  state: TaskState;
  retriesLeft: number;
  /** The node that ran it, once its answer named it. */
  node: string | undefined;
  submittedAt: number;
  startedAt: number;
  /** When an event last told us something about its job (for reconciliation). */
  heardAt: number;
  onProgress: ((value: unknown) => void) | undefined;
  /** Watched (live-tasks.ts) until the future settles. */
  signal: AbortSignal | undefined;
}

/** Per-task settings, validated by the executor. */
export interface TaskSettings {
  timeout: number | undefined;
  signal: AbortSignal | undefined;
  retries: number;
  onProgress: ((value: unknown) => void) | undefined;
}

/** Counters for `stats()`. */
export interface TaskCounts {
  /** Tasks submitted (a map chunk counts as one). */
  submitted: number;
  /** Tasks that returned. */
  completed: number;
  /** Tasks that failed (threw, timed out, node lost without retries, refused). */
  failed: number;
  /** Tasks cancelled, waiting or running. */
  cancelled: number;
  /** Re-runs after a node loss or a vanished job. */
  retried: number;
}

/**
 * The job id of a task's attempt: `<executor>.<seq>` at first, then
 * `<executor>.<seq>.<attempt>`. A new attempt needs a new id because the
 * old job may still be in a lost node's hands (and in Redis) when the task
 * is added again.
 */
export function jobIdOf(executorId: string, seq: number, attempt: number): string {
  return attempt === 0 ? `${executorId}.${seq}` : `${executorId}.${seq}.${attempt}`;
}
