/**
 * Finished-job removal: once a task's future settled, its job is removed
 * from Redis, so that Redis does not grow with the number of tasks.
 *
 * Finished jobs are removed in batches (one round trip per batch). A job a
 * node still holds (its task was cancelled while running, or its node is
 * not done with it) is an *orphan*: the task no longer tracks it, and it is
 * removed once it ends, as its 'completed'/'failed' event or a
 * reconciliation read shows.
 */
import type { JobReading, QueueLink } from './link.js';

/**
 * Finished jobs are removed in batches, at most this many ms after the
 * first of a batch finished, or as soon as REMOVE_BATCH are waiting: one
 * round trip (one wake-up of Redis, one of this process for the reply) per
 * batch instead of per job. Removal is housekeeping: nothing waits for it
 * but `shutdown()`, which sends what is left at once.
 */
const REMOVE_DELAY_MS = 20;
const REMOVE_BATCH = 500;

export class FinishedJobs {
  readonly #link: Pick<QueueLink, 'removeFinished'>;
  /** Finished jobs waiting for their batch. */
  #due: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** Jobs no task tracks any more that a node still held when last asked. */
  readonly #orphans = new Set<string>();

  constructor(link: Pick<QueueLink, 'removeFinished'>) {
    this.#link = link;
  }

  /** Jobs still in Redis that no task tracks: orphans and jobs due for removal. */
  get pending(): number {
    return this.#orphans.size + this.#due.length;
  }

  /** The job finished: remove it with the next batch. */
  schedule(jobId: string): void {
    this.#due.push(jobId);
    if (this.#due.length >= REMOVE_BATCH) {
      this.flush();
    } else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.flush(), REMOVE_DELAY_MS);
      this.#timer.unref();
    }
  }

  /** Removes the finished jobs waiting for their batch now. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const ids = this.#due;
    this.#due = [];
    if (ids.length > 0) this.#remove(ids);
  }

  /** A node holds the job, whose task is forgotten: remove it once it ends. */
  orphan(jobId: string): void {
    this.#orphans.add(jobId);
  }

  /** A job ended ('completed' or 'failed'): if it is an orphan, remove it now. Returns `true` if it was one. */
  ended(jobId: string): boolean {
    if (!this.#orphans.delete(jobId)) return false;
    this.schedule(jobId);
    return true;
  }

  /** The orphans, to read their state (reconciliation). */
  orphans(): string[] {
    return [...this.#orphans];
  }

  /** What a reconciliation read of an orphan found: gone, or ended (remove it), or still held. */
  reconcile(jobId: string, reading: JobReading): void {
    if (reading.state === 'missing') this.#orphans.delete(jobId);
    else if (reading.state !== 'pending') this.ended(jobId);
  }

  /** Forgets every job (the executor is broken: its connections are closed). */
  clear(): void {
    this.#orphans.clear();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#due = [];
  }

  /** Removes finished jobs in one round trip; one still held somewhere becomes an orphan. */
  #remove(ids: string[]): void {
    this.#link.removeFinished(ids).then(
      (outcomes) => {
        for (let i = 0; i < ids.length; i++) if (outcomes[i] === 'held') this.#orphans.add(ids[i]!);
      },
      () => {
        for (const id of ids) this.#orphans.add(id);
      },
    );
  }
}
