/**
 * concurrent-futures: Python's `concurrent.futures` for Node.js.
 *
 * The public entry. Everything a user imports, in the parent or inside task
 * code, comes from here.
 *
 * @module concurrent-futures
 */

export { currentTask, type TaskContext } from './current-task.js';
export type { TaskOutput } from './engine/output.js';
export type { EngineCounts, WorkerStats } from './engine/pool.js';
export type { Distribution, TaskCounters } from './engine/stats.js';
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
export {
  type CancelOptions,
  type DoneCallback,
  Future,
  type FutureState,
  type ResultOptions,
} from './future.js';
export type { MapProgress } from './map.js';
export {
  PoolExecutor,
  type PoolOptions,
  type PoolStats,
  type PoolSubmitOptions,
} from './pool-executor.js';
export { ProcessPoolExecutor, type ProcessPoolOptions } from './process-pool.js';
export { type AnyFunction, isTaskRef, type TaskRef, task } from './task.js';
export { ThreadPoolExecutor, type ThreadPoolOptions } from './thread-pool.js';
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
