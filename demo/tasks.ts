/**
 * The task module of `npm start`. The demo hands it to the CLI
 * (`concurrent-futures map dist/demo/tasks.js <export>`), which runs each
 * export in worker processes, once per input record.
 */
import { CancelAll, currentTask } from '../lib/index.js';

/** One record of the prime-counting input. `fault` makes a record misbehave on purpose. */
export interface PrimeRange {
  from: number;
  to: number;
  fault?: 'crash' | 'hang';
}

function isPrime(n: number): boolean {
  if (n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/** Counts the primes in [from, to): CPU-bound work, the kind worker processes are for. */
export function countPrimes(range: PrimeRange): number {
  // The worker dies as if a native addon segfaulted: nothing in JS could catch this.
  if (range.fault === 'crash') process.kill(process.pid, 'SIGKILL');
  // Stuck for good, deaf to its abort signal: only killing the worker ends it.
  if (range.fault === 'hang') while (true);
  let count = 0;
  for (let n = range.from; n < range.to; n++) if (isPrime(n)) count++;
  return count;
}

/** One record of the search input: a slice of numbers to scan for `target`. */
export interface SearchPart {
  from: number;
  size: number;
  target: number;
}

/**
 * Scans a slice for the number whose (deliberately slow) check matches.
 * The part that finds it throws CancelAll: the library cancels every other
 * part, pending ones never start and running ones see their signal abort.
 */
export function search(part: SearchPart): string {
  const { signal } = currentTask();
  for (let n = part.from; n < part.from + part.size; n++) {
    if (n === part.target) throw new CancelAll(n);
    // Stand-in for an expensive check of each candidate.
    for (let spin = 0; spin < 2_000; spin++);
    if (n % 1_000 === 0 && signal.aborted) return 'stopped';
  }
  return 'not here';
}
