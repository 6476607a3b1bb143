// Task module for cancel-all-search.mjs. A module (rather than an inline
// function) can import what it needs, here CancelAll and currentTask.
import { CancelAll, currentTask } from 'concurrent-futures';

/**
 * A slow 32-bit hash: murmur3's finalizer applied 64 times. Each round is a
 * bijection on 32-bit integers, so two numbers below 2**32 never collide and
 * the search below has exactly one answer.
 */
export function hash(n) {
  let h = n >>> 0;
  for (let round = 0; round < 64; round++) {
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/**
 * Searches [from, to) for the number whose hash is `target`. The task that
 * finds it throws CancelAll, which cancels every other task of the executor.
 * A running sibling learns of it through its signal: the loop yields to the
 * event loop now and then (an abort arrives as a message) and stops when the
 * signal has aborted. A task that never looks would be killed instead, after
 * the executor's `cancelGrace`.
 */
export async function search(from, to, target) {
  const { signal } = currentTask();
  for (let n = from; n < to; n++) {
    if (hash(n) === target) throw new CancelAll(n);
    if (n % 20_000 === 0) {
      await new Promise((resolve) => setImmediate(resolve));
      if (signal.aborted) return 'stopped';
    }
  }
  return 'not found';
}
