// Submit functions to a pool of worker processes and await their futures.
//
//   npm run build && node examples/submit-and-await.mjs
import { asCompleted, ProcessPoolExecutor } from 'concurrent-futures';

// Workers start on the first submit, not here.
const pool = new ProcessPoolExecutor({ maxWorkers: 2 });
try {
  // An inline function: its source text is sent to the worker, so it must be
  // self-contained (no variables from this file). Arguments travel as an array.
  const sum = await pool.submit((a, b) => a + b, [1, 2]);
  console.log(`1 + 2 = ${sum}`);

  // The task really runs in another process.
  const workerPid = await pool.submit(() => process.pid);
  console.log(`ran in a worker process, not in this one: ${workerPid !== process.pid}`);

  // Many futures at once. asCompleted() yields each future as it finishes
  // (in whatever order the workers finish); the array keeps submission order.
  const fib = (n) => {
    const f = (k) => (k < 2 ? k : f(k - 1) + f(k - 2));
    return f(n);
  };
  const inputs = [24, 25, 26, 27];
  const futures = inputs.map((n) => pool.submit(fib, [n]));
  let finished = 0;
  for await (const future of asCompleted(futures)) {
    if (future.done()) finished++;
  }
  const values = await Promise.all(futures);
  console.log(`${finished} futures completed: fib(${inputs.join(', ')}) = ${values.join(', ')}`);

  // An error thrown in the worker arrives with its class, message and properties.
  const failing = pool.submit(
    (n) => {
      throw Object.assign(new RangeError(`${n} is too big`), { limit: 1000 });
    },
    [5000],
  );
  try {
    await failing;
  } catch (error) {
    console.log(
      `the failing task threw ${error.name}: ${error.message} ` +
        `(instanceof RangeError: ${error instanceof RangeError}, limit: ${error.limit}, state: ${failing.state})`,
    );
  }
} finally {
  // Waits for running tasks, then stops every worker process.
  await pool.shutdown();
}
console.log('done: all futures settled and the pool is shut down');
