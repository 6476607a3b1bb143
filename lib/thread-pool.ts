/**
 * ThreadPoolExecutor: tasks run in `worker_threads` of this process. Cheaper
 * to start and to talk to than processes; a native crash still takes the
 * whole process down, so prefer ProcessPoolExecutor for untrusted code.
 */
import { checkPoolOptions, checkResourceLimits, type ThreadPoolOptions } from './options/index.js';
import { PoolExecutor } from './pool-executor.js';
import { threadTransport } from './transport/thread.js';

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
    const resourceLimits = checkResourceLimits(options?.resourceLimits);
    super(threadTransport, checked, {
      env: checked.env,
      execArgv: checked.execArgv,
      cwd: undefined,
      resourceLimits,
    });
  }
}
