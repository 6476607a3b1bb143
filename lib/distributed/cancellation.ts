/**
 * Cancellation of an executor's tasks: `future.cancel()` (waiting),
 * `future.cancel({ running: true })` and a submit's `signal` (running),
 * `cancelAll` and a CancelAll thrown by a task, which fans out to every
 * node over the queue's cancel channel.
 *
 * The future settles at once; the task is then *withdrawn*: its job is
 * removed from the queue if no node took it, or the nodes are told to stop
 * it and the job is removed once it ends (an orphan, see removal.ts).
 */
import type { EventHub } from './events.js';
import type { CancelBinding } from './internal.js';
import type { QueueLink } from './link.js';
import type { LiveTasks } from './live-tasks.js';
import type { FinishedJobs } from './removal.js';
import type { TrackedTask } from './tracked-task.js';

/** What cancellation needs of the other rooms. */
export interface CancellationContext {
  readonly executorId: string;
  readonly live: LiveTasks;
  readonly hub: EventHub;
  readonly link: Pick<QueueLink, 'publish' | 'remove'>;
  readonly finished: Pick<FinishedJobs, 'orphan'>;
}

export class Cancellation {
  readonly #context: CancellationContext;

  constructor(context: CancellationContext) {
    this.#context = context;
  }

  /**
   * Binds the task's future (`cancel()` reaches this room) and watches its
   * signal. Call only with a signal that has not aborted.
   */
  watch(task: TrackedTask): void {
    this.#context.live.watch(task);
    const binding: CancelBinding = {
      cancelRunning: (cause) => this.cancelRunning(task, cause),
      cancelledWhilePending: (cause) => this.#contextancelledWhilePending(task, cause),
    };
    task.future._bindCancel(binding);
  }

  /** `future.cancel({ running: true })`, a signal, a CancelAll: ends the future cancelled, stops its job. */
  cancelRunning(task: TrackedTask, cause: unknown): boolean {
    if (!task.future.running()) return task.future._cancel(cause);
    const { live } = this.#context;
    task.future._setCancelledWhileRunning(cause);
    live.counts.cancelled++;
    live.unwatch(task);
    this.#emitCancelled(task, true, cause);
    this.withdraw(task);
    return true;
  }

  /**
   * Cancels every unsettled task except `except`, on every node: waiting
   * jobs are removed, running ones stopped, and nodes skip any of them that
   * they take meanwhile. Returns how many were cancelled.
   */
  cancelAll(cause: unknown, except?: TrackedTask): number {
    const { live, link, executorId } = this.#context;
    let count = 0;
    for (const task of live.all()) {
      if (task === except || task.future.done()) continue;
      if (this.cancelRunning(task, cause)) count++;
    }
    link.publish({ x: executorId, upTo: live.lastSeq() });
    return count;
  }

  /** Cancels the tasks no node has taken (`shutdown({ cancelFutures: true })`). */
  cancelPending(): void {
    for (const task of this.#context.live.all()) {
      if (task.future.state === 'pending') task.future.cancel();
    }
  }

  /** The task's future is settled; get its job out of the queue and off its node. */
  withdraw(task: TrackedTask): void {
    if (task.state === 'withdrawn') return;
    const { live, link, finished, executorId } = this.#context;
    const wasRunning = task.state === 'running';
    task.state = 'withdrawn';
    if (wasRunning) link.publish({ x: executorId, ids: [task.id] });
    link.remove(task.id).then(
      (removed) => {
        if (removed) {
          live.forget(task);
          return;
        }
        // A node holds it: tell it to stop, and remove the job once it ends.
        if (!wasRunning) link.publish({ x: executorId, ids: [task.id] });
        live.forget(task);
        finished.orphan(task.id);
      },
      () => {
        live.forget(task);
        finished.orphan(task.id);
      },
    );
  }

  /** A pending future was cancelled (its future already says so). */
  #contextancelledWhilePending(task: TrackedTask, cause: unknown): void {
    const { live } = this.#context;
    live.counts.cancelled++;
    live.unwatch(task);
    this.#emitCancelled(task, false, cause);
    if (task.state === 'queued') {
      live.forget(task);
    } else if (task.state !== 'adding') {
      // 'adding': withdrawn once the add completes (see submission.ts).
      this.withdraw(task);
    }
    live.notifyRoom();
  }

  /** The task's signal aborted. */
  abort(task: TrackedTask, reason: unknown): void {
    if (task.future.state === 'pending') task.future._cancel(reason);
    else if (task.future.running()) this.cancelRunning(task, reason);
  }

  #emitCancelled(task: TrackedTask, wasRunning: boolean, cause: unknown): void {
    const { hub, live } = this.#context;
    if (hub.wants('taskCancelled')) {
      hub.emit('taskCancelled', { ...live.event(task), wasRunning, cause });
    }
  }
}
