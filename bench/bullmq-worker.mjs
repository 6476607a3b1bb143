// The bare-BullMQ contestants of the distributed benchmark: one BullMQ Worker
// calling the same task functions as our nodes, in process, in a local
// ProcessPoolExecutor (the hop our worker nodes make for crash isolation), or
// sandboxed (BullMQ's own child processes, the processor in a file).
//   node bench/bullmq-worker.mjs <redis-url> <queue> <concurrency> [in-process|pool|sandboxed] [pool workers]
import { Worker } from 'bullmq';
import { ProcessPoolExecutor, task } from '../dist/lib/index.js';
import { double, noop, wait20 } from './distributed-tasks.mjs';

const tasks = { double, noop, wait20 };

const [url, queue, concurrency, mode = 'in-process', poolWorkers = '2'] = process.argv.slice(2);
let pool;
let processor;
if (mode === 'sandboxed') {
  processor = new URL('./bullmq-sandboxed-processor.mjs', import.meta.url);
} else if (mode === 'pool') {
  pool = new ProcessPoolExecutor({ maxWorkers: Number(poolWorkers) });
  const refs = new Map();
  const ref = (name) => {
    if (!refs.has(name))
      refs.set(name, task(new URL('./distributed-tasks.mjs', import.meta.url), name));
    return refs.get(name);
  };
  processor = (job) => pool.submit(ref(job.name), [job.data.x]);
} else {
  processor = async (job) => tasks[job.name](job.data.x);
}
const worker = new Worker(queue, processor, {
  connection: { url, maxRetriesPerRequest: null },
  concurrency: Number(concurrency),
});
worker.on('error', () => {});
await worker.waitUntilReady();
console.log('ready');
process.once('SIGTERM', async () => {
  await worker.close();
  await pool?.shutdown();
  process.exit(0);
});
