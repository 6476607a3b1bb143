/**
 * `npm start`: a short, real demonstration of the process pool on built-in
 * data. It counts primes in 24 ranges on worker processes, shows a crashing
 * task being isolated, a stuck task being killed at its time limit, and a
 * parallel search that stops every worker with CancelAll.
 */
import {
  asCompleted,
  CancelAll,
  CancelledError,
  ProcessPoolExecutor,
  TaskTimeoutError,
  WorkerCrashedError,
} from '../lib/index.js';

declare function currentTask(): { id: number; signal: AbortSignal };

const countPrimes = ([from, to]: [number, number]): number => {
  let count = 0;
  for (let n = Math.max(2, from); n < to; n++) {
    let prime = true;
    for (let d = 2; d * d <= n; d++) {
      if (n % d === 0) {
        prime = false;
        break;
      }
    }
    if (prime) count++;
  }
  return count;
};

const ranges: Array<[number, number]> = Array.from({ length: 24 }, (_, i) => [
  i * 100_000,
  (i + 1) * 100_000,
]);

const started = performance.now();
await using pool = new ProcessPoolExecutor({ maxWorkers: 2, cancelGrace: 200, shutdownGrace: 500 });

console.log(
  `1. Counting primes below 2,400,000 in ${ranges.length} ranges on ${pool.maxWorkers} worker processes`,
);
const futures = ranges.map((range) => pool.submit(countPrimes, [range]));
let done = 0;
for await (const finished of asCompleted(futures)) {
  done++;
  const bar = '#'.repeat(done).padEnd(ranges.length, '.');
  const line = `   [${bar}] ${done}/${ranges.length} (last: ${await finished} primes)`;
  // Redraw in place on a terminal; print every sixth step into a pipe or file.
  if (process.stdout.isTTY) process.stdout.write(`\r${line}`);
  else if (done % 6 === 0) console.log(line);
}
if (process.stdout.isTTY) process.stdout.write('\n');
const total = (await Promise.all(futures)).reduce((a, b) => a + b, 0);
console.log(`   ${total} primes in total (expected 176302)\n`);

console.log('2. A task that crashes its worker fails alone; its sibling still succeeds');
const crash = pool.submit(() => process.exit(3));
const sibling = pool.submit(countPrimes, [[0, 1000]]);
try {
  await crash;
} catch (error) {
  if (!(error instanceof WorkerCrashedError)) throw error;
  console.log(
    `   crash:   ${error.name} (reason ${error.reason}, exit code ${error.exitCode}, pid ${error.pid})`,
  );
}
console.log(`   sibling: ${await sibling} primes below 1000\n`);

console.log('3. A task stuck in an endless loop is killed at its 300 ms time limit');
try {
  await pool.submit(
    () => {
      while (true) {}
    },
    [],
    { timeout: 300 },
  );
} catch (error) {
  if (!(error instanceof TaskTimeoutError)) throw error;
  console.log(`   ${error.name}: ${error.message}`);
}
console.log(
  `   the pool goes on: 6 * 7 = ${await pool.submit((a: number, b: number) => a * b, [6, 7])}\n`,
);

console.log(
  '4. Parallel search: the worker that finds the answer throws CancelAll, the others stop',
);
const target = 777_777;
const search = (from: number, size: number, wanted: number) => {
  const { signal } = currentTask();
  for (let n = from; n < from + size; n++) {
    if (n === wanted) throw new CancelAll(n);
    // Busy work standing in for an expensive check; honours cancellation.
    if (n % 1000 === 0 && signal.aborted) return 'stopped';
    for (let spin = 0; spin < 200; spin++);
  }
  return 'not here';
};
const parts = Array.from({ length: 8 }, (_, i) =>
  pool.submit(search, [i * 125_000, 125_000, target]),
);
const outcomes = await Promise.all(
  parts.map((part) =>
    part.then(
      (value) => value,
      (error: unknown) =>
        error instanceof CancelAll
          ? `found ${error.reason}`
          : error instanceof CancelledError
            ? 'cancelled'
            : String(error),
    ),
  ),
);
console.log(`   ${outcomes.map((o, i) => `part ${i}: ${o}`).join('\n   ')}\n`);

console.log(
  `Done in ${((performance.now() - started) / 1000).toFixed(1)} s. Stats: ${JSON.stringify(pool.stats())}`,
);
