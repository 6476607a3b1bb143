/**
 * The engine's counters and time samples, always on (the types users see
 * are in lib/stats.ts).
 *
 * Cheap by construction: a counter is one increment, a time sample one
 * store into a fixed ring buffer; percentiles are computed only when
 * someone calls `stats()`, over the last WINDOW samples (so a long-lived pool
 * reports recent behaviour, in bounded memory).
 */

import type { Distribution, TaskCounters } from '../stats.js';

/** How many recent samples a distribution keeps. */
export const WINDOW = 1024;

/** A ring buffer of the last WINDOW samples. */
export class Samples {
  readonly #ring = new Float64Array(WINDOW);
  #total = 0;

  add(ms: number): void {
    this.#ring[this.#total % WINDOW] = ms;
    this.#total++;
  }

  summary(): Distribution {
    const count = Math.min(this.#total, WINDOW);
    if (count === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 };
    const sorted = this.#ring.slice(0, count).sort();
    let sum = 0;
    for (const value of sorted) sum += value;
    return {
      count,
      mean: sum / count,
      p50: percentile(sorted, 0.5),
      p90: percentile(sorted, 0.9),
      p99: percentile(sorted, 0.99),
      max: sorted[count - 1]!,
    };
  }
}

/** Nearest-rank percentile of sorted samples. */
function percentile(sorted: Float64Array, fraction: number): number {
  const rank = Math.ceil(fraction * sorted.length);
  return sorted[Math.max(0, rank - 1)]!;
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
