/**
 * `map(..., { onProgress })`: counting a map's items as they are read and
 * finish, and calling `onProgress` at a bounded rate.
 */
import { reportListenerError } from './events.js';
import type { Future } from './future.js';
import type { ChunkOutcome } from './wire/chunk-outcome.js';

/** How far a map has come, as `onProgress` receives it. */
export interface MapProgress {
  /** Items that finished with a value. */
  done: number;
  /** Items that failed (the map then stops: the rest is cancelled). */
  failed: number;
  /** Items in the input, once it has been read to its end; `undefined` until then. */
  total: number | undefined;
}

/** At most one `onProgress` call this often (ms), plus one when the map ends. */
export const MAP_PROGRESS_INTERVAL_MS = 50;

export class MapProgressCounter {
  readonly #onProgress: ((progress: MapProgress) => void) | undefined;
  /** Items read from the input so far. */
  read = 0;
  #done = 0;
  #failed = 0;
  #total: number | undefined;
  #reportedAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(onProgress: ((progress: MapProgress) => void) | undefined) {
    this.#onProgress = onProgress;
  }

  /** The input has no more items: the total is known. */
  inputEnded(): void {
    this.#total = this.read;
    this.#report();
  }

  /** A chunk settled (not cancelled): its items count as done, or one as failed. */
  chunkSettled(future: Future<ChunkOutcome<unknown>>): void {
    if (future._failed()) {
      this.#failed++;
    } else {
      const outcome = future._value() as ChunkOutcome<unknown>;
      this.#done += outcome.values.length;
      if (outcome.failed) this.#failed++;
    }
    this.#report();
  }

  /** The map is over: no more calls. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Calls `onProgress`, at most every MAP_PROGRESS_INTERVAL_MS, and always at the end. */
  #report(): void {
    const onProgress = this.#onProgress;
    if (onProgress === undefined || this.#stopped) return;
    const complete = this.#total !== undefined && this.#done + this.#failed >= this.#total;
    const now = performance.now();
    if (!complete && now - this.#reportedAt < MAP_PROGRESS_INTERVAL_MS) {
      // A trailing call, so the last state shows even if nothing else happens for a while.
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        this.#report();
      }, MAP_PROGRESS_INTERVAL_MS).unref();
      return;
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#reportedAt = now;
    try {
      onProgress({ done: this.#done, failed: this.#failed, total: this.#total });
    } catch (error) {
      reportListenerError('onProgress', error);
    }
  }
}
