/**
 * The context of the running task, what `currentTask()` returns inside a
 * worker: its id, its AbortSignal, and `progress()`.
 */
import type { TaskContext } from '../current-task.js';
import { describeError } from '../describe.js';
import { InvalidStateError } from '../errors.js';
import type { Executor } from '../executor.js';

/** Makes `currentTask().executor` (worker/nested-executor.ts); set by the runtime. */
let executorFactory: ((context: Context) => Executor) | undefined;

/** Sets what `currentTask().executor` is made by. Worker runtime only. */
export function setExecutorFactory(factory: (context: Context) => Executor): void {
  executorFactory = factory;
}

/**
 * At most one progress message per task this often (ms): a task calling
 * `progress()` in a tight loop must not flood the channel or the parent.
 * The latest value is never lost: it goes out when the interval has passed
 * or, at the latest, just before the task's outcome.
 */
export const PROGRESS_INTERVAL_MS = 50;

/** Sends one progress message; throws if the value cannot be cloned. */
export type ProgressSender = (id: number, value: unknown) => void;

/**
 * The AbortController is made on first use of `signal`, so tasks that never
 * look at it cost no allocation.
 */
export class Context implements TaskContext {
  readonly id: number;
  readonly #send: ProgressSender;
  #controller: AbortController | undefined;
  #lastSent = Number.NEGATIVE_INFINITY;
  /** The latest value held back by the rate limit. */
  #pending: { value: unknown } | undefined;
  #executor: Executor | undefined;
  /** The task ran to its end (its outcome is recorded). */
  ended = false;

  constructor(id: number, send: ProgressSender) {
    this.id = id;
    this.#send = send;
  }

  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    return this.#controller.signal;
  }

  /** An executor for the pool this task runs in (nested submission, docs/nested.md). */
  get executor(): Executor {
    if (this.#executor === undefined) {
      if (executorFactory === undefined) {
        throw new InvalidStateError('This worker cannot submit nested tasks');
      }
      this.#executor = executorFactory(this);
    }
    return this.#executor;
  }

  progress(value: unknown): void {
    const now = performance.now();
    if (now - this.#lastSent >= PROGRESS_INTERVAL_MS) {
      // Sent at once: a value that cannot be cloned throws here, in task code.
      try {
        this.#send(this.id, value);
      } catch (error) {
        throw new TypeError(
          `The value given to currentTask().progress() cannot be sent to the parent: ${describeError(error)}`,
          { cause: error },
        );
      }
      this.#lastSent = now;
      this.#pending = undefined;
      return;
    }
    // Held as is: a tight loop pays no copy per call. (The first call is
    // always sent at once, so a value that cannot be cloned shows there.)
    this.#pending = { value };
  }

  /** Sends the value held back by the rate limit, if any (the task is ending). */
  flushProgress(): void {
    const pending = this.#pending;
    if (pending === undefined) return;
    this.#pending = undefined;
    try {
      this.#send(this.id, pending.value);
    } catch {
      // Not cloneable after all, or the channel is going away: progress is
      // advisory, and the task's outcome matters more.
    }
  }

  abort(reason: Error): void {
    this.#controller ??= new AbortController();
    this.#controller.abort(reason);
  }

  get aborted(): boolean {
    return this.#controller?.signal.aborted === true;
  }
}
