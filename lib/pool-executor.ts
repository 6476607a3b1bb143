/**
 * What ProcessPoolExecutor and ThreadPoolExecutor share: option validation
 * and the hand-over to the engine. The facades only choose a transport.
 */
import { availableParallelism } from 'node:os';
import type { TransferListItem } from 'node:worker_threads';
import { FunctionRegistry } from './engine/functions.js';
import { makeNonce } from './engine/output.js';
import { type EngineStats, Pool } from './engine/pool.js';
import type { SpawnOptions, Transport } from './engine/transport.js';
import { CancelAll } from './errors.js';
import { PoolEventHub, type PoolEventName, type PoolListener } from './events.js';
import {
  type Callable,
  checkSubmitOptions,
  ExecutorBase,
  type ResultOf,
  type SubmitOptions,
} from './executor.js';
import type { Future } from './future.js';
import type { ChunkOutcome } from './map.js';
import { PipedOutput } from './piped-output.js';
import type { AnyFunction, TaskRef } from './task.js';
import {
  rangeError,
  typeError,
  validateInteger,
  validateOneOf,
  validateOptions,
  validateTimeout,
} from './validate.js';

/** Options both executors accept. All are optional. */
export interface PoolOptions {
  /**
   * Most workers running at once.
   * @default os.availableParallelism()
   */
  maxWorkers?: number | undefined;
  /**
   * Workers kept alive while idle, once the first task was submitted.
   * @default 0
   */
  minWorkers?: number | undefined;
  /**
   * Milliseconds an idle worker above `minWorkers` lives before it is retired.
   * `Infinity` keeps workers until shutdown.
   * @default 10000
   */
  idleTimeout?: number | undefined;
  /**
   * Replace a worker after it ran this many tasks (limits leaks in task
   * code). `Infinity` never recycles.
   * @default Infinity
   */
  maxTasksPerWorker?: number | undefined;
  /** Runs once in every worker before its first task (a function or a `task()` reference). */
  initializer?: AnyFunction | TaskRef | undefined;
  /** Arguments for `initializer`. @default [] */
  initargs?: unknown[] | undefined;
  /**
   * Milliseconds a worker may take to get ready: its start-up and its
   * `initializer` (awaited, if it returns a promise). A worker not ready by
   * then is killed and counts as a failed start, like an initializer that
   * throws: its tasks go to another worker, and after 3 failed starts in a
   * row the executor is broken (`BrokenExecutorError`, whose `cause` is a
   * `TimeoutError`). Applies with or without an initializer. A task's own
   * `timeout` counts only its running time, so this is what bounds the wait
   * of a task for a worker that never gets ready. `Infinity`: no limit.
   * @default 30000
   */
  initializerTimeout?: number | undefined;
  /**
   * Bound of the pending queue. A submit beyond it fails that future at once
   * with `QueueFullError`. `Infinity` is unbounded.
   * @default Infinity
   */
  maxQueued?: number | undefined;
  /** Default time limit of every task, in ms of running time. @default no limit */
  taskTimeout?: number | undefined;
  /** Default number of times a task is re-run after its worker crashed. @default 0 */
  retries?: number | undefined;
  /**
   * Milliseconds between SIGTERM and SIGKILL when a worker must go (shutdown,
   * time limit, cancellation).
   * @default 5000
   */
  shutdownGrace?: number | undefined;
  /**
   * Milliseconds a running task gets to stop after its `currentTask().signal`
   * aborted (time limit, cancellation) before its worker is killed.
   * @default 1000
   */
  cancelGrace?: number | undefined;
  /** Environment of the workers. @default process.env */
  env?: NodeJS.ProcessEnv | undefined;
  /**
   * Node options of the workers. By default the parent's `process.execArgv`
   * (without debugger flags), so a loader such as `--import tsx` applies in
   * the workers too.
   */
  execArgv?: string[] | undefined;
  /**
   * Where the workers' stdout and stderr go.
   * - `'inherit'`: to the parent's stdout and stderr, as they are.
   * - `'capture'`: each task's output is collected and put on its future
   *   (`future.output`, up to 1 MiB per stream), complete once the future
   *   is done; output between tasks goes to the parent's streams.
   * - `'pipe'`: every worker's output, a line at a time tagged `[pid] `, on
   *   the readable streams `executor.stdout` and `executor.stderr` (read
   *   them: what is not read is buffered in memory).
   *
   * With `'capture'` and `'pipe'` every chunk is also an `output` event,
   * with the id of the task that wrote it. In every mode the last 8 KiB of
   * a worker's stderr go into the `WorkerCrashedError` of a crash.
   * Worker threads (ThreadPoolExecutor) capture what JavaScript writes to
   * `process.stdout`/`process.stderr`; output of native code goes to the
   * process's own descriptors.
   * @default 'inherit'
   */
  stdio?: 'inherit' | 'capture' | 'pipe' | undefined;
}

/** `submit` options of the pool executors. */
export interface PoolSubmitOptions extends SubmitOptions {
  /** Re-run the task up to this many times if its worker crashes. Default: the executor's `retries`. */
  retries?: number | undefined;
  /**
   * Called with each value task code reports with `currentTask().progress()`
   * (rate-limited by the worker to one per 50 ms; the last value always
   * arrives, before the result). A callback that throws is reported as an
   * `ExecutorListenerWarning`.
   */
  onProgress?: ((value: unknown) => void) | undefined;
  /**
   * ThreadPoolExecutor: ArrayBuffers (or MessagePorts) among the arguments
   * to move to the worker thread instead of copying them: zero copy. They
   * belong to the task from `submit` on, and become detached (length 0) in
   * the caller when the task is sent to a worker. Task code can move its
   * result back the same way with `transfer(value, list)`. A
   * ProcessPoolExecutor copies everything between processes and ignores
   * this option.
   * @example
   * ```ts
   * const pixels = new Uint8Array(1 << 24);
   * await pool.submit(blur, [pixels], { transfer: [pixels.buffer] });
   * ```
   */
  transfer?: readonly (TransferListItem | ArrayBufferLike)[] | undefined;
}

/**
 * What `stats()` returns: workers and tasks now, counters since the
 * executor was made, time distributions over the last 1,024 tasks, and the
 * last reported resources of each worker. A `map` chunk counts as one task.
 */
export interface PoolStats extends EngineStats {}

/** The arguments of a task submitted without any: one shared array (only ever read). */
const NO_ARGS: unknown[] = [];

const DEFAULTS = Object.freeze({
  minWorkers: 0,
  idleTimeout: 10_000,
  maxTasksPerWorker: Number.POSITIVE_INFINITY,
  maxQueued: Number.POSITIVE_INFINITY,
  retries: 0,
  shutdownGrace: 5_000,
  cancelGrace: 1_000,
  initializerTimeout: 30_000,
});

/** Validated settings shared by both executors. */
export interface CheckedPoolOptions {
  maxWorkers: number;
  minWorkers: number;
  idleTimeout: number;
  maxTasksPerWorker: number;
  maxQueued: number;
  taskTimeout: number | undefined;
  retries: number;
  shutdownGrace: number;
  cancelGrace: number;
  /** undefined: no limit. */
  initializerTimeout: number | undefined;
  initializer: AnyFunction | TaskRef | undefined;
  initargs: unknown[];
  env: NodeJS.ProcessEnv | undefined;
  execArgv: string[] | undefined;
  stdio: 'inherit' | 'capture' | 'pipe';
}

/** Validates the options of both executors; throws TypeError/RangeError naming the option. */
export function checkPoolOptions(options: PoolOptions | undefined): CheckedPoolOptions {
  validateOptions('options', options);
  const o = options ?? {};
  const maxWorkers = validateInteger('maxWorkers', o.maxWorkers, 1, availableParallelism());
  const minWorkers = validateInteger('minWorkers', o.minWorkers, 0, DEFAULTS.minWorkers);
  if (minWorkers > maxWorkers) {
    throw rangeError('minWorkers', `at most maxWorkers (${maxWorkers})`, minWorkers);
  }
  if (o.initargs !== undefined && !Array.isArray(o.initargs)) {
    throw typeError('initargs', 'an array', o.initargs);
  }
  if (
    o.execArgv !== undefined &&
    (!Array.isArray(o.execArgv) || o.execArgv.some((a) => typeof a !== 'string'))
  ) {
    throw typeError('execArgv', 'an array of strings', o.execArgv);
  }
  if (o.env !== undefined && (o.env === null || typeof o.env !== 'object')) {
    throw typeError('env', 'an object', o.env);
  }
  return {
    maxWorkers,
    minWorkers,
    idleTimeout:
      validateTimeout('idleTimeout', o.idleTimeout ?? DEFAULTS.idleTimeout) ??
      Number.POSITIVE_INFINITY,
    maxTasksPerWorker: validateInteger(
      'maxTasksPerWorker',
      o.maxTasksPerWorker,
      1,
      DEFAULTS.maxTasksPerWorker,
      Number.POSITIVE_INFINITY,
    ),
    maxQueued: validateInteger(
      'maxQueued',
      o.maxQueued,
      1,
      DEFAULTS.maxQueued,
      Number.POSITIVE_INFINITY,
    ),
    taskTimeout: validateTimeout('taskTimeout', o.taskTimeout),
    retries: validateInteger('retries', o.retries, 0, DEFAULTS.retries),
    shutdownGrace: validateTimeout('shutdownGrace', o.shutdownGrace ?? DEFAULTS.shutdownGrace) ?? 0,
    cancelGrace: validateTimeout('cancelGrace', o.cancelGrace ?? DEFAULTS.cancelGrace) ?? 0,
    initializerTimeout: validateTimeout(
      'initializerTimeout',
      o.initializerTimeout ?? DEFAULTS.initializerTimeout,
    ),
    initializer: o.initializer,
    initargs: o.initargs ?? [],
    env: o.env,
    execArgv: o.execArgv,
    stdio: validateOneOf('stdio', o.stdio, ['inherit', 'capture', 'pipe'] as const, 'inherit'),
  };
}

/**
 * What ProcessPoolExecutor and ThreadPoolExecutor have in common beyond the
 * `Executor` interface: events, statistics, `cancelAll`, backpressure and
 * piped output. Use it as a type for either; construct one of the two.
 */
export abstract class PoolExecutor extends ExecutorBase {
  readonly #functions = new FunctionRegistry();
  readonly #pool: Pool;
  readonly #maxWorkers: number;
  readonly #maxQueued: number;
  readonly #events = new PoolEventHub(this);
  readonly #piped: PipedOutput | undefined;

  protected constructor(
    transport: Transport,
    checked: CheckedPoolOptions,
    spawn: Omit<SpawnOptions, 'stdio' | 'nonce'>,
  ) {
    super();
    this.#maxWorkers = checked.maxWorkers;
    this.#maxQueued = checked.maxQueued;
    const piped = checked.stdio === 'pipe' ? new PipedOutput() : undefined;
    this.#piped = piped;
    const initializer =
      checked.initializer === undefined
        ? undefined
        : this.#functions.lookup(checked.initializer, 'initializer');
    this.#pool = new Pool({
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
      initializerTimeout: checked.initializerTimeout,
      spawn: {
        ...spawn,
        stdio: checked.stdio,
        nonce: checked.stdio === 'inherit' ? undefined : makeNonce(),
      },
      events: this.#events,
      pipe:
        piped === undefined ? undefined : (pid, stream, chunk) => piped.write(pid, stream, chunk),
    });
  }

  /**
   * With `stdio: 'pipe'`: every worker's stdout, a line at a time, each
   * line prefixed with `[pid] `; ends after shutdown. `undefined` otherwise.
   */
  get stdout(): NodeJS.ReadableStream | undefined {
    return this.#piped?.stdout;
  }

  /** With `stdio: 'pipe'`: every worker's stderr, like `stdout`. `undefined` otherwise. */
  get stderr(): NodeJS.ReadableStream | undefined {
    return this.#piped?.stderr;
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
    const { timeout, signal } = checkSubmitOptions(options);
    const retries =
      options?.retries === undefined
        ? undefined
        : validateInteger('retries', options.retries, 0, 0);
    const onProgress = options?.onProgress;
    if (onProgress !== undefined && typeof onProgress !== 'function') {
      throw typeError('onProgress', 'a function', onProgress);
    }
    const transfer = options?.transfer;
    if (transfer !== undefined && !Array.isArray(transfer)) {
      throw typeError('transfer', 'an array of ArrayBuffers or MessagePorts', transfer);
    }
    return this.#pool.submit<ResultOf<F>>('run', info, args ?? NO_ARGS, {
      // Infinity opts one task out of the executor's taskTimeout.
      timeout: options?.timeout === Number.POSITIVE_INFINITY ? Number.POSITIVE_INFINITY : timeout,
      signal,
      retries,
      onProgress,
      // A typed array's `.buffer` is typed ArrayBufferLike; postMessage checks at run time.
      transfer: transfer as readonly TransferListItem[] | undefined,
    });
  }

  /**
   * Cancels every task of this executor that is not done: pending ones never
   * start, running ones are stopped (their signal aborts, then their worker
   * is killed after `cancelGrace`). Their futures end cancelled with a
   * `CancelledError` whose `cause` is `reason` (a `CancelAll` by default).
   * The executor stays usable. Returns how many tasks were cancelled.
   */
  cancelAll(reason?: unknown): number {
    const cause = reason instanceof CancelAll ? reason : new CancelAll(reason);
    return this.#pool.cancelAll(cause);
  }

  /**
   * Resolves once fewer than `limit` tasks wait in the queue (default: the
   * `maxQueued` bound). Await it before submitting to stay under the bound:
   * `await pool.whenQueueBelow(); pool.submit(...)`. `map` does this itself.
   */
  whenQueueBelow(limit?: number): Promise<void> {
    const bound = validateInteger('limit', limit, 1, this.#maxQueued, Number.POSITIVE_INFINITY);
    return this.#pool.whenQueueBelow(bound);
  }

  /**
   * Workers and tasks now, counters, recent run and wait times, and each
   * worker's last reported resources (see `PoolStats`). Cheap: call it as
   * often as you like.
   */
  stats(): PoolStats {
    return this.#pool.stats();
  }

  /** @internal */
  _debug(): unknown {
    return this.#pool._debug();
  }

  /** Process ids (ThreadPoolExecutor: thread ids) of the live workers. */
  workerIds(): number[] {
    return this.#pool.workerIds();
  }

  protected _checkCallable(fn: unknown): void {
    this.#functions.lookup(fn);
  }

  protected _submitChunk<T, R>(fn: Callable<(item: T) => R>, items: T[]): Future<ChunkOutcome<R>> {
    return this.#pool.submit<ChunkOutcome<R>>('chunk', this.#functions.lookup(fn), items, {
      timeout: undefined,
      signal: undefined,
      retries: undefined,
      onProgress: undefined,
      transfer: undefined,
    });
  }

  protected override _cancelChunk(future: Future<unknown>): void {
    future.cancel({ running: true });
  }

  protected override _room(): Promise<void> | undefined {
    return this.#pool.room();
  }

  protected _defaultBuffersize(chunksize: number): number {
    return chunksize * this.#maxWorkers * 4;
  }

  protected _cancelPending(): void {
    this.#pool.cancelPending();
  }

  protected _shutdown(): Promise<void> {
    return this.#pool.shutdown().then(() => this.#piped?.end());
  }
}
