/**
 * The Executor interface and the options of its methods, and what every
 * executor shares whatever its transport: shutdown state and `map` (built
 * on a chunk primitive each executor provides). The defaults and checks of
 * those options are in options/.
 */
import { types } from 'node:util';
import { ExecutorShutdownError } from './errors.js';
import type { Future } from './future.js';
import { MapRun } from './map.js';
import type { MapProgress } from './map-progress.js';
import { checkMapOptions, checkShutdownOptions } from './options/index.js';
import type { AnyFunction, TaskRef } from './task.js';
import type { ChunkOutcome } from './wire/chunk-outcome.js';

/**
 * The length of a plain array input (its items are already in memory), or
 * undefined. A proxy is left alone: reading its length could run user code
 * (a trap that throws) before `map` even starts.
 */
function knownLength(iterable: unknown): number | undefined {
  if (!Array.isArray(iterable) || types.isProxy(iterable)) return undefined;
  return iterable.length;
}

/** A function to run, or a `task()` reference to one. */
export type Callable<F extends AnyFunction> = F | TaskRef<F>;

/** What a call of `fn` resolves to. */
export type ResultOf<F extends AnyFunction> = Awaited<ReturnType<F>>;

/** Options of `submit`. */
export interface SubmitOptions {
  /**
   * Time limit for the task, in milliseconds of running time (time spent in
   * the queue does not count, nor waiting for a worker to get ready: the pool
   * executors bound that wait with their `initializerTimeout`). Each attempt
   * of a retried task gets the full limit. Default: the executor's
   * `taskTimeout`; `Infinity` means no limit for this task, whatever
   * `taskTimeout` says.
   */
  timeout?: number | undefined;
  /** Aborting this signal cancels the task, pending or running. */
  signal?: AbortSignal | undefined;
}

/** Options of `map`. */
export interface MapOptions {
  /**
   * Time limit for the whole map in milliseconds, measured from the call (as
   * in Python): iteration rejects with `TimeoutError` and the remaining items
   * are cancelled. Default: no limit.
   */
  timeout?: number | undefined;
  /** Items sent to a worker per message and run there in one go. Default 1. */
  chunksize?: number | undefined;
  /**
   * How many items may be in flight (submitted and not yet consumed). Input is
   * read lazily within this bound, so an endless generator works. Default on
   * the pool executors: an array input all at once, as Python's `Pool.map`
   * (up to 4,096 chunks); any other input 64 chunks, or four per worker if
   * that is more.
   */
  buffersize?: number | undefined;
  /** Aborting this signal cancels the map: iteration rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
  /**
   * Called with `{ done, failed, total }` as chunks finish: at most every
   * 50 ms, and once more when every item is done. `total` is `undefined`
   * until the input has been read to its end (a lazy or endless input).
   * A callback that throws is reported as an `ExecutorListenerWarning`.
   *
   * @example
   * ```ts
   * await pool.map(work, items, {
   *   onProgress: ({ done, total }) => process.stderr.write(`\r${done}/${total ?? '?'}`),
   * });
   * ```
   */
  onProgress?: ((progress: MapProgress) => void) | undefined;
}

/** Options of `shutdown`. */
export interface ShutdownOptions {
  /** Resolve only once running tasks finished and all workers exited. Default `true`. */
  wait?: boolean | undefined;
  /** Cancel the tasks that have not started. Default `false`. */
  cancelFutures?: boolean | undefined;
}

/** How the executor submits a chunk, and how it stops one that is no longer wanted. */
export interface ChunkRunner<T, R> {
  submit(items: T[]): Future<ChunkOutcome<R>>;
  /** Cancels a chunk (pending, and running where the executor can). */
  cancel(future: Future<ChunkOutcome<R>>): void;
  /**
   * A promise to wait on before submitting when the executor's queue is at
   * its bound, so that `map` never overflows `maxQueued`; undefined when
   * there is room.
   */
  room?(): Promise<void> | undefined;
  /**
   * Registers `stop`, called when the executor shuts down while the map
   * still reads its input; returns a function that unregisters it.
   */
  onShutdown?(stop: () => void): () => void;
}

/**
 * The results of `map`: iterate them as they arrive (`for await`), in input
 * order, or await them all as an array. Use one or the other, not both.
 * Leaving a `for await` loop early cancels the items not yet consumed.
 */
export interface MapResult<R> extends AsyncIterableIterator<R>, PromiseLike<R[]> {
  /** Stops the map: cancels the items not yet consumed and closes the input. */
  return(): Promise<IteratorResult<R>>;
}

/**
 * The common interface of `ProcessPoolExecutor` and `ThreadPoolExecutor`.
 */
export interface Executor {
  /** Schedules `fn(...args)` and returns its Future. */
  submit<F extends AnyFunction>(
    fn: Callable<F>,
    args?: Parameters<F>,
    options?: SubmitOptions,
  ): Future<ResultOf<F>>;
  /**
   * Calls `fn(item)` for each item of `iterable`; see `MapResult`.
   * @typeParam F - the function's type: its parameter types the items, its result the results.
   */
  map<F extends (item: any) => any>(
    fn: Callable<F>,
    iterable: Iterable<Parameters<F>[0]> | AsyncIterable<Parameters<F>[0]>,
    options?: MapOptions,
  ): MapResult<ResultOf<F>>;
  /** Stops accepting tasks; see `ShutdownOptions`. Calling it twice is fine. */
  shutdown(options?: ShutdownOptions): Promise<void>;
  /** `shutdown({ wait: true })`, for `await using executor = new ...`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Shared behaviour of executors: the shutdown state and `map`. Subclasses
 * provide `submit`, a chunk primitive for `map`, and the shutdown work.
 */
export abstract class ExecutorBase implements Executor {
  #shutdownRequested = false;
  #shutdownDone: Promise<void> | undefined;
  /** Maps still reading their input: told to stop when the executor shuts down. */
  readonly #openMaps = new Set<() => void>();

  abstract submit<F extends AnyFunction>(
    fn: Callable<F>,
    args?: Parameters<F>,
    options?: SubmitOptions,
  ): Future<ResultOf<F>>;

  /**
   * Calls `fn(item)` for each item of `iterable` on the workers; results in
   * input order, streamed (`for await`) or awaited as an array. See
   * `MapOptions` and `MapResult`.
   * @typeParam F - the function's type: its parameter types the items, its result the results.
   */
  map<F extends (item: any) => any>(
    fn: Callable<F>,
    iterable: Iterable<Parameters<F>[0]> | AsyncIterable<Parameters<F>[0]>,
    options?: MapOptions,
  ): MapResult<ResultOf<F>> {
    this._checkOpen('map');
    this._checkCallable(fn);
    const length = knownLength(iterable);
    const limits = checkMapOptions(options, (chunksize) =>
      this._defaultBuffersize(chunksize, length),
    );
    return new MapRun<Parameters<F>[0], ResultOf<F>>(
      {
        submit: (items) => {
          // A map reads its input lazily, so it may still be submitting
          // after shutdown(): nothing new may start then.
          if (this.#shutdownRequested) {
            throw new ExecutorShutdownError(
              'map() cannot submit the rest of its items: the executor was shut down',
            );
          }
          return this._submitChunk(fn, items);
        },
        cancel: (future) => this._cancelChunk(future),
        room: () => this._room(),
        onShutdown: (stop) => {
          this.#openMaps.add(stop);
          return () => this.#openMaps.delete(stop);
        },
      },
      iterable,
      limits,
    );
  }

  /** Stops accepting work. Idempotent: later calls share the first call's completion. */
  shutdown(options?: ShutdownOptions): Promise<void> {
    try {
      const { wait, cancelFutures } = checkShutdownOptions(options);
      this.#shutdownRequested = true;
      if (cancelFutures) this._cancelPending();
      // Running maps stop reading their input: what they submitted runs
      // (or was just cancelled), and their iteration then ends with an
      // ExecutorShutdownError, also for an endless input.
      for (const stop of [...this.#openMaps]) stop();
      this.#openMaps.clear();
      this.#shutdownDone ??= this._shutdown();
      return wait ? this.#shutdownDone : Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** `shutdown({ wait: true })`, for `await using executor = new ...`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown({ wait: true });
  }

  /** `true` once `shutdown()` was called. */
  get isShutdown(): boolean {
    return this.#shutdownRequested;
  }

  /** Throws `ExecutorShutdownError` after shutdown. */
  protected _checkOpen(method: string): void {
    if (this.#shutdownRequested) {
      throw new ExecutorShutdownError(`cannot call ${method}() after shutdown()`);
    }
  }

  /** Throws a TypeError for something that is neither a function nor a task reference. */
  protected abstract _checkCallable(fn: unknown): void;

  /**
   * Runs `fn` over `items` as one unit of work (one message to a worker).
   * The future resolves with the per-item outcome; it rejects when the unit
   * as a whole failed (worker crash, cancellation, time limit).
   */
  protected abstract _submitChunk<T, R>(
    fn: Callable<(item: T) => R>,
    items: T[],
  ): Future<ChunkOutcome<R>>;

  /**
   * Stops a chunk `map` no longer wants (after a failure, a timeout or an
   * early `break`). The base version cancels it if it has not started.
   */
  protected _cancelChunk(future: Future<unknown>): void {
    future.cancel();
  }

  /** A promise to await before submitting a chunk when the queue is full; undefined if there is room. */
  protected _room(): Promise<void> | undefined {
    return undefined;
  }

  /**
   * The default `buffersize` of `map` for a given `chunksize`, and the
   * input's length when it is an array (undefined: lazy input).
   */
  protected abstract _defaultBuffersize(chunksize: number, inputLength?: number): number;

  /** Cancels every task that has not started (`shutdown({ cancelFutures: true })`). */
  protected abstract _cancelPending(): void;

  /** Runs once, on the first `shutdown()`: finish running work and release workers. */
  protected abstract _shutdown(): Promise<void>;
}
