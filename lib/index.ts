/**
 * concurrent-futures: Python's `concurrent.futures` for Node.js.
 *
 * The public entry. Everything a user imports, in the parent or inside task
 * code, comes from here.
 *
 * @module concurrent-futures
 */

export { currentTask, type TaskContext } from './current-task.js';
export {
  ArgumentRangeError,
  ArgumentTypeError,
  BrokenExecutorError,
  CancelAll,
  CancelledError,
  ExecutorShutdownError,
  FuturesError,
  type FuturesErrorOptions,
  InvalidStateError,
  NestingLimitError,
  QueueFullError,
  TaskTimeoutError,
  TimeoutError,
  WorkerCrashedError,
  type WorkerCrashInfo,
} from './errors.js';
export type {
  ChannelMessage,
  OutputEvent,
  PoolEventName,
  PoolEvents,
  PoolListener,
  TaskCancelledEvent,
  TaskEventBase,
  TaskFailedEvent,
  TaskFinishedEvent,
  TaskKind,
  TaskProgressEvent,
  TaskRetriedEvent,
  TaskStartedEvent,
  WorkerExitedEvent,
  WorkerSpawnedEvent,
} from './events.js';
export { CHANNEL_PREFIX } from './events.js';
export type {
  Callable,
  Executor,
  MapOptions,
  MapResult,
  ResultOf,
  ShutdownOptions,
  SubmitOptions,
} from './executor.js';
export { type DoneCallback, Future, type FutureState } from './future.js';
export type { CancelOptions, ResultOptions, TaskOutput } from './future-support.js';
export type { MapProgress } from './map-progress.js';
export { MapReduceFuture } from './map-reduce.js';
export type {
  ExplorerStats,
  MapReduceOptions,
  MapReduceSpec,
  MapReduceStats,
} from './map-reduce-types.js';
export type {
  PoolOptions,
  PoolSubmitOptions,
  ProcessPoolOptions,
  ThreadPoolOptions,
} from './options/index.js';
export { PoolExecutor } from './pool-executor.js';
export { ProcessPoolExecutor } from './process-pool.js';
export type {
  Distribution,
  EngineCounts,
  NestedStats,
  PoolCounts,
  PoolStats,
  TaskCounters,
  WorkerStats,
} from './stats.js';
export { type AnyFunction, isTaskRef, type TaskRef, task } from './task.js';
export { ThreadPoolExecutor } from './thread-pool.js';
export { transfer } from './transfer.js';
export {
  ALL_COMPLETED,
  type AsCompletedOptions,
  asCompleted,
  type DoneAndNotDone,
  FIRST_COMPLETED,
  FIRST_EXCEPTION,
  type ReturnWhen,
  type WaitOptions,
  wait,
} from './wait.js';
