/**
 * What a DistributedExecutor tells its observers: task events like the
 * local pools' (with the node that ran the task instead of a pid), node
 * events from the heartbeats, and the connection to Redis coming and going.
 *
 * Listeners run synchronously; one that throws is reported as an
 * `ExecutorListenerWarning` and cannot disturb the executor. Payloads are
 * built only when someone listens.
 */
import type { Future, TaskKind } from '../index.js';
import { reportListenerError } from './internal.js';

/** What every task event says about its task. */
export interface DistributedTaskEvent {
  /** The task's number within its executor. */
  taskId: number;
  /** The BullMQ job id (a retried task gets a new one). */
  jobId: string;
  /** `'submit'`, or `'map'` for one chunk of a map. */
  kind: TaskKind;
  /** Items in the chunk (map), 1 for submit. */
  items: number;
  /** The future `submit` returned; `undefined` for a map chunk. */
  future: Future<unknown> | undefined;
  /** The id of the worker node that ran it, when known. */
  node: string | undefined;
}

/** What a node said about itself in its last heartbeat, and when it was heard. */
export interface NodeStats {
  /** The node's id (its `name`, or `host:pid`, plus a random suffix). */
  id: string;
  /** Host name of its machine. */
  host: string;
  /** Process id of the node. */
  pid: number;
  /** Jobs it takes at once. */
  concurrency: number;
  /** `'lost'`: no heartbeat for three intervals; `'closed'`: it said goodbye. */
  state: 'running' | 'draining' | 'closed' | 'lost';
  /** Jobs it runs now (any executor's). */
  active: number;
  /** Jobs it finished since it started (any executor's, any outcome). */
  completed: number;
  /** Of those, the ones that failed. */
  failed: number;
  /** Tasks of this executor it finished. */
  completedHere: number;
  /** When this executor first heard of it (ms since the epoch). */
  firstSeen: number;
  /** When this executor last heard its heartbeat (ms since the epoch). */
  lastHeartbeat: number;
}

/** `taskStarted`: a node began a task. */
export interface DistributedTaskStartedEvent extends DistributedTaskEvent {
  /** Milliseconds from submit to start. */
  waitTime: number;
}

/** `taskFinished`: a task returned. */
export interface DistributedTaskFinishedEvent extends DistributedTaskEvent {
  /** What it returned (for a map chunk, the chunk's values). */
  value: unknown;
  /** Milliseconds it ran, as its node measured (-1 if unknown). */
  runTime: number;
  /** Milliseconds from submit to start. */
  waitTime: number;
}

/** `taskFailed`: a task threw, timed out, or its node was lost with no retries left. */
export interface DistributedTaskFailedEvent extends DistributedTaskEvent {
  /** What the future rejects with. */
  error: unknown;
}

/** `taskCancelled`: a task was cancelled, waiting or running. */
export interface DistributedTaskCancelledEvent extends DistributedTaskEvent {
  /** `true` if it was running (its node is told to stop it). */
  wasRunning: boolean;
  /** Why: a `CancelAll`, a signal's reason, or `undefined` for a plain `cancel()`. */
  cause: unknown;
}

/** `taskRetried`: a task's node was lost (or its job vanished) and the task runs again. */
export interface DistributedTaskRetriedEvent extends DistributedTaskEvent {
  /** 1 for the first re-run. */
  attempt: number;
  /** What made it run again (a `WorkerCrashedError` naming the node, or a `JobLostError`). */
  error: unknown;
}

/** `taskProgress`: task code called `currentTask().progress(value)`. */
export interface DistributedTaskProgressEvent extends DistributedTaskEvent {
  /** The value, with structured-clone fidelity. */
  value: unknown;
}

/** `nodeSeen` and `nodeLost`. */
export interface NodeEvent {
  /** The node, as in `stats().nodes`. */
  node: NodeStats;
}

/** `disconnected`: the connection to Redis was lost. */
export interface DisconnectedEvent {
  /** What the client reported. */
  error: unknown;
}

/** The events of DistributedExecutor, by name. */
export interface DistributedEvents {
  /** A node began a task. */
  taskStarted: DistributedTaskStartedEvent;
  /** A task returned. */
  taskFinished: DistributedTaskFinishedEvent;
  /** A task threw, timed out, or its node was lost with no retries left. */
  taskFailed: DistributedTaskFailedEvent;
  /** A task was cancelled, waiting or running. */
  taskCancelled: DistributedTaskCancelledEvent;
  /** A task's node was lost (or its job vanished) and the task runs again. */
  taskRetried: DistributedTaskRetriedEvent;
  /** Task code reported progress with `currentTask().progress(value)`. */
  taskProgress: DistributedTaskProgressEvent;
  /** A node's first heartbeat reached this executor. */
  nodeSeen: NodeEvent;
  /** A node missed three heartbeats, or said goodbye. */
  nodeLost: NodeEvent;
  /** The connection to Redis was lost; the executor waits up to `reconnectTimeout`. */
  disconnected: DisconnectedEvent;
  /** The connection is back; every unsettled task's job is checked. */
  reconnected: Record<string, never>;
}

/** The name of a DistributedExecutor event. */
export type DistributedEventName = keyof DistributedEvents;

/** A listener of the event `E`. */
export type DistributedListener<E extends DistributedEventName> = (
  event: DistributedEvents[E],
) => void;

const NAMES: readonly DistributedEventName[] = [
  'taskStarted',
  'taskFinished',
  'taskFailed',
  'taskCancelled',
  'taskRetried',
  'taskProgress',
  'nodeSeen',
  'nodeLost',
  'disconnected',
  'reconnected',
];

type Listener = (payload: unknown) => void;

/** The listener lists behind the executor's `on`/`off`, copied on change, never on emit. */
export class EventHub {
  readonly #owner: object;
  readonly #listeners: Partial<Record<DistributedEventName, Listener[]>> = {};
  readonly #onceWrappers = new WeakMap<Listener, Listener>();

  constructor(owner: object) {
    this.#owner = owner;
  }

  on(event: DistributedEventName, listener: Listener): void {
    if (typeof listener !== 'function') {
      throw new TypeError(
        `Expected the listener of '${event}' to be a function, got ${typeof listener}`,
      );
    }
    if (!NAMES.includes(event)) {
      throw new RangeError(
        `Expected an event name (${NAMES.join(', ')}), got ${JSON.stringify(event)}`,
      );
    }
    this.#listeners[event] = [...(this.#listeners[event] ?? []), listener];
  }

  once(event: DistributedEventName, listener: Listener): void {
    const wrapper: Listener = (payload) => {
      this.#remove(event, wrapper);
      listener.call(this.#owner, payload);
    };
    this.#onceWrappers.set(listener, wrapper);
    this.on(event, wrapper);
  }

  off(event: DistributedEventName, listener: Listener): void {
    if (!this.#remove(event, listener)) {
      const wrapper = this.#onceWrappers.get(listener);
      if (wrapper !== undefined) this.#remove(event, wrapper);
    }
  }

  listenerCount(event: DistributedEventName): number {
    return this.#listeners[event]?.length ?? 0;
  }

  wants(event: DistributedEventName): boolean {
    return this.#listeners[event] !== undefined;
  }

  emit<E extends DistributedEventName>(event: E, payload: DistributedEvents[E]): void {
    const listeners = this.#listeners[event];
    if (listeners === undefined) return;
    for (const listener of listeners) {
      try {
        listener.call(this.#owner, payload);
      } catch (error) {
        reportListenerError(event, error);
      }
    }
  }

  #remove(event: DistributedEventName, listener: Listener): boolean {
    const listeners = this.#listeners[event];
    const index = listeners?.indexOf(listener) ?? -1;
    if (listeners === undefined || index < 0) return false;
    const rest = listeners.filter((_, i) => i !== index);
    if (rest.length > 0) this.#listeners[event] = rest;
    else delete this.#listeners[event];
    return true;
  }
}
