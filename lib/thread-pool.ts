/**
 * ThreadPoolExecutor: tasks run in `worker_threads` of this process. Cheaper
 * to start and to talk to than processes; a native crash still takes the
 * whole process down, so prefer ProcessPoolExecutor for untrusted code.
 */
import type { ResourceLimits } from 'node:worker_threads';
import { threadTransport } from './engine/thread-transport.js';
import { checkPoolOptions, PoolExecutor, type PoolOptions } from './pool-executor.js';
import { rangeError, typeError } from './validate.js';

const LIMIT_KEYS = [
  'maxYoungGenerationSizeMb',
  'maxOldGenerationSizeMb',
  'codeRangeSizeMb',
  'stackSizeMb',
] as const;

/**
 * worker_threads ignores a limit it does not know and fails every thread
 * at start for a negative one (reported as out of memory): refuse both here.
 */
function checkResourceLimits(limits: unknown): void {
  if (limits === undefined) return;
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
}

/** Options of `new ThreadPoolExecutor(options)`. */
export interface ThreadPoolOptions extends PoolOptions {
  /**
   * Heap limits of each worker thread (`worker_threads` `resourceLimits`).
   * A thread that runs out of its heap fails its task with a
   * `WorkerCrashedError` whose `reason` is `'out-of-memory'`, and is replaced,
   * instead of taking the whole process down.
   * @example { maxOldGenerationSizeMb: 256 }
   */
  resourceLimits?: ResourceLimits | undefined;
}

/**
 * An executor that runs tasks on a pool of worker threads. Same API and
 * engine as ProcessPoolExecutor.
 *
 * @example
 * ```ts
 * await using pool = new ThreadPoolExecutor();
 * console.log(await pool.submit((n: number) => n * 2, [21])); // 42
 * ```
 */
export class ThreadPoolExecutor extends PoolExecutor {
  constructor(options?: ThreadPoolOptions) {
    const checked = checkPoolOptions(options);
    const limits = options?.resourceLimits;
    checkResourceLimits(limits);
    super(threadTransport, checked, {
      env: checked.env,
      execArgv: checked.execArgv,
      cwd: undefined,
      resourceLimits: limits,
    });
  }
}
