/**
 * The checks that turn what a user passed, to a constructor or to
 * `submit`, `map` and `shutdown`, into settings the engine can trust, and
 * the types of those settings. The generic checks (an integer in a range, a
 * time in ms...) are in validate.ts.
 */
import { availableParallelism } from 'node:os';
import type { ResourceLimits, TransferListItem } from 'node:worker_threads';
import type { MapOptions, ShutdownOptions, SubmitOptions } from '../executor.js';
import type { MapProgress } from '../map-progress.js';
import type { AnyFunction, TaskRef } from '../task.js';
import {
  rangeError,
  typeError,
  validateBoolean,
  validateInteger,
  validateOneOf,
  validateOptions,
  validateSignal,
  validateTimeout,
} from '../validate.js';
import { DEFAULTS, type PoolOptions, type PoolSubmitOptions } from './pool-options.js';

/**
 * Per-submit settings, validated by the facade (checkPoolSubmitOptions) or
 * by the engine for a nested submission; what the engine's task record
 * keeps (engine/task-record.ts).
 */
export interface TaskSettings {
  timeout: number | undefined;
  signal: AbortSignal | undefined;
  retries: number | undefined;
  onProgress: ((value: unknown) => void) | undefined;
  /** ArrayBuffers (and MessagePorts) to move to a worker thread instead of copying. */
  transfer: readonly TransferListItem[] | undefined;
}

/** Validated `submit` options. */
export interface CheckedSubmitOptions {
  timeout: number | undefined;
  signal: AbortSignal | undefined;
}

/** Validates the options every executor's `submit` accepts. */
export function checkSubmitOptions(options: SubmitOptions | undefined): CheckedSubmitOptions {
  if (options === undefined) return { timeout: undefined, signal: undefined };
  validateOptions('options', options);
  return {
    timeout: validateTimeout('timeout', options.timeout),
    signal: validateSignal('signal', options.signal),
  };
}

/** Validated `map` options: the limits of one map run. */
export interface MapLimits {
  chunksize: number;
  buffersize: number;
  timeout: number | undefined;
  signal: AbortSignal | undefined;
  onProgress: ((progress: MapProgress) => void) | undefined;
}

/** Validated `map` options, given the executor's default `buffersize` for a chunk size. */
export function checkMapOptions(
  options: MapOptions | undefined,
  defaultBuffersize: (chunksize: number) => number,
): MapLimits {
  validateOptions('options', options);
  const chunksize = validateInteger('chunksize', options?.chunksize, 1, DEFAULTS.chunksize);
  const buffersize = validateInteger(
    'buffersize',
    options?.buffersize,
    1,
    defaultBuffersize(chunksize),
    Number.POSITIVE_INFINITY,
  );
  const timeout = validateTimeout('timeout', options?.timeout);
  const signal = validateSignal('signal', options?.signal);
  const onProgress = options?.onProgress;
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw typeError('onProgress', 'a function', onProgress);
  }
  return { chunksize, buffersize, timeout, signal, onProgress };
}

/** Validated `shutdown` options. */
export function checkShutdownOptions(options: ShutdownOptions | undefined): {
  wait: boolean;
  cancelFutures: boolean;
} {
  validateOptions('options', options);
  return {
    wait: validateBoolean('wait', options?.wait, true),
    cancelFutures: validateBoolean('cancelFutures', options?.cancelFutures, false),
  };
}

/** Validated settings shared by both executors. */
export interface CheckedPoolOptions {
  maxWorkers: number;
  minWorkers: number;
  idleTimeout: number;
  maxTasksPerWorker: number;
  maxQueued: number;
  taskTimeout: number | undefined;
  retries: number;
  shutdownGrace: number;
  cancelGrace: number;
  maxNestingDepth: number;
  maxNestedTasks: number;
  /** undefined: no limit. */
  initializerTimeout: number | undefined;
  initializer: AnyFunction | TaskRef | undefined;
  initargs: unknown[];
  env: NodeJS.ProcessEnv | undefined;
  execArgv: string[] | undefined;
  stdio: 'inherit' | 'capture' | 'pipe';
}

/** Validates the options of both executors; throws TypeError/RangeError naming the option. */
export function checkPoolOptions(options: PoolOptions | undefined): CheckedPoolOptions {
  validateOptions('options', options);
  const o = options ?? {};
  const maxWorkers = validateInteger('maxWorkers', o.maxWorkers, 1, availableParallelism());
  const minWorkers = validateInteger('minWorkers', o.minWorkers, 0, DEFAULTS.minWorkers);
  if (minWorkers > maxWorkers) {
    throw rangeError('minWorkers', `at most maxWorkers (${maxWorkers})`, minWorkers);
  }
  if (o.initargs !== undefined && !Array.isArray(o.initargs)) {
    throw typeError('initargs', 'an array', o.initargs);
  }
  if (
    o.execArgv !== undefined &&
    (!Array.isArray(o.execArgv) || o.execArgv.some((a) => typeof a !== 'string'))
  ) {
    throw typeError('execArgv', 'an array of strings', o.execArgv);
  }
  if (o.env !== undefined && (o.env === null || typeof o.env !== 'object')) {
    throw typeError('env', 'an object', o.env);
  }
  return {
    maxWorkers,
    minWorkers,
    idleTimeout:
      validateTimeout('idleTimeout', o.idleTimeout ?? DEFAULTS.idleTimeout) ??
      Number.POSITIVE_INFINITY,
    maxTasksPerWorker: validateInteger(
      'maxTasksPerWorker',
      o.maxTasksPerWorker,
      1,
      DEFAULTS.maxTasksPerWorker,
      Number.POSITIVE_INFINITY,
    ),
    maxQueued: validateInteger(
      'maxQueued',
      o.maxQueued,
      1,
      DEFAULTS.maxQueued,
      Number.POSITIVE_INFINITY,
    ),
    taskTimeout: validateTimeout('taskTimeout', o.taskTimeout),
    retries: validateInteger('retries', o.retries, 0, DEFAULTS.retries),
    shutdownGrace: validateTimeout('shutdownGrace', o.shutdownGrace ?? DEFAULTS.shutdownGrace) ?? 0,
    cancelGrace: validateTimeout('cancelGrace', o.cancelGrace ?? DEFAULTS.cancelGrace) ?? 0,
    maxNestingDepth: validateInteger(
      'maxNestingDepth',
      o.maxNestingDepth,
      0,
      DEFAULTS.maxNestingDepth,
    ),
    maxNestedTasks: validateInteger('maxNestedTasks', o.maxNestedTasks, 0, DEFAULTS.maxNestedTasks),
    initializerTimeout: validateTimeout(
      'initializerTimeout',
      o.initializerTimeout ?? DEFAULTS.initializerTimeout,
    ),
    initializer: o.initializer,
    initargs: o.initargs ?? [],
    env: o.env,
    execArgv: o.execArgv,
    stdio: validateOneOf('stdio', o.stdio, ['inherit', 'capture', 'pipe'] as const, DEFAULTS.stdio),
  };
}

/** Validates `cwd` of a ProcessPoolExecutor. */
export function checkCwd(cwd: unknown): string | undefined {
  if (cwd !== undefined && typeof cwd !== 'string') {
    throw typeError('cwd', 'a string (a directory path)', cwd);
  }
  return cwd;
}

const LIMIT_KEYS = [
  'maxYoungGenerationSizeMb',
  'maxOldGenerationSizeMb',
  'codeRangeSizeMb',
  'stackSizeMb',
] as const;

/**
 * Validates `resourceLimits` of a ThreadPoolExecutor. worker_threads ignores
 * a limit it does not know and fails every thread at start for a negative
 * one (reported as out of memory): refuse both here.
 */
export function checkResourceLimits(limits: unknown): ResourceLimits | undefined {
  if (limits === undefined) return undefined;
  if (limits === null || typeof limits !== 'object' || Array.isArray(limits)) {
    throw typeError('resourceLimits', 'an object of heap limits in MB', limits);
  }
  for (const [key, value] of Object.entries(limits)) {
    const name = `resourceLimits.${key}`;
    if (!(LIMIT_KEYS as readonly string[]).includes(key)) {
      throw typeError(name, `one of the limits ${LIMIT_KEYS.join(', ')}`, value);
    }
    if (value === undefined) continue;
    if (typeof value !== 'number') throw typeError(name, 'a number of MB > 0', value);
    if (!(value > 0) || !Number.isFinite(value))
      throw rangeError(name, 'a number of MB > 0', value);
  }
  return limits as ResourceLimits;
}

/**
 * The settings of a `submit` without options, shared by every such submit:
 * the engine only reads them, and the common call allocates nothing here.
 * (Not frozen: a frozen object has a shape of its own, and the engine's
 * reads of settings would see two shapes instead of one.)
 */
const NO_SUBMIT_OPTIONS: Readonly<TaskSettings> = {
  timeout: undefined,
  signal: undefined,
  retries: undefined,
  onProgress: undefined,
  transfer: undefined,
};

/** Validates the options of a pool executor's `submit`. */
export function checkPoolSubmitOptions(
  options: PoolSubmitOptions | undefined,
): Readonly<TaskSettings> {
  if (options === undefined) return NO_SUBMIT_OPTIONS;
  const { timeout, signal } = checkSubmitOptions(options);
  const retries =
    options.retries === undefined ? undefined : validateInteger('retries', options.retries, 0, 0);
  const onProgress = options.onProgress;
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw typeError('onProgress', 'a function', onProgress);
  }
  const transfer = options.transfer;
  if (transfer !== undefined && !Array.isArray(transfer)) {
    throw typeError('transfer', 'an array of ArrayBuffers or MessagePorts', transfer);
  }
  return {
    // Infinity opts one task out of the executor's taskTimeout.
    timeout: options.timeout === Number.POSITIVE_INFINITY ? Number.POSITIVE_INFINITY : timeout,
    signal,
    retries,
    onProgress,
    // A typed array's `.buffer` is typed ArrayBufferLike; postMessage checks at run time.
    transfer: transfer as readonly TransferListItem[] | undefined,
  };
}
