/**
 * The time distributions of `stats()` (engine/samples.ts) are read from
 * bucket counts instead of sorting the window; they must still be exactly
 * what sorting the last 1,024 samples gives (nearest-rank percentiles).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { Samples, WINDOW } from '../lib/engine/samples.js';
import type { Distribution } from '../lib/stats.js';

/** The reference: sort the window and pick nearest ranks. */
function bySorting(all: number[]): Distribution {
  const window = all.slice(-WINDOW);
  const count = window.length;
  if (count === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 };
  const sorted = [...window].sort((a, b) => a - b);
  const at = (fraction: number) => sorted[Math.max(0, Math.ceil(fraction * count) - 1)]!;
  // The same order of additions as the ring (oldest slot first), for an identical sum.
  const ringOrder = all.length > WINDOW ? rotate(window, all.length % WINDOW) : window;
  const sum = ringOrder.reduce((a, b) => a + b, 0);
  return {
    count,
    mean: sum / count,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: sorted[count - 1]!,
  };
}

/** The window as the ring holds it: slot 0 first. */
function rotate(window: number[], next: number): number[] {
  return [...window.slice(WINDOW - next), ...window.slice(0, WINDOW - next)];
}

const sample = fc.oneof(
  fc.constant(0),
  fc.double({ min: 0, max: 0.05, noNaN: true }),
  fc.double({ min: 0, max: 5_000, noNaN: true }),
  fc.double({ min: 0, max: 1e12, noNaN: true }),
  fc.integer({ min: 0, max: 3 }).map((n) => n * 0.25),
);

describe('Samples (stats() distributions)', () => {
  it('gives exactly the sorted window: count, mean, nearest-rank p50/p90/p99, max', () => {
    fc.assert(
      fc.property(fc.array(sample, { maxLength: 2_600 }), (values) => {
        const samples = new Samples();
        for (const value of values) samples.add(value);
        expect(samples.summary()).to.deep.equal(bySorting(values));
      }),
      { numRuns: 200 },
    );
  });

  it('stays exact as the window slides, asked between additions', () => {
    const samples = new Samples();
    const values: number[] = [];
    for (let i = 0; i < 3 * WINDOW; i++) {
      // Slow drift with repeats: old samples must leave their buckets.
      const value = i % 7 === 0 ? 0 : ((i * 37) % 101) * (1 + Math.floor(i / 500));
      samples.add(value);
      values.push(value);
      if (i % 97 === 0) expect(samples.summary()).to.deep.equal(bySorting(values));
    }
    expect(samples.summary()).to.deep.equal(bySorting(values));
  });

  it('stays exact whatever the gaps between summaries (the bucket counts catch up lazily)', () => {
    // Batches of additions between summaries: none, a few, about a window,
    // more than a window (every counted sample has left it).
    const batch = fc.array(sample, { maxLength: 2 * WINDOW + 50 });
    fc.assert(
      fc.property(fc.array(batch, { minLength: 1, maxLength: 6 }), (batches) => {
        const samples = new Samples();
        const values: number[] = [];
        for (const added of batches) {
          for (const value of added) samples.add(value);
          values.push(...added);
          expect(samples.summary()).to.deep.equal(bySorting(values));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('hands out a copy: a caller changing it changes no later summary', () => {
    const samples = new Samples();
    samples.add(3);
    const first = samples.summary();
    first.max = 99;
    expect(samples.summary().max).to.equal(3);
  });
});
