/**
 * ProcessPoolExecutor: tasks run in child processes. A task that crashes,
 * hangs or leaks takes only its own worker down.
 */
import { processTransport } from './engine/process-transport.js';
import { checkPoolOptions, PoolExecutor, type PoolOptions } from './pool-executor.js';
import { typeError } from './validate.js';

/** Options of `new ProcessPoolExecutor(options)`. */
export interface ProcessPoolOptions extends PoolOptions {
  /** Working directory of the worker processes. @default process.cwd() */
  cwd?: string | undefined;
}

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
    const cwd = options?.cwd;
    if (cwd !== undefined && typeof cwd !== 'string') {
      throw typeError('cwd', 'a string (a directory path)', cwd);
    }
    super(processTransport, checked, { env: checked.env, execArgv: checked.execArgv, cwd });
  }
}
