// A parallel search where the task that finds the answer throws CancelAll,
// and every other task stops: pending ones never start, running ones are
// aborted.
//
//   npm run build && node examples/cancel-all-search.mjs
import { CancelAll, CancelledError, ProcessPoolExecutor, task } from 'concurrent-futures';
import { hash } from './tasks/search.mjs';

const SLICES = 16;
const SLICE = 500_000;
const SECRET = 5_023_457; // the search does not know it, only its hash
const target = hash(SECRET);

const group = (n) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
const hex = (n) => `0x${n.toString(16).padStart(8, '0')}`;

// A typed reference to the exported function; the worker imports the module.
const search = task(new URL('./tasks/search.mjs', import.meta.url), 'search');

const pool = new ProcessPoolExecutor({ maxWorkers: 2 });
try {
  console.log(
    `searching 0..${group(SLICES * SLICE - 1)} in ${SLICES} slices on ${pool.maxWorkers} worker processes for hash ${hex(target)}`,
  );
  const futures = Array.from({ length: SLICES }, (_, i) =>
    pool.submit(search, [i * SLICE, (i + 1) * SLICE, target]),
  );
  const outcomes = await Promise.allSettled(futures);

  let answer;
  let searchedInFull = 0;
  let cancelled = 0;
  outcomes.forEach((outcome, i) => {
    if (outcome.status === 'fulfilled') {
      searchedInFull++;
    } else if (outcome.reason instanceof CancelAll) {
      // The task that found it: its future rejects with the CancelAll itself.
      answer = outcome.reason.reason;
      console.log(
        `found n = ${group(answer)} in slice ${i} (${group(i * SLICE)}..${group((i + 1) * SLICE - 1)}), which threw CancelAll`,
      );
    } else if (
      outcome.reason instanceof CancelledError &&
      outcome.reason.cause instanceof CancelAll &&
      futures[i].cancelled()
    ) {
      cancelled++;
    } else {
      throw outcome.reason;
    }
  });
  console.log(`check in this process: hash(${answer}) = ${hex(hash(answer))}`);
  console.log(`slices searched in full before the answer was found: ${searchedInFull}`);
  console.log(`slices cancelled by the CancelAll: ${cancelled} (CancelledError, cause: CancelAll)`);

  // The executor stays usable after a CancelAll.
  console.log(`the pool still works: 6 * 7 = ${await pool.submit((a, b) => a * b, [6, 7])}`);
  console.log(`done: the answer is ${answer}`);
} finally {
  await pool.shutdown();
}
