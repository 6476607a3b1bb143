/**
 * What ProcessPoolExecutor and ThreadPoolExecutor share: the hand-over to
 * the engine (engine/scheduler.ts), events, statistics, `cancelAll`,
 * backpressure and piped output. The facades only check their options
 * (options/) and choose a transport.
 */
import { FunctionRegistry } from './engine/functions.js';
import { Scheduler } from './engine/scheduler.js';
import { CancelAll, isCancelAll } from './errors.js';
import { PoolEventHub, type PoolEventName, type PoolListener } from './events.js';
import { type Callable, ExecutorBase, type ResultOf } from './executor.js';
import type { Future } from './future.js';
import { checkMapReduce, type MapReduceFuture, startMapReduce } from './map-reduce.js';
import type { MapReduceOptions, MapReduceSpec } from './map-reduce-types.js';
import {
  type CheckedPoolOptions,
  checkPoolSubmitOptions,
  DEFAULTS,
  type PoolSubmitOptions,
} from './options/index.js';
import type { PoolStats } from './stats.js';
import type { AnyFunction } from './task.js';
import type { SpawnOptions, Transport } from './transport/transport.js';
import { typeError, validateInteger } from './validate.js';
import type { ChunkOutcome } from './wire/chunk-outcome.js';

/** The arguments of a task submitted without any: one shared array (only ever read). */
const NO_ARGS: unknown[] = [];

/**
 * The settings of a map-reduce explorer: the run has its own time limit and
 * signal (engine/map-reduce/coordinator.ts), and a started explorer is never
 * run again (its nodes died with its worker).
 */
const EXPLORER_SETTINGS = Object.freeze({
  timeout: Number.POSITIVE_INFINITY,
  signal: undefined,
  retries: 0,
  onProgress: undefined,
  transfer: undefined,
});

/** The settings of a map chunk: none of a submit's apply. */
const CHUNK_SETTINGS = Object.freeze({
  timeout: undefined,
  signal: undefined,
  retries: undefined,
  onProgress: undefined,
  transfer: undefined,
});

/**
 * What ProcessPoolExecutor and ThreadPoolExecutor have in common beyond the
 * `Executor` interface: events, statistics, `cancelAll`, backpressure and
 * piped output. Use it as a type for either; construct one of the two.
 */
export abstract class PoolExecutor extends ExecutorBase {
  readonly #functions = new FunctionRegistry();
  readonly #scheduler: Scheduler;
  readonly #maxWorkers: number;
  readonly #maxQueued: number;
  readonly #taskTimeout: number | undefined;
  readonly #events = new PoolEventHub(this);

  protected constructor(
    transport: Transport,
    checked: CheckedPoolOptions,
    spawn: Omit<SpawnOptions, 'stdio' | 'nonce'>,
  ) {
    super();
    this.#maxWorkers = checked.maxWorkers;
    this.#maxQueued = checked.maxQueued;
    this.#taskTimeout = checked.taskTimeout;
    const initializer =
      checked.initializer === undefined
        ? undefined
        : this.#functions.lookup(checked.initializer, 'initializer');
    this.#scheduler = new Scheduler(
      {
        transport,
        maxWorkers: checked.maxWorkers,
        minWorkers: checked.minWorkers,
        idleTimeout: checked.idleTimeout,
        maxTasksPerWorker: checked.maxTasksPerWorker,
        initializer,
        initargs: checked.initargs,
        maxQueued: checked.maxQueued,
        taskTimeout: checked.taskTimeout,
        retries: checked.retries,
        shutdownGrace: checked.shutdownGrace,
        cancelGrace: checked.cancelGrace,
        maxNestingDepth: checked.maxNestingDepth,
        maxNestedTasks: checked.maxNestedTasks,
        functions: this.#functions,
        initializerTimeout: checked.initializerTimeout,
        spawn: { ...spawn, stdio: checked.stdio },
      },
      this.#events,
    );
  }

  /**
   * With `stdio: 'pipe'`: every worker's stdout, a line at a time, each
   * line prefixed with `[pid] `; ends after shutdown. `undefined` otherwise.
   */
  get stdout(): NodeJS.ReadableStream | undefined {
    return this.#scheduler.stdout;
  }

  /** With `stdio: 'pipe'`: every worker's stderr, like `stdout`. `undefined` otherwise. */
  get stderr(): NodeJS.ReadableStream | undefined {
    return this.#scheduler.stderr;
  }

  /**
   * Adds a listener for an executor event (see `PoolEvents`): task
   * started/finished/failed/cancelled/retried/progress, worker
   * spawned/exited, `drain`, `idle`, `output`. Listeners run synchronously,
   * inside the engine; one that throws is reported as an
   * `ExecutorListenerWarning` and cannot disturb the executor. The same
   * events are published on `node:diagnostics_channel` as
   * `concurrent-futures:<event>`. Returns the executor.
   *
   * @example
   * ```ts
   * pool.on('taskFailed', ({ taskId, error }) => console.error(taskId, error));
   * ```
   */
  on<E extends PoolEventName>(event: E, listener: PoolListener<E>): this {
    this.#events.on(event, listener);
    return this;
  }

  /** Like `on`, for one event only. Returns the executor. */
  once<E extends PoolEventName>(event: E, listener: PoolListener<E>): this {
    this.#events.once(event, listener);
    return this;
  }

  /** Removes a listener added with `on` or `once`. Returns the executor. */
  off<E extends PoolEventName>(event: E, listener: PoolListener<E>): this {
    this.#events.off(event, listener);
    return this;
  }

  /** Same as `off` (for `events.once(executor, name)` and `events.on`). */
  removeListener<E extends PoolEventName>(event: E, listener: PoolListener<E>): this {
    return this.off(event, listener);
  }

  /** How many listeners `event` has. */
  listenerCount(event: PoolEventName): number {
    return this.#events.listenerCount(event);
  }

  /** The most workers this executor runs at once. */
  get maxWorkers(): number {
    return this.#maxWorkers;
  }

  /**
   * Schedules `fn(...args)` on a worker. `fn` is a self-contained function
   * (its source is sent) or a `task()` reference. Bad input (not a function,
   * bad options) throws at once; problems of this task alone (an argument
   * that cannot be cloned, a missing export) fail only its future.
   */
  submit<F extends AnyFunction>(
    fn: Callable<F>,
    args?: Parameters<F>,
    options?: PoolSubmitOptions,
  ): Future<ResultOf<F>> {
    this._checkOpen('submit');
    const info = this.#functions.lookup(fn);
    if (args !== undefined && !Array.isArray(args)) throw typeError('args', 'an array', args);
    const settings = checkPoolSubmitOptions(options);
    return this.#scheduler.submit<ResultOf<F>>('run', info, args ?? NO_ARGS, settings);
  }

  /**
   * Sage's map-reduce over a forest known only as it is explored
   * (docs/map-reduce.md): the result is `reduce` over `map(node)` for every
   * node reachable from `roots` through `children` (and kept by
   * `postProcess`), starting from `init`. One explorer per worker (up to
   * `options.maxWorkers`) explores its part depth-first and reduces
   * locally; an idle explorer steals the oldest half of a busy one's queue,
   * through the parent. `reduce` should be associative and commutative.
   *
   * A `CancelAll` thrown by `map`, `children` or `postProcess` stops the
   * search and the future rejects with it (the executor's other tasks are
   * cancelled, as always); `timeout` rejects it with `TaskTimeoutError`,
   * `signal` and `cancel({ running: true })` cancel it. If an explorer's
   * worker dies, its nodes are lost: the future rejects with
   * `WorkerCrashedError`. Explorers are tasks of the executor (kind
   * `'mapReduce'` in events). Bad input throws at once.
   *
   * @example
   * ```ts
   * // Count the nodes of a binary tree of depth 10 (2047 nodes).
   * const count = await pool.mapReduce({
   *   roots: [0],
   *   children: (depth) => (depth < 10 ? [depth + 1, depth + 1] : []),
   *   map: () => 1,
   *   reduce: (a, b) => a + b,
   *   init: 0,
   * });
   * ```
   */
  mapReduce<N, V, R = V>(
    spec: MapReduceSpec<N, V, R>,
    options?: MapReduceOptions,
  ): MapReduceFuture<R> {
    this._checkOpen('mapReduce');
    const checked = checkMapReduce(
      this.#functions,
      spec,
      options,
      this.#maxWorkers,
      this.#taskTimeout,
    );
    return startMapReduce<R>(
      (map, explorer) => this.#scheduler.submit('explore', map, [explorer], EXPLORER_SETTINGS),
      checked,
    );
  }

  /**
   * Cancels every task of this executor that is not done: pending ones never
   * start, running ones are stopped (their signal aborts, then their worker
   * is killed after `cancelGrace`). Their futures end cancelled with a
   * `CancelledError` whose `cause` is `reason` (a `CancelAll` by default).
   * The executor stays usable. Returns how many tasks were cancelled.
   */
  cancelAll(reason?: unknown): number {
    const cause = isCancelAll(reason) ? reason : new CancelAll(reason);
    return this.#scheduler.cancelAll(cause);
  }

  /**
   * Resolves once fewer than `limit` tasks wait in the queue (default: the
   * `maxQueued` bound). Await it before submitting to stay under the bound:
   * `await pool.whenQueueBelow(); pool.submit(...)`. `map` does this itself.
   */
  whenQueueBelow(limit?: number): Promise<void> {
    const bound = validateInteger('limit', limit, 1, this.#maxQueued, Number.POSITIVE_INFINITY);
    return this.#scheduler.whenQueueBelow(bound);
  }

  /**
   * Workers and tasks now, counters, recent run and wait times, and each
   * worker's last reported resources (see `PoolStats`). Cheap: call it as
   * often as you like.
   */
  stats(): PoolStats {
    return this.#scheduler.stats();
  }

  /** Process ids (ThreadPoolExecutor: thread ids) of the live workers. */
  workerIds(): number[] {
    return this.#scheduler.workerIds();
  }

  protected _checkCallable(fn: unknown): void {
    this.#functions.lookup(fn);
  }

  protected _submitChunk<T, R>(fn: Callable<(item: T) => R>, items: T[]): Future<ChunkOutcome<R>> {
    return this.#scheduler.submit<ChunkOutcome<R>>(
      'chunk',
      this.#functions.lookup(fn),
      items,
      CHUNK_SETTINGS,
    );
  }

  protected override _cancelChunk(future: Future<unknown>): void {
    future.cancel({ running: true });
  }

  protected override _room(): Promise<void> | undefined {
    return this.#scheduler.room();
  }

  protected _defaultBuffersize(chunksize: number, inputLength?: number): number {
    const atLeast = Math.max(
      this.#maxWorkers * DEFAULTS.chunksInFlightPerWorker,
      DEFAULTS.minChunksInFlight,
    );
    const whole =
      inputLength === undefined
        ? 0
        : Math.min(Math.ceil(inputLength / chunksize), DEFAULTS.maxChunksInFlight);
    return chunksize * Math.max(atLeast, whole);
  }

  protected _cancelPending(): void {
    this.#scheduler.cancelPending();
  }

  protected _shutdown(): Promise<void> {
    return this.#scheduler.shutdown();
  }
}
