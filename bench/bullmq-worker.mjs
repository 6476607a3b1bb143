// The bare-BullMQ contestants of the distributed benchmark: one BullMQ Worker
// calling the same task functions as our nodes, in process, or sandboxed
// (BullMQ's own child processes, the processor in a file).
//   node bench/bullmq-worker.mjs <redis-url> <queue> <concurrency> [sandboxed]
import { Worker } from 'bullmq';
import { double, noop, wait20 } from './distributed-tasks.mjs';

const tasks = { double, noop, wait20 };

const [url, queue, concurrency, mode] = process.argv.slice(2);
const processor =
  mode === 'sandboxed'
    ? new URL('./bullmq-sandboxed-processor.mjs', import.meta.url)
    : async (job) => tasks[job.name](job.data.x);
const worker = new Worker(queue, processor, {
  connection: { url, maxRetriesPerRequest: null },
  concurrency: Number(concurrency),
});
worker.on('error', () => {});
await worker.waitUntilReady();
console.log('ready');
process.once('SIGTERM', () => worker.close().then(() => process.exit(0)));
