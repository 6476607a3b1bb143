/**
 * Memory check: submits 1,000,000 tiny tasks at once to a
 * ProcessPoolExecutor and reports the parent's heap per queued future and
 * its peak RSS, then waits for every task to complete.
 *
 *   npm run build && node --expose-gc dist/tools/memory.js [--tasks 1000000]
 */
import { ProcessPoolExecutor } from '../lib/index.js';

const index = process.argv.indexOf('--tasks');
const tasks = index < 0 ? 1_000_000 : Number(process.argv[index + 1]);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error('run with node --expose-gc for exact heap figures');
  process.exit(2);
}

const pool = new ProcessPoolExecutor({ maxWorkers: 2 });
await pool.submit((x: number) => x, [0]);
const futures = new Array<unknown>(tasks);
gc();
const before = process.memoryUsage().heapUsed;
const started = performance.now();
for (let i = 0; i < tasks; i++) futures[i] = pool.submit((x: number) => x, [i]);
gc();
const queued = process.memoryUsage().heapUsed;
const perFuture = (queued - before) / tasks;
let sum = 0;
for (const future of futures as Array<PromiseLike<number>>) sum += await future;
const ms = performance.now() - started;
await pool.shutdown();
const expected = (tasks * (tasks - 1)) / 2;
const peakRss = process.resourceUsage().maxRSS * 1024;
console.log(
  JSON.stringify(
    {
      tasks,
      bytesPerQueuedFuture: Math.round(perFuture),
      peakRssMiB: Math.round(peakRss / 1024 / 1024),
      seconds: Number((ms / 1000).toFixed(1)),
      tasksPerSecond: Math.round(tasks / (ms / 1000)),
      allResultsCorrect: sum === expected,
    },
    null,
    2,
  ),
);
process.exitCode = sum === expected ? 0 : 1;
