/**
 * ProcessPoolExecutor: tasks run in child processes. A task that crashes,
 * hangs or leaks takes only its own worker down.
 */
import { checkCwd, checkPoolOptions, type ProcessPoolOptions } from './options/index.js';
import { PoolExecutor } from './pool-executor.js';
import { processTransport } from './transport/process.js';

/**
 * An executor that runs tasks in a pool of child processes, like Python's
 * `concurrent.futures.ProcessPoolExecutor`, with crash isolation, time
 * limits that kill stuck workers, and cancellation of running tasks.
 *
 * @example
 * ```ts
 * await using pool = new ProcessPoolExecutor({ maxWorkers: 4 });
 * const squares = await pool.map((x: number) => x * x, [1, 2, 3]);
 * ```
 */
export class ProcessPoolExecutor extends PoolExecutor {
  constructor(options?: ProcessPoolOptions) {
    const checked = checkPoolOptions(options);
    const cwd = checkCwd(options?.cwd);
    super(processTransport, checked, { env: checked.env, execArgv: checked.execArgv, cwd });
  }
}
