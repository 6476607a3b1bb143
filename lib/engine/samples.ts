/**
 * The engine's counters and time samples, always on (the types users see
 * are in lib/stats.ts).
 *
 * Cheap by construction: a counter is one increment, a time sample one
 * store into a fixed ring buffer; `stats()` reads the distribution of the
 * last WINDOW samples (so a long-lived pool reports recent behaviour, in
 * bounded memory) without sorting them.
 */

import type { Distribution, TaskCounters } from '../stats.js';

/** How many recent samples a distribution keeps. */
export const WINDOW = 1024;

/**
 * Log-scaled buckets: 16 per power of two (a bucket spans ~4.4% of its
 * value), from 2^-20 ms (~1 ns) to 2^31 ms; smaller values share the first
 * bucket, larger the last. The bucket of a non-negative double is read from
 * its bits (exponent and the top 4 bits of the mantissa), which order like
 * the values themselves.
 */
const SUB_BITS = 4;
const MIN_EXPONENT = -20;
const MAX_EXPONENT = 31;
const BUCKETS = (MAX_EXPONENT - MIN_EXPONENT + 1) << SUB_BITS;
const FIRST_HIGH_BITS = (1023 + MIN_EXPONENT) << SUB_BITS;

const bits = new Float64Array(1);
const high = new Uint32Array(bits.buffer, bits.byteOffset + (isLittleEndian() ? 4 : 0), 1);

function isLittleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

/** The bucket of a sample (ms >= 0). */
function bucketOf(ms: number): number {
  bits[0] = ms;
  const b = (high[0]! >>> (20 - SUB_BITS)) - FIRST_HIGH_BITS;
  return b < 0 ? 0 : b >= BUCKETS ? BUCKETS - 1 : b;
}

/**
 * The last WINDOW samples, and how many of them fall in each bucket.
 * Percentiles are exact: the counts find the bucket that holds the wanted
 * rank, and only that bucket's samples are sorted (a handful, usually).
 *
 * `add` only stores the sample: it runs twice per task, on the engine's
 * hottest path, while `summary` runs when someone calls `stats()`. The
 * bucket counts catch up there, with the samples added since the last
 * summary (at most WINDOW of them: older ones have left the window).
 */
export class Samples {
  readonly #ring = new Float64Array(WINDOW);
  readonly #ringBucket = new Uint16Array(WINDOW);
  readonly #counts = new Uint16Array(BUCKETS);
  /** The samples of one bucket, sorted to pick a rank among them. */
  readonly #scratch = new Float64Array(WINDOW);
  #total = 0;
  /** `#total` when the bucket counts were last brought up to date. */
  #counted = 0;
  /** The last summary, valid while no sample was added. */
  #cached: Distribution | undefined;

  add(ms: number): void {
    this.#ring[this.#total % WINDOW] = ms;
    this.#total++;
    this.#cached = undefined;
  }

  /** Brings the bucket counts up to the samples in the window now. */
  #count(): void {
    const total = this.#total;
    const counts = this.#counts;
    const ring = this.#ring;
    const ringBucket = this.#ringBucket;
    let from = this.#counted;
    // Every sample counted so far has left the window: count it afresh.
    const afresh = total - from >= WINDOW;
    if (afresh) {
      counts.fill(0);
      from = total - WINDOW;
    }
    for (let n = from; n < total; n++) {
      const at = n % WINDOW;
      // Otherwise sample n replaces sample n - WINDOW, which was counted.
      if (!afresh && n >= WINDOW) counts[ringBucket[at]!]!--;
      const bucket = bucketOf(ring[at]!);
      counts[bucket]!++;
      ringBucket[at] = bucket;
    }
    this.#counted = total;
  }

  summary(): Distribution {
    if (this.#cached !== undefined) return { ...this.#cached };
    if (this.#counted !== this.#total) this.#count();
    const count = Math.min(this.#total, WINDOW);
    if (count === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 };
    const ring = this.#ring;
    let sum = 0;
    let max = ring[0]!;
    for (let i = 0; i < count; i++) {
      const value = ring[i]!;
      sum += value;
      if (value > max) max = value;
    }
    this.#cached = {
      count,
      mean: sum / count,
      p50: this.#rank(nearestRank(0.5, count), count),
      p90: this.#rank(nearestRank(0.9, count), count),
      p99: this.#rank(nearestRank(0.99, count), count),
      max,
    };
    return { ...this.#cached };
  }

  /** The `rank`-th smallest sample (1-based) of the `count` in the window. */
  #rank(rank: number, count: number): number {
    const counts = this.#counts;
    let bucket = 0;
    let below = 0;
    while (below + counts[bucket]! < rank) below += counts[bucket++]!;
    const scratch = this.#scratch;
    const ringBucket = this.#ringBucket;
    const ring = this.#ring;
    let n = 0;
    for (let i = 0; i < count; i++) {
      if (ringBucket[i] === bucket) scratch[n++] = ring[i]!;
    }
    return scratch.subarray(0, n).sort()[rank - below - 1]!;
  }
}

/** Nearest-rank percentile: the 1-based rank of `fraction` among `count` samples. */
function nearestRank(fraction: number, count: number): number {
  return Math.max(1, Math.ceil(fraction * count));
}

/** Every counter at zero. */
export function emptyCounters(): TaskCounters {
  return {
    submitted: 0,
    completed: 0,
    failed: 0,
    cancelled: 0,
    crashed: 0,
    retried: 0,
    timedOut: 0,
  };
}
