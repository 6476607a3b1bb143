/**
 * What a worker node knows of cancellations, from the queue's cancel
 * channel (pub/sub, see protocol.ts): jobs to stop, every job of an
 * executor up to a sequence number (CancelAll, `cancelAll()`), and the
 * executors whose next jobs it holds back after one of their tasks threw
 * CancelAll here.
 *
 * A cancel message may arrive before the job it names reaches this node,
 * or while another node runs it: it is remembered for CANCEL_MEMORY_MS, so
 * a job taken later is skipped, not started.
 */
import type { Future } from '../index.js';
import type { CancelMessage, JobData, RunnerResult } from './protocol.js';

/**
 * Cancellations of jobs this node has not seen are remembered this long
 * (ms): longer than a job plausibly waits in the queue between its cancel
 * and a node taking it, short enough that a long-lived node's memory does
 * not grow with every cancel on the queue.
 */
const CANCEL_MEMORY_MS = 10 * 60_000;
/**
 * After a task of an executor throws CancelAll here, how long this node
 * holds back that executor's next jobs (ms), waiting for the executor's
 * cancel message saying which of them are siblings to skip. A job fetched
 * together with the CancelAll's own completion must not start meanwhile.
 */
const CANCEL_ALL_HOLD_MS = 5_000;

/** A job this node took and has not answered yet. */
export interface RunningJob {
  executor: string;
  seq: number;
  /** Set when the job is handed to the local pool (see pool-bridge.ts). */
  future: Future<RunnerResult> | undefined;
  /** Cancelled before it was handed to the pool: it never starts. */
  cancelled: boolean;
}

export class NodeCancels {
  /** Job ids to skip, with when the message came. */
  readonly #cancelledJobs = new Map<string, number>();
  /** Per executor: skip its jobs up to this sequence number. */
  readonly #watermarks = new Map<string, { upTo: number; at: number }>();
  /** Executors whose task threw CancelAll here, until their cancel message arrives. */
  readonly #holds = new Map<string, { lifted: Promise<void>; lift: () => void }>();

  /** A message on the cancel channel (from anyone who can publish: checked before use). */
  receive(text: string, running: ReadonlyMap<string, RunningJob>): void {
    let message: CancelMessage;
    try {
      message = JSON.parse(text) as CancelMessage;
    } catch {
      return;
    }
    if (message === null || typeof message !== 'object' || typeof message.x !== 'string') return;
    const now = Date.now();
    if (Array.isArray(message.ids)) {
      for (const id of message.ids) {
        if (typeof id !== 'string') continue;
        const job = running.get(id);
        if (job !== undefined) cancelJob(job);
        else this.#cancelledJobs.set(id, now);
      }
    }
    if (typeof message.upTo === 'number') {
      const previous = this.#watermarks.get(message.x)?.upTo ?? 0;
      this.#watermarks.set(message.x, { upTo: Math.max(previous, message.upTo), at: now });
      for (const job of running.values()) {
        if (job.executor === message.x && job.seq <= message.upTo) cancelJob(job);
      }
      this.#lift(message.x);
    }
  }

  /** `true` if the job was cancelled before it started here: skip it. */
  isCancelled(jobId: string, data: JobData): boolean {
    if (this.#cancelledJobs.delete(jobId)) return true;
    const mark = this.#watermarks.get(data.x);
    return mark !== undefined && data.s <= mark.upTo;
  }

  /** Holds back the executor's next jobs until its cancel message (or CANCEL_ALL_HOLD_MS). */
  hold(executor: string): void {
    if (this.#holds.has(executor)) return;
    let resolve!: () => void;
    const lifted = new Promise<void>((r) => {
      resolve = r;
    });
    const timer = setTimeout(() => this.#lift(executor), CANCEL_ALL_HOLD_MS);
    timer.unref();
    this.#holds.set(executor, {
      lifted,
      lift: () => {
        clearTimeout(timer);
        resolve();
      },
    });
  }

  /** A promise to await before starting a job of `executor`, while its jobs are held back. */
  whenLifted(executor: string): Promise<void> | undefined {
    return this.#holds.get(executor)?.lifted;
  }

  /** Forgets cancellations older than CANCEL_MEMORY_MS. */
  prune(now = Date.now()): void {
    for (const [id, at] of this.#cancelledJobs) {
      if (now - at > CANCEL_MEMORY_MS) this.#cancelledJobs.delete(id);
    }
    for (const [x, mark] of this.#watermarks) {
      if (now - mark.at > CANCEL_MEMORY_MS) this.#watermarks.delete(x);
    }
  }

  #lift(executor: string): void {
    const hold = this.#holds.get(executor);
    if (hold === undefined) return;
    this.#holds.delete(executor);
    hold.lift();
  }
}

/** Cancels a job on this node: its task if the pool has it, else before it starts. */
function cancelJob(job: RunningJob): void {
  if (job.future === undefined) job.cancelled = true;
  else job.future.cancel({ running: true });
}
