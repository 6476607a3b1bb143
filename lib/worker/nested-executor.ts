/**
 * `currentTask().executor`, the executor task code submits nested tasks to
 * (docs/nested.md). Bundled on its own (nested-executor.cjs) with the
 * Future class, the executor base and map, and loaded by the hub
 * (nested-hub.ts) the first time task code reads `currentTask().executor`,
 * so that a worker that never submits does not load it before its first
 * task.
 */
import { ArgumentTypeError } from '../errors.js';
import { ExecutorBase, type ResultOf, type SubmitOptions } from '../executor.js';
import { Future } from '../future.js';
import type { TaskRef } from '../task.js';
import { typeError, validateOptions, validateSignal, validateTimeout } from '../validate.js';
import type { ChunkOutcome } from '../wire/chunk-outcome.js';
import type { Context } from './context.js';
import type { NestedHub } from './nested-hub.js';

/**
 * `currentTask().executor`: submits to the pool the task runs in. `submit`
 * takes `timeout` and `signal`; `map` works as on the pool; `shutdown()`
 * only closes this view (the pool belongs to the parent program).
 */
export class NestedExecutor extends ExecutorBase {
  readonly #hub: NestedHub;
  readonly #context: Context;

  constructor(hub: NestedHub, context: Context) {
    super();
    this.#hub = hub;
    this.#context = context;
  }

  submit<F extends (...args: any[]) => any>(
    fn: F | TaskRef<F>,
    args?: Parameters<F>,
    options?: SubmitOptions,
  ): Future<ResultOf<F>> {
    this._checkOpen('submit');
    this.#hub.check(fn);
    if (args !== undefined && !Array.isArray(args)) throw typeError('args', 'an array', args);
    validateOptions('options', options);
    for (const key of ['retries', 'onProgress', 'transfer'] as const) {
      if ((options as Record<string, unknown> | undefined)?.[key] !== undefined) {
        throw new ArgumentTypeError(
          `Expected the options of a nested submit to hold only \`timeout\` and \`signal\`, got \`${key}\``,
        );
      }
    }
    const timeout = validateTimeout('timeout', options?.timeout);
    const signal = validateSignal('signal', options?.signal);
    return this.#hub.submit(
      new Future<ResultOf<F>>(),
      this.#context,
      fn,
      args ?? [],
      false,
      timeout === Number.POSITIVE_INFINITY ? undefined : timeout,
      signal,
    );
  }

  protected _checkCallable(fn: unknown): void {
    this.#hub.check(fn);
  }

  protected _submitChunk<T, R>(fn: unknown, items: T[]): Future<ChunkOutcome<R>> {
    return this.#hub.submit(
      new Future<ChunkOutcome<R>>(),
      this.#context,
      fn,
      items,
      true,
      undefined,
      undefined,
    );
  }

  protected _defaultBuffersize(chunksize: number): number {
    return chunksize * this.#hub.maxWorkers * 4;
  }

  protected _cancelPending(): void {
    // The pool is the parent program's: a task's view only stops submitting.
  }

  protected _shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
