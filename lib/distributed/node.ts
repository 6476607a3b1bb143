/**
 * A worker node: a BullMQ Worker that takes jobs from the queue
 * (job-intake.ts) and runs each in a local ProcessPoolExecutor
 * (pool-bridge.ts), so crash isolation, time limits that kill stuck
 * workers, cancellation of running tasks and "no orphan processes" come
 * from the local engine. This file is its life: connect, heartbeat, drain.
 *
 * Because tasks run in worker processes, the node's own event loop stays
 * free to renew its job locks: the lock can be short (4 s by default, not
 * BullMQ's 30 s), so the other nodes notice within seconds that this one
 * was killed, and its jobs run again elsewhere (see outcomes.ts).
 *
 * The node listens on the queue's cancel channel (pub/sub) for jobs to
 * stop (node-cancels.ts), and publishes a heartbeat every
 * `heartbeatInterval` and shortly after each change, which executors show
 * in `stats().nodes` and use to name a node that was lost.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Job, Worker as WorkerType } from 'bullmq';
import type { Redis as RedisClient } from 'ioredis';
import { drop, quit, SUBSCRIBER_QUIT_MS, whenReady } from './connection.js';
import { Worker } from './deps.js';
import { JobIntake } from './job-intake.js';
import { NodeCancels } from './node-cancels.js';
import { type CheckedNodeOptions, checkNodeOptions, type WorkerNodeOptions } from './options.js';
import { PoolBridge } from './pool-bridge.js';
import { channels, type Heartbeat } from './protocol.js';

/** A change (job started or ended) is published within this many ms. */
const CHANGE_PUBLISH_MS = 100;
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
  readonly #options: CheckedNodeOptions;
  readonly #host = hostname();
  readonly #cancels = new NodeCancels();
  readonly #intake: JobIntake;
  #bridge: PoolBridge | undefined;
  #worker: WorkerType | undefined;
  #cmd: RedisClient | undefined;
  #sub: RedisClient | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #changeTimer: NodeJS.Timeout | undefined;
  /** close({ force: true }) was called: jobs not yet started never start. */
  #forced = false;
  #state: 'running' | 'draining' | 'closed' = 'running';
  #closing: Promise<void> | undefined;
  #resolveClosed!: () => void;
  /** Resolves once the node has closed (after `close()`). */
  readonly closed: Promise<void> = new Promise((resolve) => {
    this.#resolveClosed = resolve;
  });

  /** @internal Use `startWorker`. */
  constructor(options: CheckedNodeOptions) {
    this.#options = options;
    this.id = `${options.name ?? `${this.#host}:${process.pid}`}:${randomBytes(3).toString('hex')}`;
    this.#intake = new JobIntake({
      nodeId: this.id,
      host: this.#host,
      options,
      cancels: this.#cancels,
      // The pool is made once Redis answered (see _start); jobs come only after.
      bridge: {
        endOfTurn: () => this.#bridge!.endOfTurn(),
        submit: (job, fn, data, limit) => this.#bridge!.submit(job, fn, data, limit),
      },
      forced: () => this.#forced,
      changed: () => this.#changed(),
    });
  }

  /** @internal Connects and starts taking jobs. */
  async _start(): Promise<void> {
    const o = this.#options;
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
      if (from === names.cancel) this.#cancels.receive(text, this.#intake.running);
    });
    this.#sub = sub;
    await sub.subscribe(names.cancel);
    this.#bridge = new PoolBridge(this.id, o.pool);
    // Two parameters: BullMQ then makes no AbortController per job (cancellation
    // comes over this package's own channel, see node-cancels.ts).
    const worker = new Worker(o.queue, (job: Job) => this.#intake.process(job), {
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
      concurrency: this.#options.concurrency,
      active: this.#intake.running.size,
      completed: this.#intake.completed,
      failed: this.#intake.failed,
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
      if (force) this.#bridge?.cancelAll('the worker node is closing');
      return this.#closing;
    }
    this.#closing = this.#close(force);
    return this.#closing;
  }

  async #close(force: boolean): Promise<void> {
    this.#state = 'draining';
    this.#publish();
    if (force) this.#bridge?.cancelAll('the worker node is closing');
    await this.#worker?.close(force).catch(() => {});
    await this.#bridge?.shutdown();
    clearInterval(this.#heartbeat);
    clearTimeout(this.#changeTimer);
    this.#state = 'closed';
    await this.#publish();
    await quit(this.#sub, SUBSCRIBER_QUIT_MS);
    await quit(this.#cmd);
    this.#resolveClosed();
  }

  /** A job started or ended: publish a heartbeat within CHANGE_PUBLISH_MS, once for many changes. */
  #changed(): void {
    if (this.#changeTimer !== undefined || this.#state === 'closed') return;
    this.#changeTimer = setTimeout(() => {
      this.#changeTimer = undefined;
      this.#publish();
    }, CHANGE_PUBLISH_MS);
  }

  #publish(): Promise<void> {
    this.#cancels.prune();
    const running = this.#intake.running;
    const beat: Heartbeat = {
      id: this.id,
      host: this.#host,
      pid: process.pid,
      concurrency: this.#options.concurrency,
      active: running.size,
      jobs: [...running.keys()],
      completed: this.#intake.completed,
      failed: this.#intake.failed,
      state: this.#state,
      interval: this.#options.heartbeatInterval,
    };
    const { prefix, queue } = this.#options;
    const cmd = this.#cmd;
    if (cmd === undefined || cmd.status !== 'ready') return Promise.resolve();
    return cmd.publish(channels(prefix, queue).nodes, JSON.stringify(beat)).then(
      () => undefined,
      () => undefined,
    );
  }
}
