/**
 * DistributedExecutor: the Executor interface over a BullMQ queue. Tasks
 * become jobs; worker nodes (`startWorker`, `concurrent-futures worker`)
 * run them in their own ProcessPoolExecutor; the same Future class comes
 * back, so `wait` and `asCompleted` mix local and distributed futures.
 *
 * This file validates and wires: the Redis side is link.ts, the tasks'
 * state machine tasks.ts, the nodes' view nodes.ts.
 */
import { randomBytes } from 'node:crypto';
import {
  type AnyFunction,
  BrokenExecutorError,
  type Callable,
  CancelAll,
  type Future,
  type MapOptions,
  type MapResult,
  type ResultOf,
  type SubmitOptions,
} from '../index.js';
import {
  type DistributedEventName,
  type DistributedListener,
  EventHub,
  type NodeStats,
} from './events.js';
import {
  type ChunkOutcome,
  checkSubmitOptions,
  describeError,
  ExecutorBase,
  typeError,
  validateInteger,
} from './internal.js';
import { JobFunctions } from './job-function.js';
import { QueueLink } from './link.js';
import { NodeRegistry } from './nodes.js';
import {
  type CheckedExecutorOptions,
  checkExecutorOptions,
  type DistributedExecutorOptions,
} from './options.js';
import { TaskTable } from './tasks.js';
import type { TaskCounts } from './tracked-task.js';

/** `submit` options of DistributedExecutor. */
export interface DistributedSubmitOptions extends SubmitOptions {
  /**
   * Run the task again up to this many times if its node is lost or its
   * worker process crashes. Default: the executor's `retries`.
   */
  retries?: number | undefined;
  /**
   * Called with each value task code reports with
   * `currentTask().progress()`, on whichever node it runs. A callback that
   * throws is reported as an `ExecutorListenerWarning`.
   */
  onProgress?: ((value: unknown) => void) | undefined;
}

/** What `stats()` returns. */
export interface DistributedStats extends TaskCounts {
  /** `true` while the executor is connected to Redis. */
  connected: boolean;
  /** Tasks of this executor that no node has taken yet. */
  waiting: number;
  /** Tasks of this executor running on a node now. */
  running: number;
  /** Every worker node heard of on this queue, with its last heartbeat. */
  nodes: NodeStats[];
}

/** Every this often (ms) nodes are checked for missed heartbeats. */
const NODE_CHECK_MS = 500;
/** How long `shutdown()` waits for cancelled jobs still on nodes to end, so it can remove them. */
const ORPHAN_WAIT_MS = 5_000;
/**
 * How often `shutdown()` looks whether every future settled: futures
 * settle from queue events, with no promise of their own to await here.
 * Short, so a shutdown ends soon after its last task.
 */
const SETTLED_POLL_MS = 20;
/** How often `shutdown()` reads the jobs still held by nodes: each look is a Redis round trip. */
const ORPHAN_POLL_MS = 100;
/**
 * `map`'s default buffer, in chunks: enough to keep every node's slots
 * busy several times over (a node takes the next job as soon as one ends),
 * and at least MIN_BUFFERED_CHUNKS while no node has been heard of yet.
 */
const CHUNKS_PER_SLOT = 4;
const MIN_BUFFERED_CHUNKS = 64;

/**
 * An Executor whose tasks run on worker nodes anywhere that can reach the
 * same Redis: `submit` and `map` as on the local pools, `Future`s as
 * everywhere. Tasks are `task()` references (module and export) that each
 * node resolves; inline functions only where both sides allow them.
 *
 * @example
 * ```ts
 * import { DistributedExecutor, task } from 'concurrent-futures/distributed';
 * await using ex = new DistributedExecutor({ connection: 'redis://10.0.0.5:6379', queue: 'thumbs' });
 * const thumbnail = task<(key: string) => Promise<string>>('./tasks.js', 'thumbnail');
 * const first = await ex.submit(thumbnail, ['photos/1.jpg'], { timeout: 30_000 });
 * for await (const url of ex.map(thumbnail, keys, { chunksize: 50 })) console.log(url);
 * ```
 */
export class DistributedExecutor extends ExecutorBase {
  /** This executor's id: the prefix of its job ids (`<id>.<task>`). */
  readonly id: string;
  readonly #options: CheckedExecutorOptions;
  readonly #hub = new EventHub(this);
  readonly #nodes = new NodeRegistry(this.#hub);
  readonly #link: QueueLink;
  readonly #table: TaskTable;
  readonly #started: Promise<void>;
  readonly #functions: JobFunctions;
  #broken: BrokenExecutorError | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  readonly #timers: NodeJS.Timeout[] = [];
  #reconciling = false;

  constructor(options: DistributedExecutorOptions) {
    super();
    this.#options = checkExecutorOptions(options);
    this.#functions = new JobFunctions(this.#options.allowInlineFunctions);
    this.id = randomBytes(6).toString('hex');
    this.#link = new QueueLink(this.#options, `${this.id}.`, {
      job: (name, event) => this.#table.onJob(name, event),
      heartbeat: (text) => this.#nodes.heard(text),
      disconnected: (error) => this.#disconnected(error),
      reconnected: () => this.#reconnected(),
    });
    this.#table = new TaskTable(this.id, this.#link, this.#hub, this.#nodes, {
      maxValueSize: this.#options.maxValueSize,
      maxQueued: this.#options.maxQueued,
    });
    this.#started = this.#link.start().then(
      () => {
        if (this.#broken !== undefined) return;
        this.#table.ready();
        this.#every(this.#options.reconcileInterval, () =>
          this.#reconcile(this.#options.reconcileInterval),
        );
        this.#every(NODE_CHECK_MS, () => this.#nodes.check());
      },
      (error: unknown) => {
        this.#break(
          error instanceof BrokenExecutorError
            ? error
            : new BrokenExecutorError(describeError(error), { cause: error }),
        );
        throw error;
      },
    );
    // Nobody has to await ready(): a failed connection shows in the futures.
    this.#started.catch(() => {});
  }

  /**
   * Resolves once connected to Redis; rejects with `BrokenExecutorError`
   * (saying where Redis was looked for, and why it failed) when that did
   * not happen within `connectTimeout`. Awaiting it is optional: tasks
   * submitted before are sent once connected, or fail with the same error.
   */
  ready(): Promise<void> {
    return this.#started;
  }

  /**
   * Schedules `fn(...args)` on a worker node. `fn` is a `task()` reference
   * (or, with `allowInlineFunctions` on both sides, a self-contained
   * function). Bad input throws at once; problems of this task alone (an
   * argument that cannot be cloned or is over `maxValueSize`, a module a
   * node cannot find) fail only its future.
   */
  submit<F extends AnyFunction>(
    fn: Callable<F>,
    args?: Parameters<F>,
    options?: DistributedSubmitOptions,
  ): Future<ResultOf<F>> {
    this._checkOpen('submit');
    const { spec, name } = this.#functions.of(fn);
    if (args !== undefined && !Array.isArray(args)) throw typeError('args', 'an array', args);
    const { timeout, signal } = checkSubmitOptions(options);
    const retries = validateInteger('retries', options?.retries, 0, this.#options.retries);
    const onProgress = options?.onProgress;
    if (onProgress !== undefined && typeof onProgress !== 'function') {
      throw typeError('onProgress', 'a function', onProgress);
    }
    if (this.#broken !== undefined) return this.#brokenFuture() as Future<ResultOf<F>>;
    const limit =
      options?.timeout === Number.POSITIVE_INFINITY
        ? undefined
        : (timeout ?? this.#options.taskTimeout);
    return this.#table.create('run', spec, name, args ?? [], {
      timeout: limit,
      signal,
      retries,
      onProgress,
    }) as Future<ResultOf<F>>;
  }

  /**
   * Calls `fn(item)` for each item on the worker nodes, `chunksize` items
   * per job; results in input order, streamed (`for await`) or awaited as
   * an array. See `MapOptions`.
   * @typeParam F - the function's type: its parameter types the items, its result the results.
   */
  override map<F extends (item: any) => any>(
    fn: Callable<F>,
    iterable: Iterable<Parameters<F>[0]> | AsyncIterable<Parameters<F>[0]>,
    options?: MapOptions,
  ): MapResult<ResultOf<F>> {
    return super.map(fn, iterable, options);
  }

  /**
   * Cancels every task of this executor that is not done, on every node:
   * waiting jobs are removed, running ones stopped (their signal aborts,
   * then their worker process is killed after the node's `cancelGrace`).
   * Their futures end cancelled with a `CancelledError` whose `cause` is
   * `reason` (a `CancelAll` by default). The executor stays usable.
   * Returns how many tasks were cancelled.
   */
  cancelAll(reason?: unknown): number {
    return this.#table.cancelAll(reason instanceof CancelAll ? reason : new CancelAll(reason));
  }

  /** Tasks now (waiting, running), counters, and every node heard of. Cheap. */
  stats(): DistributedStats {
    return {
      ...this.#table.counts,
      connected: this.#link.connected,
      waiting: this.#table.waiting(),
      running: this.#table.running(),
      nodes: this.#nodes.list(),
    };
  }

  /**
   * Adds a listener (see `DistributedEvents`): task started, finished,
   * failed, cancelled, retried, progress; node seen, lost; Redis
   * disconnected, reconnected. Returns the executor.
   */
  on<E extends DistributedEventName>(event: E, listener: DistributedListener<E>): this {
    this.#hub.on(event, listener as (payload: unknown) => void);
    return this;
  }

  /** Like `on`, for one event only. */
  once<E extends DistributedEventName>(event: E, listener: DistributedListener<E>): this {
    this.#hub.once(event, listener as (payload: unknown) => void);
    return this;
  }

  /** Removes a listener added with `on` or `once`. */
  off<E extends DistributedEventName>(event: E, listener: DistributedListener<E>): this {
    this.#hub.off(event, listener as (payload: unknown) => void);
    return this;
  }

  /** How many listeners `event` has. */
  listenerCount(event: DistributedEventName): number {
    return this.#hub.listenerCount(event);
  }

  // ------------------------------------------------------ ExecutorBase hooks

  protected _checkCallable(fn: unknown): void {
    this.#functions.of(fn);
  }

  protected _submitChunk<T, R>(fn: Callable<(item: T) => R>, items: T[]): Future<ChunkOutcome<R>> {
    if (this.#broken !== undefined) return this.#brokenFuture() as Future<ChunkOutcome<R>>;
    const { spec, name } = this.#functions.of(fn);
    return this.#table.create('chunk', spec, name, items, {
      timeout: this.#options.taskTimeout,
      signal: undefined,
      retries: this.#options.retries,
      onProgress: undefined,
    }) as Future<ChunkOutcome<R>>;
  }

  protected override _cancelChunk(future: Future<unknown>): void {
    future.cancel({ running: true });
  }

  protected override _room(): Promise<void> | undefined {
    return this.#table.room();
  }

  protected _defaultBuffersize(chunksize: number): number {
    return chunksize * Math.max(MIN_BUFFERED_CHUNKS, CHUNKS_PER_SLOT * this.#nodes.capacity());
  }

  protected _cancelPending(): void {
    this.#table.cancelPending();
  }

  protected async _shutdown(): Promise<void> {
    await this.#started.catch(() => {});
    // Every future settles first: running tasks finish, waiting ones run.
    while (this.#broken === undefined && this.#table.unsettled() > 0) {
      await new Promise((resolve) => setTimeout(resolve, SETTLED_POLL_MS));
    }
    // Then the jobs of cancelled tasks still on nodes end, and are removed.
    this.#table.flushRemovals();
    const deadline = performance.now() + ORPHAN_WAIT_MS;
    while (
      this.#broken === undefined &&
      this.#table.jobsInFlight() > 0 &&
      performance.now() < deadline
    ) {
      await this.#reconcile(0);
      await new Promise((resolve) => setTimeout(resolve, ORPHAN_POLL_MS));
    }
    for (const timer of this.#timers) clearInterval(timer);
    clearTimeout(this.#reconnectTimer);
    if (this.#broken === undefined) await this.#link.close();
  }

  // -------------------------------------------------------------- internals

  /** A future failed at once because the executor is broken (each gets its own error). */
  #brokenFuture(): Future<unknown> {
    const broken = this.#broken!;
    return this.#table.failedAtOnce(
      new BrokenExecutorError(broken.message, { cause: broken.cause }),
    );
  }

  #break(error: BrokenExecutorError): void {
    if (this.#broken !== undefined) return;
    this.#broken = error;
    for (const timer of this.#timers) clearInterval(timer);
    clearTimeout(this.#reconnectTimer);
    this.#link.abort();
    this.#table.failAll(error);
  }

  #disconnected(error: unknown): void {
    if (this.#hub.wants('disconnected')) this.#hub.emit('disconnected', { error });
    const limit = this.#options.reconnectTimeout;
    if (!Number.isFinite(limit) || this.#reconnectTimer !== undefined) return;
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.#break(
        new BrokenExecutorError(
          `Lost the connection to Redis at ${this.#options.connection.where} for more than ${limit} ms (reconnectTimeout); every unsettled task fails`,
          { cause: error },
        ),
      );
    }, limit);
  }

  #reconnected(): void {
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    if (this.#hub.wants('reconnected')) this.#hub.emit('reconnected', {});
    // Redis may have restarted empty: read every job now.
    void this.#reconcile(0);
  }

  async #reconcile(quietMs: number): Promise<void> {
    if (this.#reconciling || this.#broken !== undefined || !this.#link.connected) return;
    this.#reconciling = true;
    try {
      await this.#table.reconcile(quietMs);
    } catch {
      // Redis went away meanwhile: the next pass, or the reconnection, tries again.
    } finally {
      this.#reconciling = false;
    }
  }

  #every(ms: number, fn: () => void | Promise<void>): void {
    const timer = setInterval(() => void fn(), ms);
    timer.unref();
    this.#timers.push(timer);
  }
}
