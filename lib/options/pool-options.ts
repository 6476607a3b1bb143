/**
 * The pool executors' options as users write them: what each means, in
 * TSDoc with its default, and the defaults of every option (`DEFAULTS`, one
 * frozen constant). The checks that turn them into settings the engine can
 * trust are in checks.ts.
 */
import type { ResourceLimits, TransferListItem } from 'node:worker_threads';
import type { SubmitOptions } from '../executor.js';
import type { AnyFunction, TaskRef } from '../task.js';

/**
 * The defaults of the pool executors' options (`maxWorkers` defaults to
 * `os.availableParallelism()`, computed when an executor is made) and of
 * `map`.
 */
export const DEFAULTS = Object.freeze({
  minWorkers: 0,
  idleTimeout: 10_000,
  maxTasksPerWorker: Number.POSITIVE_INFINITY,
  maxQueued: Number.POSITIVE_INFINITY,
  retries: 0,
  shutdownGrace: 5_000,
  cancelGrace: 1_000,
  initializerTimeout: 30_000,
  stdio: 'inherit',
  /** Nested submission: how deep a tree of tasks may grow (a top-level task is at depth 0). */
  maxNestingDepth: 64,
  /** Nested submission: nested tasks unfinished at once, in the whole executor. */
  maxNestedTasks: 10_000,
  /** `map`: items per message to a worker. */
  chunksize: 1,
  /**
   * `map` on a pool: the default `buffersize` is at least this many chunks
   * per worker: one running, one queued behind it in the worker (so it never
   * waits for the parent), and two finished ones the consumer may not have
   * taken yet.
   */
  chunksInFlightPerWorker: 4,
  /**
   * ... and at least this many chunks in all. Fewer starve both sides of a
   * chunked map: with 8 chunks in flight the parent idled 35% of a 200k-item
   * map and each worker ~75% (each side waits for the other's round trip);
   * with 64, 2M items went 5.6 -> 8.3 M items/s (docs/performance.md).
   */
  minChunksInFlight: 64,
  /**
   * An array input (its length is known, its items already in memory) is
   * all in flight at once, as Python's `Pool.map` submits every chunk, up to
   * this many chunks: the bound keeps the engine's per-chunk records (a
   * future and a task each) in bounded memory for huge inputs.
   */
  maxChunksInFlight: 4096,
} as const);

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
  /**
   * Nested submission (`currentTask().executor`, docs/nested.md): how deep
   * a tree of tasks may grow. A top-level task is at depth 0, a task it
   * submits at depth 1. A submit beyond it fails that nested future with a
   * `NestingLimitError` (`limit: 'depth'`): a runaway recursion ends with a
   * clear error instead of exhausting memory.
   * @default 64
   */
  maxNestingDepth?: number | undefined;
  /**
   * Nested submission: how many nested tasks may be unfinished at once in
   * the whole executor. A submit beyond it fails that nested future with a
   * `NestingLimitError` (`limit: 'count'`). Bounds what a tree of tasks
   * costs the parent process.
   * @default 10000
   */
  maxNestedTasks?: number | undefined;
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

/** Options of `new ProcessPoolExecutor(options)`. */
export interface ProcessPoolOptions extends PoolOptions {
  /** Working directory of the worker processes. @default process.cwd() */
  cwd?: string | undefined;
}

/** Options of `new ThreadPoolExecutor(options)`. */
export interface ThreadPoolOptions extends PoolOptions {
  /**
   * Heap limits of each worker thread (`worker_threads` `resourceLimits`).
   * A thread that runs out of its heap fails its task with a
   * `WorkerCrashedError` whose `reason` is `'out-of-memory'`, and is replaced,
   * instead of taking the whole process down.
   * @example { maxOldGenerationSizeMb: 256 }
   */
  resourceLimits?: ResourceLimits | undefined;
}
