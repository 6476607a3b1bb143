/**
 * The registry of an executor's live tasks, by job id, and the settling of
 * their futures: every room that settles a future (outcomes, cancellation,
 * submission) does it here, so counters, events and the signal listener
 * are handled the same way whoever settles.
 *
 * Also `maxQueued`: how many tasks wait for a node, and the promises `map`
 * waits on until there is room.
 */
import type { TaskKind } from '../index.js';
import type { DistributedTaskEvent, EventHub } from './events.js';
import { SignalWatch } from './internal.js';
import type { NodeRegistry } from './nodes.js';
import type { TaskCounts, TrackedTask } from './tracked-task.js';

/** What the registry asks of the executor's view of the nodes. */
export type JobNodes = Pick<NodeRegistry, 'nodeOf' | 'forget'>;

export class LiveTasks {
  readonly counts: TaskCounts = { submitted: 0, completed: 0, failed: 0, cancelled: 0, retried: 0 };
  readonly #byJobId = new Map<string, TrackedTask>();
  readonly #hub: EventHub;
  readonly #nodes: JobNodes;
  /** Most tasks waiting for a node (`maxQueued`). */
  readonly maxQueued: number;
  #nextSeq = 1;
  #roomWaiters: Array<() => void> = [];
  /** One listener per signal, however many tasks share it (see SignalWatch). */
  readonly #signals: SignalWatch<TrackedTask>;

  /** `onAbort` runs for each unsettled task whose signal aborts. */
  constructor(
    hub: EventHub,
    nodes: JobNodes,
    maxQueued: number,
    onAbort: (task: TrackedTask, reason: unknown) => void,
  ) {
    this.#hub = hub;
    this.#nodes = nodes;
    this.maxQueued = maxQueued;
    this.#signals = new SignalWatch(onAbort);
  }

  /** A new task's number within the executor (it counts as submitted). */
  issueSeq(): number {
    this.counts.submitted++;
    return this.#nextSeq++;
  }

  /** The number of the last task issued: CancelAll stops every job up to it. */
  lastSeq(): number {
    return this.#nextSeq - 1;
  }

  /** Tracks `task` under its current job id. */
  track(task: TrackedTask): void {
    this.#byJobId.set(task.id, task);
  }

  /** The task of a job of this executor, if it is tracked. */
  get(jobId: string): TrackedTask | undefined {
    return this.#byJobId.get(jobId);
  }

  /** `true` if `task` is tracked under its current job id. */
  tracks(task: TrackedTask): boolean {
    return this.#byJobId.get(task.id) === task;
  }

  /** Stops tracking the task's current job (it is gone, or handed over as an orphan). */
  forget(task: TrackedTask): void {
    if (this.#byJobId.get(task.id) === task) this.#byJobId.delete(task.id);
    this.#nodes.forget(task.id);
  }

  /** A copy of the tracked tasks, safe to iterate while settling them. */
  all(): TrackedTask[] {
    return [...this.#byJobId.values()];
  }

  /** How many jobs are tracked. */
  get size(): number {
    return this.#byJobId.size;
  }

  /** Tasks not yet taken by a node. */
  waiting(): number {
    let count = 0;
    for (const task of this.#byJobId.values()) {
      if (task.state !== 'running' && task.state !== 'withdrawn' && !task.future.done()) count++;
    }
    return count;
  }

  /** Tasks a node runs now. */
  running(): number {
    let count = 0;
    for (const task of this.#byJobId.values()) if (task.future.running()) count++;
    return count;
  }

  /** Tasks whose future is not settled. */
  unsettled(): number {
    let count = 0;
    for (const task of this.#byJobId.values()) if (!task.future.done()) count++;
    return count;
  }

  /** `true` when `maxQueued` tasks wait for a node: a submit fails with QueueFullError. */
  full(): boolean {
    return Number.isFinite(this.maxQueued) && this.waiting() >= this.maxQueued;
  }

  /** For `map`: a promise to wait on while the queue is at `maxQueued`. */
  room(): Promise<void> | undefined {
    if (!this.full()) return undefined;
    return new Promise((resolve) => this.#roomWaiters.push(resolve));
  }

  /** A task stopped waiting (it started or settled): wake `map` if there is room now. */
  notifyRoom(): void {
    if (this.#roomWaiters.length === 0 || this.waiting() >= this.maxQueued) return;
    this.#wakeRoomWaiters();
  }

  /** Fails the task's future with `error`. */
  fail(task: TrackedTask, error: unknown): void {
    this.unwatch(task);
    if (task.future.state === 'pending') task.future.setRunningOrNotifyCancel();
    task.future.setException(error);
    this.counts.failed++;
    if (this.#hub.wants('taskFailed')) this.#hub.emit('taskFailed', { ...this.event(task), error });
  }

  /** Ends the task's future as cancelled, without telling any node (its job already ended). */
  endCancelled(task: TrackedTask, cause: unknown): void {
    this.unwatch(task);
    if (task.future.state === 'pending') {
      task.future._cancel(cause);
    } else {
      task.future._setCancelledWhileRunning(cause);
      this.counts.cancelled++;
    }
  }

  /** Watches the task's signal (not aborted) until its future settles. */
  watch(task: TrackedTask): void {
    if (task.signal !== undefined) this.#signals.add(task.signal, task);
  }

  /** The future settled: stop watching its signal; the task no longer waits for a node. */
  unwatch(task: TrackedTask): void {
    if (task.signal !== undefined) this.#signals.remove(task.signal, task);
    this.notifyRoom();
  }

  /** What every task event says about `task`. */
  event(task: TrackedTask): DistributedTaskEvent {
    return {
      taskId: task.seq,
      jobId: task.id,
      kind: (task.kind === 'run' ? 'submit' : 'map') as TaskKind,
      items: task.items,
      future: task.kind === 'run' ? task.future : undefined,
      node: task.node ?? this.#nodes.nodeOf(task.id),
    };
  }

  /** Wakes every `map` waiting for room, room or not (the executor is broken: they fail). */
  wakeAll(): void {
    this.#wakeRoomWaiters();
  }

  #wakeRoomWaiters(): void {
    const waiters = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const wake of waiters) wake();
  }
}
