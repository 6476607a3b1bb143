/**
 * A worker node: a BullMQ Worker that takes jobs from the queue and runs
 * each in a local ProcessPoolExecutor, so crash isolation, time limits
 * that kill stuck workers, cancellation of running tasks and "no orphan
 * processes" come from the local engine.
 *
 * Because tasks run in worker processes, the node's own event loop stays
 * free to renew its job locks: the lock can be short (4 s by default, not
 * BullMQ's 30 s), so the other nodes notice within seconds that this one
 * was killed, and its jobs run again elsewhere (see tasks.ts).
 *
 * The node listens on the queue's cancel channel (pub/sub) for jobs to
 * stop, and publishes a heartbeat every second and shortly after each
 * change, which executors show in `stats().nodes` and use to name a node
 * that was lost.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Job, Worker as WorkerType } from 'bullmq';
import type { Redis as RedisClient } from 'ioredis';
import { type Future, ProcessPoolExecutor, task } from '../index.js';
import { encodeThrown, encodeValue } from './codec.js';
import { drop, quit, whenReady } from './connection.js';
import { Worker } from './deps.js';
import { InlineFunctionRefusedError } from './errors.js';
import { describeError } from './internal.js';
import { type CheckedNodeOptions, checkNodeOptions, type WorkerNodeOptions } from './options.js';
import {
  type CancelMessage,
  channels,
  type Envelope,
  type FnSpec,
  FORMAT,
  type Heartbeat,
  type JobData,
  parseJobData,
  type RunnerResult,
} from './protocol.js';
import { resolveModule } from './task.js';

const RUNNER = task<(fn: FnSpec, args: string, kind: string, limit: number) => RunnerResult>(
  new URL('./job-runner.js', import.meta.url),
  'runJob',
);

/** A change (job started or ended) is published within this many ms. */
const CHANGE_PUBLISH_MS = 100;
/** Cancellations of jobs this node has not seen are remembered this long (ms). */
const CANCEL_MEMORY_MS = 10 * 60_000;
/**
 * After a task of an executor throws CancelAll here, how long this node
 * holds back that executor's next jobs (ms), waiting for the executor's
 * cancel message saying which of them are siblings to skip. A job fetched
 * together with the CancelAll's own completion must not start meanwhile.
 */
const CANCEL_ALL_HOLD_MS = 5_000;
/** BullMQ retries a failed Redis call after this long (its default, 15 s, is too slow after a restart). */
const RUN_RETRY_DELAY_MS = 1_000;

/** What `node.stats()` returns. */
export interface WorkerNodeStats {
  /** The node's id, as executors see it. */
  id: string;
  /** `'draining'` once `close()` was called. */
  state: 'running' | 'draining' | 'closed';
  /** Jobs it takes at once. */
  concurrency: number;
  /** Jobs it runs now. */
  active: number;
  /** Jobs it finished (any outcome). */
  completed: number;
  /** Of those, the ones that failed. */
  failed: number;
}

interface Running {
  executor: string;
  seq: number;
  /** Set when the job is handed to the local pool (see #process). */
  future: Future<RunnerResult> | undefined;
  /** Cancelled before it was handed to the pool: it never starts. */
  cancelled: boolean;
}

/**
 * Starts a worker node on this machine and resolves once it is connected
 * and taking jobs; rejects with `BrokenExecutorError` if Redis cannot be
 * reached within `connectTimeout`. Call `close()` to drain it.
 *
 * @example
 * ```ts
 * import { startWorker } from 'concurrent-futures/distributed';
 * const node = await startWorker({ connection: 'redis://10.0.0.5:6379', queue: 'thumbs', concurrency: 8 });
 * process.once('SIGTERM', () => node.close());
 * ```
 */
export async function startWorker(options: WorkerNodeOptions): Promise<WorkerNode> {
  const node = new WorkerNode(checkNodeOptions(options));
  await node._start();
  return node;
}

/** A running worker node, made by `startWorker`. */
export class WorkerNode {
  /** The node's id: its `name` (default `host:pid`) and a random suffix. */
  readonly id: string;
  readonly #o: CheckedNodeOptions;
  readonly #host = hostname();
  readonly #running = new Map<string, Running>();
  /** Module specs as sent, resolved against the root (the root does not change). */
  readonly #resolved = new Map<string, string>();
  readonly #cancelledJobs = new Map<string, number>();
  readonly #watermarks = new Map<string, { upTo: number; at: number }>();
  /** Executors whose task threw CancelAll here, until their cancel message arrives. */
  readonly #holds = new Map<string, { release: Promise<void>; done: () => void }>();
  #pool: ProcessPoolExecutor | undefined;
  #worker: WorkerType | undefined;
  #cmd: RedisClient | undefined;
  #sub: RedisClient | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #changeTimer: NodeJS.Timeout | undefined;
  /** Resolves at the end of this turn of the event loop (see #process). */
  #turnEnd: Promise<void> | undefined;
  /** close({ force: true }) was called: jobs not yet started never start. */
  #forced = false;
  #state: 'running' | 'draining' | 'closed' = 'running';
  #completed = 0;
  #failed = 0;
  #closing: Promise<void> | undefined;
  #resolveClosed!: () => void;
  /** Resolves once the node has closed (after `close()`). */
  readonly closed: Promise<void> = new Promise((resolve) => {
    this.#resolveClosed = resolve;
  });

  /** @internal Use `startWorker`. */
  constructor(options: CheckedNodeOptions) {
    this.#o = options;
    this.id = `${options.name ?? `${this.#host}:${process.pid}`}:${randomBytes(3).toString('hex')}`;
  }

  /** @internal Connects and starts taking jobs. */
  async _start(): Promise<void> {
    const o = this.#o;
    const cmd = o.connection.client(`cf-node-${this.id}`);
    this.#cmd = cmd;
    try {
      await whenReady(cmd, o.connectTimeout, o.connection.where, `Worker node ${this.id}`);
    } catch (error) {
      drop(cmd);
      throw error;
    }
    const names = channels(o.prefix, o.queue);
    const sub = cmd.duplicate({ connectionName: `cf-node-sub-${this.id}` });
    sub.on('error', () => {});
    sub.on('message', (from: string, text: string) => {
      if (from === names.cancel) this.#onCancel(text);
    });
    this.#sub = sub;
    await sub.subscribe(names.cancel);
    this.#pool = new ProcessPoolExecutor(o.pool);
    // Two parameters: BullMQ then makes no AbortController per job (cancellation
    // comes over this package's own channel, see #onCancel).
    const worker = new Worker(o.queue, (job: Job) => this.#process(job), {
      connection: o.connection.bullmq,
      prefix: o.prefix,
      concurrency: o.concurrency,
      name: this.id,
      lockDuration: o.lockDuration,
      stalledInterval: o.stalledInterval,
      // A stalled job is never run again by BullMQ: the executor decides
      // (a new job within the task's retries, or WorkerCrashedError).
      maxStalledCount: 0,
      runRetryDelay: RUN_RETRY_DELAY_MS,
    });
    // Connection errors during a Redis restart are expected; BullMQ retries.
    worker.on('error', () => {});
    this.#worker = worker;
    await worker.waitUntilReady();
    this.#heartbeat = setInterval(() => this.#publish(), o.heartbeatInterval);
    this.#publish();
  }

  /** What the node runs and ran. */
  stats(): WorkerNodeStats {
    return {
      id: this.id,
      state: this.#state,
      concurrency: this.#o.concurrency,
      active: this.#running.size,
      completed: this.#completed,
      failed: this.#failed,
    };
  }

  /**
   * Drains the node: takes no new jobs, finishes the ones it runs, shuts its
   * worker processes down and disconnects. With `force`, running tasks are
   * cancelled instead (their jobs run again elsewhere, within their
   * retries). Calling it twice is fine.
   */
  close(options?: { force?: boolean }): Promise<void> {
    const force = options?.force === true;
    if (force) this.#forced = true;
    if (this.#closing !== undefined) {
      if (force) this.#pool?.cancelAll('the worker node is closing');
      return this.#closing;
    }
    this.#closing = this.#close(force);
    return this.#closing;
  }

  async #close(force: boolean): Promise<void> {
    this.#state = 'draining';
    this.#publish();
    if (force) this.#pool?.cancelAll('the worker node is closing');
    await this.#worker?.close(force).catch(() => {});
    await this.#pool?.shutdown({ wait: true, cancelFutures: true });
    clearInterval(this.#heartbeat);
    clearTimeout(this.#changeTimer);
    this.#state = 'closed';
    await this.#publish();
    await quit(this.#sub, 1000);
    await quit(this.#cmd);
    this.#resolveClosed();
  }

  /** The BullMQ processor: one job, run in the local pool; never throws for task errors. */
  async #process(job: Job): Promise<Envelope> {
    const jobId = job.id ?? '';
    const data = parseJobData(job.data);
    if (data === undefined) {
      this.#failed++;
      return this.#failure(
        new TypeError(
          `Job ${jobId} is not a concurrent-futures task (format ${FORMAT}); this queue is for concurrent-futures jobs only`,
        ),
        this.#o.maxValueSize,
      );
    }
    const hold = this.#holds.get(data.x);
    if (hold !== undefined) await hold.release;
    if (this.#isCancelled(jobId, data)) return { n: this.id, s: 2 };
    const limit = Math.min(data.l, this.#o.maxValueSize);
    let fn: FnSpec;
    if ('src' in data.f) {
      if (!this.#o.allowInlineFunctions) {
        this.#failed++;
        return this.#failure(
          new InlineFunctionRefusedError(
            `Worker node ${this.id} refuses inline functions: start it with --allow-inline-functions ` +
              '(startWorker({ allowInlineFunctions: true })) to run them, or submit a task() reference',
          ),
          limit,
        );
      }
      fn = data.f;
    } else {
      let m = this.#resolved.get(data.f.m);
      if (m === undefined) {
        m = resolveModule(data.f.m, this.#o.root);
        // Bounded: a queue writer could send endless distinct names.
        if (this.#resolved.size < 1000) this.#resolved.set(data.f.m, m);
      }
      fn = { m, e: data.f.e };
    }
    const started = performance.now();
    const entry: Running = { executor: data.x, seq: data.s, future: undefined, cancelled: false };
    this.#running.set(jobId, entry);
    this.#changed();
    try {
      // BullMQ hands jobs over one by one, each after a few awaits. Started at
      // the end of this turn of the event loop, every job taken in it reaches
      // the pool in the same tick: the pool sends them to a worker process in
      // one message, and the worker answers for them in one message. One IPC
      // round trip for several jobs instead of one each, which is most of
      // what the hop to a worker process costs.
      this.#turnEnd ??= new Promise((resolve) => {
        setImmediate(() => {
          this.#turnEnd = undefined;
          resolve();
        });
      });
      await this.#turnEnd;
      // A CancelAll may have come back meanwhile, or a cancel message.
      const held = this.#holds.get(data.x);
      if (held !== undefined) await held.release;
      if (entry.cancelled || this.#forced) return { n: this.id, s: 2 };
      let future: Future<RunnerResult>;
      try {
        future = this.#pool!.submit(RUNNER, [fn, data.a, data.k, limit], {
          timeout: data.t,
          retries: data.r,
          onProgress: (value) => this.#progress(job, value, limit),
        });
      } catch (error) {
        // The pool refused (it is shutting down): this job fails, the node goes on.
        this.#failed++;
        return this.#failure(error, limit);
      }
      entry.future = future;
      const result = await future;
      if (result.s === 1) this.#failed++;
      const envelope: Envelope = {
        n: this.id,
        s: result.s,
        d: result.d,
        ms: performance.now() - started,
        h: this.#host,
        p: result.p,
      };
      if (result.ca === 1) {
        envelope.ca = 1;
        this.#hold(data.x);
      }
      return envelope;
    } catch (error) {
      if (entry.future === undefined || entry.future.cancelled()) return { n: this.id, s: 2 };
      this.#failed++;
      const pid = (error as { pid?: unknown } | null)?.pid;
      return {
        ...this.#failure(error, limit),
        ms: performance.now() - started,
        p: typeof pid === 'number' ? pid : process.pid,
      };
    } finally {
      this.#completed++;
      this.#running.delete(jobId);
      this.#changed();
    }
  }

  #failure(error: unknown, limit: number): Envelope {
    return { n: this.id, s: 1, d: encodeThrown(error, limit), h: this.#host, p: process.pid };
  }

  #progress(job: Job, value: unknown, limit: number): void {
    let p: string;
    try {
      p = encodeValue(value, limit, 'progress value');
    } catch (error) {
      process.emitWarning(
        `worker node ${this.id}: a progress value of job ${job.id} was dropped: ${describeError(error)}`,
      );
      return;
    }
    job.updateProgress({ p }).catch(() => {});
  }

  // --------------------------------------------------------- cancellation

  #onCancel(text: string): void {
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
        const running = this.#running.get(id);
        if (running !== undefined) stop(running);
        else this.#cancelledJobs.set(id, now);
      }
    }
    if (typeof message.upTo === 'number') {
      const previous = this.#watermarks.get(message.x)?.upTo ?? 0;
      this.#watermarks.set(message.x, { upTo: Math.max(previous, message.upTo), at: now });
      for (const running of this.#running.values()) {
        if (running.executor === message.x && running.seq <= message.upTo) stop(running);
      }
      this.#release(message.x);
    }
  }

  /** Holds back the executor's next jobs until its cancel message (or CANCEL_ALL_HOLD_MS). */
  #hold(executor: string): void {
    if (this.#holds.has(executor)) return;
    let done!: () => void;
    const release = new Promise<void>((resolve) => {
      done = resolve;
    });
    const timer = setTimeout(() => this.#release(executor), CANCEL_ALL_HOLD_MS);
    timer.unref();
    this.#holds.set(executor, {
      release,
      done: () => {
        clearTimeout(timer);
        done();
      },
    });
  }

  #release(executor: string): void {
    const hold = this.#holds.get(executor);
    if (hold === undefined) return;
    this.#holds.delete(executor);
    hold.done();
  }

  #isCancelled(jobId: string, data: JobData): boolean {
    if (this.#cancelledJobs.delete(jobId)) return true;
    const mark = this.#watermarks.get(data.x);
    return mark !== undefined && data.s <= mark.upTo;
  }

  // ------------------------------------------------------------ heartbeat

  #changed(): void {
    if (this.#changeTimer !== undefined || this.#state === 'closed') return;
    this.#changeTimer = setTimeout(() => {
      this.#changeTimer = undefined;
      this.#publish();
    }, CHANGE_PUBLISH_MS);
  }

  #publish(): Promise<void> {
    const now = Date.now();
    for (const [id, at] of this.#cancelledJobs)
      if (now - at > CANCEL_MEMORY_MS) this.#cancelledJobs.delete(id);
    for (const [x, mark] of this.#watermarks)
      if (now - mark.at > CANCEL_MEMORY_MS) this.#watermarks.delete(x);
    const beat: Heartbeat = {
      id: this.id,
      host: this.#host,
      pid: process.pid,
      concurrency: this.#o.concurrency,
      active: this.#running.size,
      jobs: [...this.#running.keys()],
      completed: this.#completed,
      failed: this.#failed,
      state: this.#state,
      interval: this.#o.heartbeatInterval,
    };
    const { prefix, queue } = this.#o;
    const cmd = this.#cmd;
    if (cmd === undefined || cmd.status !== 'ready') return Promise.resolve();
    return cmd.publish(channels(prefix, queue).nodes, JSON.stringify(beat)).then(
      () => undefined,
      () => undefined,
    );
  }
}

/** Cancels a job on this node: its task if the pool has it, else before it starts. */
function stop(running: Running): void {
  if (running.future === undefined) running.cancelled = true;
  else running.future.cancel({ running: true });
}
