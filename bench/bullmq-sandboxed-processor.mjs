// The processor file of the bare-BullMQ sandboxed contestant: BullMQ runs it
// in its own child processes (its process isolation), one job at a time each.
import * as tasks from './distributed-tasks.mjs';

export default async function process(job) {
  return tasks[job.name](job.data.x);
}
