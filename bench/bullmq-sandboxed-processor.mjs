// The processor file of the bare-BullMQ sandboxed contestant: BullMQ runs it
// in its own child processes (its process isolation), one job at a time each.
import { double, noop, wait20 } from './distributed-tasks.mjs';

const tasks = { double, noop, wait20 };

export default async function process(job) {
  return tasks[job.name](job.data.x);
}
