/**
 * `npm start`: a short, real demonstration of the futures API on built-in
 * data. Futures are completed by timers standing in for an executor.
 */
import { asCompleted, FIRST_COMPLETED, Future, wait } from '../lib/index.js';

const jobs = [
  { name: 'parse', ms: 60, value: 'ast' },
  { name: 'lint', ms: 20, value: '0 problems' },
  { name: 'typecheck', ms: 40, fail: new TypeError('number is not assignable to string') },
  { name: 'bundle', ms: 80, value: '12 KiB' },
];

function start(job: (typeof jobs)[number]): Future<string> {
  const future = new Future<string>();
  future.setRunningOrNotifyCancel();
  setTimeout(() => {
    if (job.fail) future.setException(job.fail);
    else future.setResult(job.value ?? '');
  }, job.ms);
  return future;
}

const futures = new Map(jobs.map((job) => [start(job), job.name]));
for (const [future, name] of futures) {
  future.addDoneCallback((f) => console.log(`  callback: ${name} -> ${f}`));
}

const { done } = await wait(futures.keys(), { returnWhen: FIRST_COMPLETED });
console.log(`first done: ${[...done].map((f) => futures.get(f)).join(', ')}`);

// TypeScript types a `for await` variable as the awaited value of a thenable;
// the iterator's own next() keeps the Future type.
const completions = asCompleted(futures.keys(), { timeout: 5000 });
for (let step = await completions.next(); !step.done; step = await completions.next()) {
  const future = step.value;
  const error = await future.exception();
  console.log(`${futures.get(future)}: ${error ? `failed (${error})` : await future}`);
}
