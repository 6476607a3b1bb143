/**
 * `currentTask()`: what task code running in a worker knows about its task.
 *
 * The worker runtime publishes the running task under a global symbol rather
 * than a module variable, so that task code finds it even when it imports a
 * different copy of this package than the worker runtime loaded.
 */
import { InvalidStateError } from './errors.js';
import type { Executor } from './executor.js';

const CURRENT = Symbol.for('concurrent-futures.currentTask');

/** The task being run, as seen from inside a worker. */
export interface TaskContext {
  /** The task's id, unique within its executor. */
  readonly id: number;
  /**
   * Aborts when the task is cancelled, times out, or is cancelled by a
   * `CancelAll`. Its `reason` is a `CancelledError` or a `TaskTimeoutError`.
   * Check it in long loops, or pass it to APIs that accept a signal; a task
   * that ignores it is killed after a grace period.
   */
  readonly signal: AbortSignal;
  /**
   * Reports progress to the parent: `value` (anything structured clone can
   * copy) reaches the submit's `onProgress` callback and the executor's
   * `taskProgress` event. Rate-limited to one message per 50 ms per task;
   * the latest value is always delivered, at the latest just before the
   * task's result. A value that cannot be cloned throws here.
   *
   * @example
   * ```ts
   * for (let i = 0; i < files.length; i++) {
   *   convert(files[i]);
   *   currentTask().progress({ done: i + 1, total: files.length });
   * }
   * ```
   */
  progress(value: unknown): void;
  /**
   * An executor for the pool this task runs in (ProcessPoolExecutor and
   * ThreadPoolExecutor): `submit(fn, args?, { timeout?, signal? })` and
   * `map(...)` return Futures that task code awaits, with `await`, `wait`
   * or `asCompleted`. Awaiting them never deadlocks, whatever `maxWorkers`
   * is: the task "parks" and its worker runs other tasks meanwhile. When
   * this task ends (returns, fails, is cancelled or times out), its
   * unfinished nested tasks are cancelled. Limits: the pool's
   * `maxNestingDepth` and `maxNestedTasks`. See docs/nested.md.
   *
   * @example
   * ```ts
   * export async function fib(n: number): Promise<number> {
   *   if (n < 2) return n;
   *   const { executor } = currentTask();
   *   const [a, b] = await Promise.all([
   *     executor.submit(fib, [n - 1]),
   *     executor.submit(fib, [n - 2]),
   *   ]);
   *   return a + b;
   * }
   * ```
   */
  readonly executor: Executor;
}

/**
 * Returns the running task's context. Call it from task code (module or
 * inline) while the task runs; anywhere else it throws `InvalidStateError`.
 * Inline functions can use `currentTask` and `CancelAll` without importing
 * them: the worker provides both names.
 *
 * @example
 * ```ts
 * import { currentTask } from 'concurrent-futures';
 * export async function crawl(urls: string[]) {
 *   const { signal } = currentTask();
 *   for (const url of urls) await fetch(url, { signal });
 * }
 * ```
 */
export function currentTask(): TaskContext {
  const context = (globalThis as Record<symbol, TaskContext | undefined>)[CURRENT];
  if (context === undefined) {
    throw new InvalidStateError(
      'currentTask() must be called from task code while it runs in a worker, not from the parent or between tasks',
    );
  }
  return context;
}

/**
 * Sets or clears the running task. Worker runtime only (tests may set a
 * context without an executor). @internal
 */
export function setCurrentTask(
  context: (Omit<TaskContext, 'executor'> & Partial<Pick<TaskContext, 'executor'>>) | undefined,
): void {
  (globalThis as Record<symbol, unknown>)[CURRENT] = context;
}
