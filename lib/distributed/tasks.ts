/**
 * The executor's tasks and their jobs: the door the executor uses, and the
 * place where the task rooms are wired together. Each room sees the others
 * through a small context interface, never this class:
 *
 *   submit / map chunk ──> submission.ts ──addBulk──> Redis ──> nodes
 *                              │ tracks                           │
 *                              v                                  v
 *                        live-tasks.ts  <── outcomes.ts <── queue events (link.ts)
 *                        (registry,          │    ^             (reconcile.ts reads
 *                         settling)          │    └── what events missed)
 *                              ^             v
 *                     cancellation.ts ──> removal.ts ──> finished jobs out of Redis
 *
 * The life of one task is drawn in tracked-task.ts.
 */
import type { Future } from '../index.js';
import { Cancellation } from './cancellation.js';
import type { EventHub } from './events.js';
import type { JobEvent, JobEventName, QueueLink } from './link.js';
import { LiveTasks } from './live-tasks.js';
import type { NodeRegistry } from './nodes.js';
import { Outcomes } from './outcomes.js';
import type { FnSpec } from './protocol.js';
import { reconcile } from './reconcile.js';
import { FinishedJobs } from './removal.js';
import { Submission } from './submission.js';
import type { TaskCounts, TaskSettings } from './tracked-task.js';

export class TaskTable {
  readonly #link: QueueLink;
  readonly #live: LiveTasks;
  readonly #finished: FinishedJobs;
  readonly #cancellation: Cancellation;
  readonly #submission: Submission;
  readonly #outcomes: Outcomes;

  constructor(
    executorId: string,
    link: QueueLink,
    hub: EventHub,
    nodes: NodeRegistry,
    limits: { maxValueSize: number; maxQueued: number },
  ) {
    this.#link = link;
    const live = new LiveTasks(hub, nodes, limits.maxQueued, (task, reason) =>
      cancellation.abort(task, reason),
    );
    const finished = new FinishedJobs(link);
    const cancellation = new Cancellation({ executorId, live, hub, link, finished });
    const submission = new Submission({
      executorId,
      maxValueSize: limits.maxValueSize,
      live,
      link,
      cancellation,
    });
    this.#outcomes = new Outcomes({
      executorId,
      live,
      hub,
      nodes,
      finished,
      submission,
      cancellation,
    });
    this.#live = live;
    this.#finished = finished;
    this.#cancellation = cancellation;
    this.#submission = submission;
  }

  /** Counters for `stats()`. */
  get counts(): TaskCounts {
    return this.#live.counts;
  }

  /** Makes a task and its future; a problem of this task alone fails only its future. */
  create(
    kind: 'run' | 'chunk',
    fn: FnSpec,
    name: string,
    payload: unknown[],
    settings: TaskSettings,
  ): Future<unknown> {
    return this.#submission.create(kind, fn, name, payload, settings);
  }

  /** A future failed at once with `error` (the executor is broken). */
  failedAtOnce(error: unknown): Future<unknown> {
    return this.#submission.failedAtOnce(error);
  }

  /** The link is up: queued tasks may go. */
  ready(): void {
    this.#submission.ready();
  }

  /** Tasks not yet taken by a node. */
  waiting(): number {
    return this.#live.waiting();
  }

  /** Tasks a node runs now. */
  running(): number {
    return this.#live.running();
  }

  /** Tasks whose future is not settled. */
  unsettled(): number {
    return this.#live.unsettled();
  }

  /** Jobs still in Redis because of this executor (tasks tracked, orphans, removals due). */
  jobsInFlight(): number {
    return this.#live.size + this.#finished.pending;
  }

  /** For `map`: a promise to wait on while the queue is at `maxQueued`. */
  room(): Promise<void> | undefined {
    return this.#live.room();
  }

  /** A queue event about one of this executor's jobs. */
  onJob(name: JobEventName, event: JobEvent): void {
    this.#outcomes.onJob(name, event);
  }

  /** Cancels every unsettled task on every node; returns how many. */
  cancelAll(cause: unknown): number {
    return this.#cancellation.cancelAll(cause);
  }

  /** Cancels the tasks no node has taken (`shutdown({ cancelFutures: true })`). */
  cancelPending(): void {
    this.#cancellation.cancelPending();
  }

  /** Reads the jobs of tasks not heard of for `quietMs` (see reconcile.ts). */
  reconcile(quietMs: number): Promise<void> {
    return reconcile(
      { live: this.#live, link: this.#link, finished: this.#finished, outcomes: this.#outcomes },
      quietMs,
    );
  }

  /** Removes the finished jobs waiting for their batch now. */
  flushRemovals(): void {
    this.#finished.flush();
  }

  /** Fails every unsettled task (the executor is broken) and lets go of every job. */
  failAll(error: unknown): void {
    for (const task of this.#live.all()) {
      this.#live.forget(task);
      if (!task.future.done()) this.#live.fail(task, error);
    }
    this.#submission.clear();
    this.#finished.clear();
    this.#live.wakeAll();
  }
}
