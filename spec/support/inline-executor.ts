/**
 * A small in-process executor used to prove the transport-independent parts
 * (`map`, shutdown state, option validation) without processes or threads.
 * Tasks run on the event loop, at most `maxWorkers` at a time, each started
 * from `setImmediate` so tests can observe the pending state.
 */
import {
  type Callable,
  ExecutorBase,
  type ResultOf,
  type SubmitOptions,
} from '../../lib/executor.js';
import { Future } from '../../lib/future.js';
import type { AnyFunction } from '../../lib/task.js';
import { isTaskRef } from '../../lib/task.js';
import { validateFunction } from '../../lib/validate.js';
import type { ChunkOutcome } from '../../lib/wire/chunk-outcome.js';

interface WorkItem {
  future: Future<any>;
  run: () => unknown;
}

export class InlineExecutor extends ExecutorBase {
  readonly maxWorkers: number;
  /** Every chunk handed to `_submitChunk`, in order, for assertions. */
  readonly chunks: unknown[][] = [];
  /** Highest number of tasks running at once. */
  peakRunning = 0;
  #queue: WorkItem[] = [];
  #running = 0;
  #idle: (() => void) | undefined;

  constructor(maxWorkers = 2) {
    super();
    this.maxWorkers = maxWorkers;
  }

  get running(): number {
    return this.#running;
  }

  submit<F extends AnyFunction>(
    fn: Callable<F>,
    args?: Parameters<F>,
    _options?: SubmitOptions,
  ): Future<ResultOf<F>> {
    this._checkOpen('submit');
    this._checkCallable(fn);
    const future = new Future<ResultOf<F>>();
    this.#queue.push({ future, run: () => (fn as F)(...((args ?? []) as unknown[])) });
    this.#pump();
    return future;
  }

  protected _checkCallable(fn: unknown): void {
    if (isTaskRef(fn)) throw new TypeError('InlineExecutor runs functions only');
    validateFunction('fn', fn);
  }

  protected _submitChunk<T, R>(fn: Callable<(item: T) => R>, items: T[]): Future<ChunkOutcome<R>> {
    this._checkOpen('map');
    this.chunks.push(items);
    const future = new Future<ChunkOutcome<R>>();
    const call = fn as (item: T) => R;
    this.#queue.push({
      future,
      run: async (): Promise<ChunkOutcome<R>> => {
        const values: R[] = [];
        for (const item of items) {
          try {
            values.push(await call(item));
          } catch (error) {
            return { values, failed: true, error };
          }
        }
        return { values, failed: false };
      },
    });
    this.#pump();
    return future;
  }

  protected _defaultBuffersize(chunksize: number): number {
    return chunksize * this.maxWorkers * 4;
  }

  protected _cancelPending(): void {
    for (const item of this.#queue) item.future.cancel();
    this.#queue = [];
  }

  protected _shutdown(): Promise<void> {
    if (this.#running === 0 && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#idle = resolve;
    });
  }

  #pump(): void {
    while (this.#running < this.maxWorkers && this.#queue.length > 0) {
      const item = this.#queue.shift()!;
      if (!item.future.setRunningOrNotifyCancel()) continue;
      this.#running++;
      this.peakRunning = Math.max(this.peakRunning, this.#running);
      setImmediate(() => this.#run(item));
    }
    if (this.#running === 0 && this.#queue.length === 0) this.#idle?.();
  }

  async #run(item: WorkItem): Promise<void> {
    try {
      item.future.setResult(await item.run());
    } catch (error) {
      item.future.setException(error);
    } finally {
      this.#running--;
      this.#pump();
    }
  }
}
