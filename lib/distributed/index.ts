/**
 * `concurrent-futures/distributed`: the same Executor and Futures across
 * many machines, on BullMQ and Redis. See docs/distributed.md.
 *
 * Needs the optional peer dependencies `bullmq` and `ioredis`
 * (`npm install bullmq ioredis`); the core package never loads them.
 *
 * @module concurrent-futures/distributed
 */
export type { RemoteErrorInfo } from './codec.js';
export type { ConnectionOption } from './connection.js';
export { InlineFunctionRefusedError, JobLostError, ValueTooLargeError } from './errors.js';
export type {
  DisconnectedEvent,
  DistributedEventName,
  DistributedEvents,
  DistributedListener,
  DistributedTaskCancelledEvent,
  DistributedTaskEvent,
  DistributedTaskFailedEvent,
  DistributedTaskFinishedEvent,
  DistributedTaskProgressEvent,
  DistributedTaskRetriedEvent,
  DistributedTaskStartedEvent,
  NodeEvent,
  NodeStats,
} from './events.js';
export {
  DistributedExecutor,
  type DistributedStats,
  type DistributedSubmitOptions,
} from './executor.js';
export { startWorker, WorkerNode, type WorkerNodeStats } from './node.js';
export type { DistributedExecutorOptions, QueueOptions, WorkerNodeOptions } from './options.js';
export { task } from './task.js';
export type { TaskCounts } from './tracked-task.js';
