/**
 * A worker node's bridge to its local ProcessPoolExecutor: a job becomes a
 * task of the pool (job-runner.ts, in a worker process), started together
 * with the other jobs of the same turn of the event loop; progress goes
 * back to the BullMQ job. Crash isolation, time limits that kill stuck
 * workers, cancellation of running tasks and "no orphan processes" come
 * from the pool.
 */
import type { Job } from 'bullmq';
import { type Future, ProcessPoolExecutor, type ProcessPoolOptions, task } from '../index.js';
import { encodeValue } from './codec.js';
import { describeError } from './internal.js';
import type { FnSpec, JobData, RunnerResult } from './protocol.js';

const RUNNER = task<(fn: FnSpec, args: string, kind: string, limit: number) => RunnerResult>(
  new URL('./job-runner.js', import.meta.url),
  'runJob',
);

export class PoolBridge {
  readonly #nodeId: string;
  readonly #pool: ProcessPoolExecutor;
  /** Resolves at the end of this turn of the event loop (see `endOfTurn`). */
  #turnEnd: Promise<void> | undefined;

  constructor(nodeId: string, options: ProcessPoolOptions) {
    this.#nodeId = nodeId;
    this.#pool = new ProcessPoolExecutor(options);
  }

  /**
   * Resolves at the end of this turn of the event loop. BullMQ hands jobs
   * over one by one, each after a few awaits. Started at the end of the
   * turn, every job taken in it reaches the pool in the same tick: the
   * pool sends them to a worker process in one message, and the worker
   * answers for them in one message. One IPC round trip for several jobs
   * instead of one each, which is most of what the hop to a worker process
   * costs.
   */
  endOfTurn(): Promise<void> {
    this.#turnEnd ??= new Promise((resolve) => {
      setImmediate(() => {
        this.#turnEnd = undefined;
        resolve();
      });
    });
    return this.#turnEnd;
  }

  /** Runs the job in a worker process. Throws if the pool refuses (it is shutting down). */
  submit(job: Job, fn: FnSpec, data: JobData, limit: number): Future<RunnerResult> {
    return this.#pool.submit(RUNNER, [fn, data.a, data.k, limit], {
      timeout: data.t,
      retries: data.r,
      onProgress: (value) => this.#progress(job, value, limit),
    });
  }

  /** Cancels every task the pool runs or holds (`close({ force: true })`). */
  cancelAll(reason: string): void {
    this.#pool.cancelAll(reason);
  }

  /** Waits for the running tasks, cancels the rest, and stops the worker processes. */
  shutdown(): Promise<void> {
    return this.#pool.shutdown({ wait: true, cancelFutures: true });
  }

  /** A progress value from task code becomes the job's progress, which the executor reads. */
  #progress(job: Job, value: unknown, limit: number): void {
    let p: string;
    try {
      p = encodeValue(value, limit, 'progress value');
    } catch (error) {
      process.emitWarning(
        `worker node ${this.#nodeId}: a progress value of job ${job.id} was dropped: ${describeError(error)}`,
      );
      return;
    }
    job.updateProgress({ p }).catch(() => {});
  }
}
