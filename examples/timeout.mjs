// A task stuck in an endless loop is stopped at its time limit: its future
// fails with TaskTimeoutError, its worker process is killed and replaced,
// and the pool goes on.
//
//   npm run build && node examples/timeout.mjs
import { ProcessPoolExecutor, TaskTimeoutError } from 'concurrent-futures';

// One worker, so that the task queued behind the stuck one must wait for the
// replacement worker. `cancelGrace` is how long a timed-out task gets to stop
// on its own (it cannot: `while (true) {}` never looks at its signal) before
// its worker is killed with SIGTERM (then SIGKILL after `shutdownGrace`).
const pool = new ProcessPoolExecutor({ maxWorkers: 1, cancelGrace: 500 });
try {
  const firstPid = await pool.submit(() => process.pid);

  const stuck = pool.submit(
    () => {
      while (true) {}
    },
    [],
    { timeout: 300 }, // ms of running time
  );
  // Queued behind the stuck task on the only worker.
  const next = pool.submit((a, b) => ({ product: a * b, pid: process.pid }), [6, 7]);

  try {
    await stuck;
  } catch (error) {
    if (!(error instanceof TaskTimeoutError)) throw error;
    console.log(
      `stuck task: ${error.name} after its ${error.timeout} ms limit (code ${error.code})`,
    );
  }
  const { product, pid } = await next;
  console.log(`task queued behind it: 6 * 7 = ${product}`);
  console.log(`it ran on a new worker process, the stuck one was killed: ${pid !== firstPid}`);

  const stats = pool.stats();
  console.log(`pool after the kill: ${stats.queued} queued, ${stats.running} running`);
  console.log(`the pool still works: 2 ** 10 = ${await pool.submit((b, e) => b ** e, [2, 10])}`);
} finally {
  await pool.shutdown();
}
console.log('done: the stuck task was stopped and the pool shut down');
