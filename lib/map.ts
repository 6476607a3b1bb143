/**
 * The `map` machinery, independent of how work reaches a worker.
 *
 * Input is read lazily in chunks of `chunksize` items; each chunk becomes one
 * unit of work (a Future of its per-item outcome). At most `buffersize` items
 * are in flight, counting items submitted but not yet handed to the consumer,
 * so a slow consumer or an endless generator cannot grow memory. Results come
 * out in input order. The first failure in input order ends the iteration
 * with that item's error, after the results before it; everything after it is
 * cancelled as soon as the failure is known, and the input is closed.
 */
import { isThenable } from './describe.js';
import { ExecutorShutdownError, TimeoutError } from './errors.js';
import type { ChunkRunner } from './executor.js';
import type { Future } from './future.js';
import { ArraySource, flatten, openSource, type Source, settled } from './map-input.js';
import { MapProgressCounter } from './map-progress.js';
import type { MapLimits } from './options/index.js';
import type { ChunkOutcome } from './wire/chunk-outcome.js';

/** A chunk submitted and not yet handed to the consumer. */
interface InflightChunk<R> {
  future: Future<ChunkOutcome<R>>;
  size: number;
  /** Position of the chunk in the input, counting from 0. */
  seq: number;
}

/** Runs a map; the object users receive from `executor.map()`. */
export class MapRun<T, R> implements AsyncIterableIterator<R>, PromiseLike<R[]> {
  readonly #runner: ChunkRunner<T, R>;
  readonly #limits: MapLimits;
  readonly #deadline: number | undefined;
  #source: Source<T> | undefined;
  readonly #inflight: InflightChunk<R>[] = [];
  #inflightItems = 0;
  #nextSeq = 0;
  /** Chunks after this one are not wanted: an earlier one failed. */
  #cutoff = Number.POSITIVE_INFINITY;
  #cancelling = false;
  /** Values of the head chunk not yet handed out. */
  /** Values ready to hand out (a chunk's: maybe packed numbers, wire/chunk-outcome.ts). */
  #ready: ArrayLike<R> = [];
  #readyIndex = 0;
  /** A failure to raise once the values already received are handed out. */
  #pendingFailure: { error: unknown } | undefined;
  /** The input threw: raise that after every chunk submitted before it. */
  #inputFailure: { error: unknown } | undefined;
  /** Set when the run stops early (timeout, signal, input error, break). */
  #stopped = false;
  #wakeStopped: (() => void) | undefined;
  #filling: Promise<void> | undefined;
  #finished = false;
  #collecting: Promise<R[]> | undefined;
  #iterated = false;
  #onAbort: (() => void) | undefined;
  readonly #progress: MapProgressCounter;
  /** Wakes a consumer waiting for the next chunk to be submitted. */
  #submitted: (() => void) | undefined;
  /** Unregisters from the executor's shutdown, once the input is closed. */
  #untrack: (() => void) | undefined;

  constructor(
    runner: ChunkRunner<T, R>,
    iterable: Iterable<T> | AsyncIterable<T>,
    limits: MapLimits,
  ) {
    this.#runner = runner;
    this.#limits = limits;
    this.#progress = new MapProgressCounter(limits.onProgress);
    this.#deadline = limits.timeout === undefined ? undefined : performance.now() + limits.timeout;
    this.#source = openSource(iterable);
    const { signal } = limits;
    if (signal !== undefined) {
      if (signal.aborted) {
        this.#stop({ error: signal.reason });
      } else {
        this.#onAbort = () => this.#stop({ error: signal.reason });
        signal.addEventListener('abort', this.#onAbort, { once: true });
      }
    }
    this.#untrack = runner.onShutdown?.(() => this.#executorShutdown());
    // Work starts at the call, as in Python, not at the first pull.
    if (!this.#stopped) void this.#fill();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<R>> {
    this.#iterated = true;
    if (this.#readyIndex >= this.#ready.length && !(await this.#refill())) {
      return { value: undefined, done: true };
    }
    return { value: this.#ready[this.#readyIndex++] as R, done: false };
  }

  /**
   * Makes values ready to hand out: waits for the head chunk and takes its
   * values. Returns false once the run is over; throws the run's failure
   * after the values before it were handed out.
   */
  async #refill(): Promise<boolean> {
    this.#ready = [];
    this.#readyIndex = 0;
    for (;;) {
      if (this.#finished) return false;
      const failure =
        this.#pendingFailure ?? (this.#inflight.length === 0 ? this.#inputFailure : undefined);
      if (failure !== undefined) {
        this.#finish();
        throw failure.error;
      }
      const head = this.#inflight[0];
      if (head === undefined) {
        if (this.#source === undefined && this.#filling === undefined) {
          this.#finish();
          return false;
        }
        // Wake at the first chunk submitted, not when the filling ends: an
        // async input may pause for long (or for good) after a few items,
        // and those must not wait for the buffer to fill.
        await this.#wait(Promise.race([this.#filling ?? this.#fill(), this.#nextSubmit()]));
        continue;
      }
      if (!head.future.done()) await this.#wait(settled(head.future));
      if (this.#inflight[0] !== head || !head.future.done()) continue;
      this.#inflight.shift();
      this.#inflightItems -= head.size;
      this.#take(head.future);
      if (this.#pendingFailure === undefined) void this.#fill();
      if (this.#ready.length > 0) return true;
    }
  }

  async return(): Promise<IteratorResult<R>> {
    this.#stop(undefined);
    this.#finish();
    return { value: undefined, done: true };
  }

  async throw(error?: unknown): Promise<IteratorResult<R>> {
    this.#stop(undefined);
    this.#finish();
    throw error;
  }

  // biome-ignore lint/suspicious/noThenProperty: a map result is deliberately awaitable.
  then<R1 = R[], R2 = never>(
    onfulfilled?: ((value: R[]) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: any) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.#collect().then(onfulfilled, onrejected);
  }

  #collect(): Promise<R[]> {
    if (this.#collecting !== undefined) return this.#collecting;
    if (this.#iterated) {
      this.#collecting = Promise.reject(
        new TypeError(
          'This map result is already being iterated; await it or iterate it, not both',
        ),
      );
    } else {
      this.#iterated = true;
      // Whole chunks at a time: no promise, and no JavaScript step, per item.
      this.#collecting = (async () => {
        const chunks: ArrayLike<R>[] = [];
        while (await this.#refill()) {
          chunks.push(
            this.#readyIndex === 0
              ? this.#ready
              : Array.prototype.slice.call(this.#ready, this.#readyIndex),
          );
        }
        return flatten(chunks);
      })();
    }
    this.#collecting.catch(() => undefined);
    return this.#collecting;
  }

  /** Moves the outcome of a settled head chunk into the ready buffer. */
  #take(future: Future<ChunkOutcome<R>>): void {
    if (future.cancelled() || future._failed()) {
      this.#pendingFailure ??= { error: future._error() };
      return;
    }
    const outcome = future._value() as ChunkOutcome<R>;
    this.#ready = outcome.values;
    this.#readyIndex = 0;
    if (outcome.failed) this.#pendingFailure ??= { error: outcome.error };
  }

  /** Reads input and submits chunks while there is room in the buffer. */
  #fill(): Promise<void> {
    if (this.#filling !== undefined) return this.#filling;
    // With a synchronous input, run() may complete before it returns; the
    // flag keeps a finished run from being recorded as still filling.
    let ended = false;
    const run = async (): Promise<void> => {
      const { chunksize, buffersize } = this.#limits;
      let submitting = false;
      try {
        while (this.#source !== undefined && this.#inflightItems < buffersize) {
          // Items of the next chunk: a whole chunk, or what the buffer has left.
          const wanted = Math.min(chunksize, buffersize - this.#inflightItems);
          let items: T[] = [];
          if (this.#source instanceof ArraySource) {
            // An array is read by slices, not item by item.
            items = this.#source.take(wanted);
            if (items.length === 0) this.#exhausted();
          }
          while (items.length < wanted && !(this.#source instanceof ArraySource)) {
            const source = this.#source;
            if (source === undefined) return;
            const step = source.next();
            const result = isThenable(step) ? await step : step;
            // The run may have stopped while an async input was being read.
            if (this.#source === undefined) return;
            if (result.done) {
              this.#exhausted();
              break;
            }
            items.push(result.value);
          }
          if (items.length === 0) break;
          // The executor's queue at its bound: wait for room in it.
          const room = this.#runner.room?.();
          if (room !== undefined) {
            await room;
            if (this.#stopped || this.#finished) return;
          }
          submitting = true;
          const chunk: InflightChunk<R> = {
            future: this.#runner.submit(items),
            size: items.length,
            seq: this.#nextSeq++,
          };
          this.#inflight.push(chunk);
          this.#inflightItems += items.length;
          this.#progress.read += items.length;
          chunk.future._addWaiter(this.#onChunkDone);
          submitting = false;
          this.#submitted?.();
          this.#submitted = undefined;
        }
      } catch (error) {
        // The input itself threw (or submitting failed): the failure sits at
        // the current position, after everything submitted so far. An input
        // that threw is done; one we stopped reading is told so.
        if (submitting) {
          this.#closeSource();
        } else {
          this.#untrack?.();
          this.#untrack = undefined;
          this.#source = undefined;
        }
        this.#inputFailure ??= { error };
      } finally {
        ended = true;
        this.#filling = undefined;
      }
    };
    const filling = run();
    if (!ended) this.#filling = filling;
    return filling;
  }

  /**
   * The executor shut down while the map still reads its input: read no
   * more. The chunks submitted so far run to their end (unless shutdown
   * cancelled them); the iteration then rejects with ExecutorShutdownError,
   * at the position where reading stopped.
   */
  #executorShutdown(): void {
    if (this.#source === undefined) return;
    this.#inputFailure ??= {
      error: new ExecutorShutdownError(
        `map() stopped reading its input after ${this.#progress.read} items: the executor was shut down`,
      ),
    };
    this.#closeSource();
    // A consumer waiting for the input (which may never yield again) wakes up.
    this.#wakeStopped?.();
  }

  /** Resolves when the next chunk is submitted. */
  #nextSubmit(): Promise<void> {
    return new Promise((resolve) => {
      this.#submitted = resolve;
    });
  }

  /** The input has no more items: the total is known. */
  #exhausted(): void {
    this.#untrack?.();
    this.#untrack = undefined;
    this.#source = undefined;
    this.#progress.inputEnded();
  }

  /** Counts a settled chunk for progress; a failed one also cancels what comes after it. */
  readonly #onChunkDone = (future: Future<ChunkOutcome<R>>): void => {
    if (!future.cancelled()) this.#progress.chunkSettled(future);
    if (this.#cancelling) return;
    const failed =
      future.cancelled() || future._failed() || (future._value() as ChunkOutcome<R>).failed;
    if (!failed) return;
    const chunk = this.#inflight.find((c) => c.future === future);
    if (chunk === undefined || chunk.seq >= this.#cutoff) return;
    this.#cutoff = chunk.seq;
    this.#cancelFrom(chunk.seq + 1);
    this.#closeSource();
  };

  /** Cancels every in-flight chunk at or after input position `seq`. */
  #cancelFrom(seq: number): void {
    this.#cancelling = true;
    try {
      for (const chunk of this.#inflight) {
        if (chunk.seq >= seq && !chunk.future.done()) this.#runner.cancel(chunk.future);
      }
    } finally {
      this.#cancelling = false;
    }
  }

  /**
   * Ends the run early: cancel everything not yet handed out and close the
   * input. With a failure, the iteration rejects with it (values already
   * received were handed out); without one (early `break`), it just ends.
   */
  #stop(failure: { error: unknown } | undefined): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (failure !== undefined) this.#pendingFailure ??= failure;
    this.#cancelFrom(0);
    this.#closeSource();
    this.#wakeStopped?.();
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#progress.stop();
    this.#cancelFrom(0);
    this.#inflight.length = 0;
    this.#inflightItems = 0;
    this.#ready = [];
    this.#pendingFailure = undefined;
    this.#inputFailure = undefined;
    this.#closeSource();
    if (this.#onAbort !== undefined) {
      this.#limits.signal?.removeEventListener('abort', this.#onAbort);
      this.#onAbort = undefined;
    }
  }

  /** Tells the input we will read no more of it (runs a generator's `finally`). */
  #closeSource(): void {
    this.#untrack?.();
    this.#untrack = undefined;
    const source = this.#source;
    this.#source = undefined;
    if (source?.return === undefined) return;
    try {
      const closing = source.return();
      if (isThenable(closing)) Promise.resolve(closing).catch(() => undefined);
    } catch {
      // An input that fails to close has nothing more to give us.
    }
  }

  /**
   * Waits for `promise`, but wakes early when the run is stopped, and stops
   * it with TimeoutError at the whole-map deadline.
   */
  async #wait(promise: Promise<unknown>): Promise<void> {
    if (this.#stopped) return;
    let timer: NodeJS.Timeout | undefined;
    const left = this.#deadline === undefined ? undefined : this.#deadline - performance.now();
    const expired = await new Promise<boolean>((resolve) => {
      this.#wakeStopped = () => resolve(false);
      if (left !== undefined) {
        if (left <= 0) {
          resolve(true);
          return;
        }
        timer = setTimeout(() => resolve(true), left);
      }
      promise.then(
        () => resolve(false),
        () => resolve(false),
      );
    });
    this.#wakeStopped = undefined;
    clearTimeout(timer);
    if (expired) {
      this.#stop({
        error: new TimeoutError(
          `map did not finish within ${this.#limits.timeout} ms (${this.#inflightItems} items unfinished)`,
        ),
      });
    }
  }
}
