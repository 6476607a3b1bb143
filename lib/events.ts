/**
 * What an executor tells its observers: the typed events of
 * `executor.on(...)`, their mirror on `node:diagnostics_channel`, and the
 * dispatch that keeps a listener's error away from the engine.
 *
 * Events are emitted synchronously, from inside the engine, in the order
 * things happen. Their payloads are built only when someone listens, so an
 * unobserved executor pays one check per event.
 */
import { channel } from 'node:diagnostics_channel';
import { describeError } from './describe.js';
import type { Future } from './future.js';

/** Which API made a task (`'mapReduce'`: one explorer of a `mapReduce`). */
export type TaskKind = 'submit' | 'map' | 'mapReduce';

/** What every task event says about its task. */
export interface TaskEventBase {
  /** The task's id within its executor (`currentTask().id` in the worker). */
  taskId: number;
  /** `'submit'`, `'map'` for one chunk of a map, `'mapReduce'` for one explorer of a mapReduce. */
  kind: TaskKind;
  /** Items in the chunk (map), 1 for submit. */
  items: number;
  /** The future `submit` returned; `undefined` for a map chunk (map has its own result). */
  future: Future<unknown> | undefined;
  /** The worker's pid (thread id for ThreadPoolExecutor), or `undefined` if it never reached one. */
  pid: number | undefined;
  /**
   * The id of the task that submitted this one from inside its code
   * (`currentTask().executor`, docs/nested.md); `undefined` for a task
   * submitted by the parent program.
   */
  parentId?: number | undefined;
}

/** `taskStarted`: a worker began the task. */
export interface TaskStartedEvent extends TaskEventBase {
  /** Milliseconds from submit to start. */
  waitTime: number;
}

/** `taskFinished`: the task returned. */
export interface TaskFinishedEvent extends TaskEventBase {
  /** What it returned (for a map chunk, the chunk's values). */
  value: unknown;
  /** Milliseconds it ran, as the worker measured. */
  runTime: number;
  /** Milliseconds from submit to start. */
  waitTime: number;
}

/** `taskFailed`: the task threw, timed out, crashed its worker, or could not be sent. */
export interface TaskFailedEvent extends TaskEventBase {
  /** What the future rejects with. */
  error: unknown;
}

/** `taskCancelled`: the task was cancelled, pending or running. */
export interface TaskCancelledEvent extends TaskEventBase {
  /** `true` if it was running (it is being stopped), `false` if it never started. */
  wasRunning: boolean;
  /** Why: a `CancelAll`, a signal's reason, or `undefined` for a plain `cancel()`. */
  cause: unknown;
}

/** `taskRetried`: the task's worker crashed and the task runs again (`retries`). */
export interface TaskRetriedEvent extends TaskEventBase {
  /** 1 for the first re-run. */
  attempt: number;
  /** The crash that made it run again. */
  error: unknown;
}

/** `taskProgress`: task code called `currentTask().progress(value)`. */
export interface TaskProgressEvent extends TaskEventBase {
  /** What the task passed to `progress()`, cloned. */
  value: unknown;
}

/** `workerSpawned`: a worker process or thread was started. */
export interface WorkerSpawnedEvent {
  /** Process id (thread id for ThreadPoolExecutor); `undefined` if the process could not start. */
  pid: number | undefined;
}

/** `workerExited`: a worker is gone. */
export interface WorkerExitedEvent {
  /** Process id (thread id for ThreadPoolExecutor). */
  pid: number | undefined;
  /** Exit code, or `null` when a signal ended it. */
  exitCode: number | null;
  /** The signal that ended the process, or `null` (always `null` for threads). */
  signal: NodeJS.Signals | null;
  /**
   * Why it ended: `'retired'` (idle, recycled after `maxTasksPerWorker`, or
   * shut down), or what went wrong: `'exit'`, `'signal'`, `'abort'`,
   * `'out-of-memory'`, `'uncaught-exception'`, `'unhandled-rejection'`,
   * `'timeout'`, `'cancelled'`, `'initializer-failed'`, `'initializer-timeout'`
   * (not ready within `initializerTimeout`), `'spawn-failed'` (the process
   * could not be created: missing `cwd` or node binary, no file descriptors
   * or processes left), `'output-broken'` (task code ended or broke the
   * worker's stdout or stderr; its task kept its outcome, nobody is blamed).
   */
  reason: string;
  /** Tasks it completed. */
  tasksCompleted: number;
}

/** `output`: a worker wrote to its stdout or stderr (`stdio: 'capture'` or `'pipe'`). */
export interface OutputEvent {
  /** The worker that wrote it. */
  pid: number | undefined;
  /** The task that was running when it was written, or `undefined` between tasks. */
  taskId: number | undefined;
  /** Which stream. */
  stream: 'stdout' | 'stderr';
  /** The bytes, as they came (a copy, yours to keep). */
  chunk: Buffer;
}

/** The events of ProcessPoolExecutor and ThreadPoolExecutor, by name. */
export interface PoolEvents {
  /** A worker began a task. */
  taskStarted: TaskStartedEvent;
  /** A task returned. */
  taskFinished: TaskFinishedEvent;
  /** A task threw, timed out, crashed its worker, or could not be sent. */
  taskFailed: TaskFailedEvent;
  /** A task was cancelled, pending or running. */
  taskCancelled: TaskCancelledEvent;
  /** A task's worker crashed and the task runs again. */
  taskRetried: TaskRetriedEvent;
  /** Task code reported progress. */
  taskProgress: TaskProgressEvent;
  /** A worker was started. */
  workerSpawned: WorkerSpawnedEvent;
  /** A worker is gone. */
  workerExited: WorkerExitedEvent;
  /** The queue ran empty: every submitted task has been handed to a worker. */
  drain: Record<string, never>;
  /** Nothing is queued or running any more. */
  idle: Record<string, never>;
  /** A worker wrote output (`stdio: 'capture'` or `'pipe'`). */
  output: OutputEvent;
}

/** The name of an executor event. */
export type PoolEventName = keyof PoolEvents;

/** A listener of the event `E`. */
export type PoolListener<E extends PoolEventName> = (event: PoolEvents[E]) => void;

/** What `node:diagnostics_channel` subscribers receive: the event plus its executor. */
export type ChannelMessage<E extends PoolEventName> = PoolEvents[E] & {
  /** The executor the event comes from. */
  executor: object;
};

/** Prefix of the diagnostics channels: `concurrent-futures:taskFinished` and so on. */
export const CHANNEL_PREFIX = 'concurrent-futures:';

const EVENT_NAMES: readonly PoolEventName[] = [
  'taskStarted',
  'taskFinished',
  'taskFailed',
  'taskCancelled',
  'taskRetried',
  'taskProgress',
  'workerSpawned',
  'workerExited',
  'drain',
  'idle',
  'output',
];

const channels = Object.fromEntries(
  EVENT_NAMES.map((name) => [name, channel(CHANNEL_PREFIX + name)]),
) as Record<PoolEventName, ReturnType<typeof channel>>;

type Listener = (payload: unknown) => void;

/**
 * The listeners behind an executor's `on`/`off`. A listener that throws is
 * reported with `process.emitWarning` (an `ExecutorListenerWarning`, code
 * `ERR_EXECUTOR_LISTENER`) and the other listeners still run: nothing a
 * listener does can break the engine.
 *
 * Not an EventEmitter underneath: emitting is on the engine's hot path, so
 * the listener lists are copied when they change, never when they are used
 * (an EventEmitter copies its list on every emit), and `wants` is a property
 * read.
 */
export class PoolEventHub {
  readonly #owner: object;
  readonly #listeners: Partial<Record<PoolEventName, Listener[]>> = {};
  /** The wrappers `once` made, by original listener, so that `off` finds them. */
  readonly #onceWrappers = new WeakMap<Listener, Listener>();

  constructor(owner: object) {
    this.#owner = owner;
  }

  on<E extends PoolEventName>(event: E, listener: PoolListener<E>): void {
    this.#add(event, listener as Listener);
  }

  once<E extends PoolEventName>(event: E, listener: PoolListener<E>): void {
    const original = listener as Listener;
    const wrapper: Listener = (payload) => {
      this.#remove(event, wrapper);
      original.call(this.#owner, payload);
    };
    this.#onceWrappers.set(original, wrapper);
    this.#add(event, wrapper);
  }

  off<E extends PoolEventName>(event: E, listener: PoolListener<E>): void {
    const original = listener as Listener;
    if (!this.#remove(event, original)) {
      const wrapper = this.#onceWrappers.get(original);
      if (wrapper !== undefined) this.#remove(event, wrapper);
    }
  }

  listenerCount(event: PoolEventName): number {
    return this.#listeners[event]?.length ?? 0;
  }

  /** `true` when a listener or a diagnostics subscriber would receive `event`. */
  wants(event: PoolEventName): boolean {
    return this.#listeners[event] !== undefined || channels[event].hasSubscribers;
  }

  emit<E extends PoolEventName>(event: E, payload: PoolEvents[E]): void {
    const listeners = this.#listeners[event];
    if (listeners !== undefined) {
      for (const listener of listeners) {
        try {
          listener.call(this.#owner, payload);
        } catch (error) {
          reportListenerError(event, error);
        }
      }
    }
    const subscribers = channels[event];
    if (subscribers.hasSubscribers) {
      try {
        subscribers.publish({ ...payload, executor: this.#owner });
      } catch (error) {
        reportListenerError(event, error);
      }
    }
  }

  #add(event: PoolEventName, listener: Listener): void {
    if (typeof listener !== 'function') {
      throw new TypeError(
        `Expected the listener of '${event}' to be a function, got ${typeof listener}`,
      );
    }
    if (!EVENT_NAMES.includes(event)) {
      throw new RangeError(
        `Expected an event name (${EVENT_NAMES.join(', ')}), got ${JSON.stringify(event)}`,
      );
    }
    this.#listeners[event] = [...(this.#listeners[event] ?? []), listener];
  }

  #remove(event: PoolEventName, listener: Listener): boolean {
    const listeners = this.#listeners[event];
    const index = listeners?.indexOf(listener) ?? -1;
    if (listeners === undefined || index < 0) return false;
    const rest = listeners.filter((_, i) => i !== index);
    if (rest.length > 0) this.#listeners[event] = rest;
    else delete this.#listeners[event];
    return true;
  }
}

/** Reports an error thrown by an observer (listener or callback) without throwing it. */
export function reportListenerError(what: string, error: unknown): void {
  const warning = new Error(
    `a listener of '${what}' threw (it is reported here, never thrown into the executor): ${describeError(error)}`,
    { cause: error },
  );
  warning.name = 'ExecutorListenerWarning';
  (warning as Error & { code: string }).code = 'ERR_EXECUTOR_LISTENER';
  process.emitWarning(warning);
}
