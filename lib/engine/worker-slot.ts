/**
 * One worker as the engine keeps it: its handle, its line of tasks, what it
 * knows, and its life. A worker starts (`ready` false) and gets ready; once
 * the engine decides it must go, `ending` says why, and it is retired
 * (asked to exit, SIGTERM then SIGKILL if it does not) or killed (SIGTERM,
 * then SIGKILL). Its timers (idle retirement, start limit, kill
 * escalation) live and die here.
 */
import type { WorkerHandle } from '../transport/transport.js';
import { PROTOCOL_TAG, type Usage } from '../wire/protocol.js';
import type { SlotNest } from './nesting.js';
import type { WorkerOutput } from './output/worker-output.js';
import type { TaskRecord } from './task-record.js';

/**
 * Why the engine kills a worker, in the words of `WorkerCrashedError.reason`
 * and of the `workerExited` event.
 */
export type KillReason =
  | 'timeout'
  | 'cancelled'
  | 'initializer-failed'
  | 'initializer-timeout'
  | 'output-broken';

/**
 * Why a worker is going away: `'retired'` when the engine asked it to exit
 * with no fault (idle, recycled after `maxTasksPerWorker`, shutdown), else
 * the reason it was killed. The first kill reason sticks.
 */
export type Ending = 'retired' | KillReason;

/** What a worker last reported about its resources. */
export interface WorkerUsage {
  /** Resident set size of the worker process, bytes (processes only). */
  rss: number | undefined;
  /** V8 heap in use, bytes. */
  heapUsed: number;
  /** CPU time used, ms, user plus system (processes only). */
  cpuTime: number | undefined;
  /** `performance.now()` in the parent when it arrived. */
  at: number;
}

/**
 * Pipelining: how much work (ms) the engine aims to keep queued inside each
 * worker, so that a worker never idles waiting for the parent. The number of
 * tasks that makes is the worker's depth, adapted to the measured time per
 * task (rounded up: a task of 2-4 ms gets a second one queued behind it, so
 * that the worker starts it while the parent is still reading the first
 * one's result) and bounded by MAX_DEPTH. Tasks of TARGET_QUEUED_MS or more
 * get a depth of 1; tiny tasks travel by the hundred per message. A task
 * sent ahead this way stays pending (cancellable) until it reaches the head
 * of its worker's line.
 */
export const TARGET_QUEUED_MS = 4;
/**
 * The longest line a worker gets: bounds what a crash sends back to the
 * queue and what one batch message holds, at no cost to throughput (256
 * tiny tasks already share one message).
 */
const MAX_DEPTH = 256;
/**
 * The longest line of a worker that holds parked tasks (awaiting nested
 * ones, engine/nesting.ts). Their children are tiny as often as not, and
 * a line of 256 lets a tree grow breadth-first, 256 tasks a level; 16
 * keeps the frontier small and the tree fast. fib(20), 21,891 tasks: the
 * most unfinished at once fell from 2,000-4,700 to 300-650, and the
 * medians of its time from 3.1-4.5 s to 1.3-2.6 s (both executors, 1 and
 * 2 workers); a line
 * of 1 gives the least frontier (depth x 2) but a round trip per task.
 */
const PARKED_MAX_DEPTH = 16;
/** Times per task below this (ms) count as this, so that a depth is never infinite. */
const MIN_TASK_MS = 1e-3;

/**
 * Weight of the newest measurement in the moving average of a worker's time
 * per task: high enough that the depth follows a change of workload within
 * a few batches, low enough that one slow batch (a GC pause) does not cut
 * the depth of a worker running tiny tasks.
 */
const NEWEST_WEIGHT = 0.3;

export class WorkerSlot {
  readonly handle: WorkerHandle;
  /** Got ready: its initializer ran and it takes tasks. */
  ready = false;
  /** Set once the engine decided the worker must go; see `Ending`. */
  ending: Ending | undefined = undefined;
  /** Tasks sent to this worker and not done, in order; the first is the one it runs. */
  readonly tasks: TaskRecord[] = [];
  /** Ids of the functions it has loaded: later tasks send only the id. */
  readonly knownFns = new Set<number>();
  /** Tasks it completed (any outcome). */
  completed = 0;
  /** How many tasks may be in its line at once (adaptive, see TARGET_QUEUED_MS). */
  depth = 1;
  /** Moving average of the time per task, ms (0: not measured yet). */
  avgTaskMs = 0;
  /** When the task at the head of `tasks` started, as far as the parent knows. */
  headSince = 0;
  /** Why it could not start, once known (initializer error, time limit, spawn failure). */
  startError: unknown = undefined;
  /** Its failure to start was counted when the engine killed it for it (not again at exit). */
  startFailureCounted = false;
  /** What the worker reported just before dying of an error that escaped task code. */
  fatal: { origin: string; error: unknown } | undefined = undefined;
  usage: WorkerUsage | undefined = undefined;
  /** `stdio: 'capture'` or `'pipe'`: the worker's output, split by task. */
  output: WorkerOutput | undefined = undefined;
  /** Nested submission: its parked tasks and what its tasks submitted (nesting.ts). */
  nest: SlotNest | undefined = undefined;
  #idleTimer: NodeJS.Timeout | undefined = undefined;
  #startTimer: NodeJS.Timeout | undefined = undefined;
  #killTimer: NodeJS.Timeout | undefined = undefined;
  #referenced = true;

  constructor(handle: WorkerHandle) {
    this.handle = handle;
  }

  /** Process id, or thread id of a worker thread. */
  get workerId(): number | undefined {
    return this.handle.workerId;
  }

  /** Taking tasks: not going away. (A starting worker takes tasks too: they wait for its start.) */
  get open(): boolean {
    return this.ending === undefined;
  }

  /** Ready, not going away, and without a task (in its line or parked). */
  get idle(): boolean {
    return this.ready && this.ending === undefined && this.tasks.length === 0 && !this.hasParked;
  }

  /** Some task of this worker awaits nested futures, out of its line (nesting.ts). */
  get hasParked(): boolean {
    return this.nest !== undefined && this.nest.parked.size > 0;
  }

  /** How many more tasks its line may take now, given `maxTasksPerWorker`. */
  spareCapacity(maxTasksPerWorker: number): number {
    // A worker whose tasks await nested ones must take their children, or
    // a single worker would deadlock: it is recycled once none is parked.
    if (this.hasParked) return Math.min(this.depth, PARKED_MAX_DEPTH) - this.tasks.length;
    return Math.min(
      this.depth - this.tasks.length,
      maxTasksPerWorker - this.completed - this.tasks.length,
    );
  }

  /**
   * `finished` tasks from the head of the line reported at `now`: updates
   * the time per task and, from it, how many tasks the line may hold.
   */
  adaptDepth(finished: number, now: number): void {
    const perTask = (now - this.headSince) / Math.max(1, finished);
    this.avgTaskMs =
      this.avgTaskMs === 0
        ? perTask
        : this.avgTaskMs * (1 - NEWEST_WEIGHT) + perTask * NEWEST_WEIGHT;
    const depth = Math.ceil(TARGET_QUEUED_MS / Math.max(this.avgTaskMs, MIN_TASK_MS));
    this.depth = Math.max(1, Math.min(MAX_DEPTH, depth));
  }

  /** Keeps the parent's event loop alive while this worker has work, and not while it idles. */
  keepAlive(on: boolean): void {
    if (this.#referenced === on) return;
    this.#referenced = on;
    if (on) this.handle.ref();
    else this.handle.unref();
  }

  /** Calls `onIdle` after `ms` unless work comes first (`cancelIdleTimer`). */
  armIdleTimer(ms: number, onIdle: () => void): void {
    if (this.#idleTimer !== undefined) return;
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      onIdle();
    }, ms);
    this.#idleTimer.unref();
  }

  cancelIdleTimer(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  /** Bounds the start: `onLate` runs if the worker is not ready after `ms`. */
  armStartTimer(ms: number, onLate: () => void): void {
    this.#startTimer = setTimeout(() => {
      this.#startTimer = undefined;
      onLate();
    }, ms);
    this.#startTimer.unref();
  }

  /** The worker reported ready (or is going anyway): its start limit no longer applies. */
  clearStartLimit(): void {
    clearTimeout(this.#startTimer);
    this.#startTimer = undefined;
  }

  /**
   * Asks the worker to exit; SIGTERM, then SIGKILL, after `grace` ms if it
   * does not. `reason`: why, when it is a fault (`'output-broken'`).
   */
  retire(grace: number, reason: Ending = 'retired'): void {
    if (this.ending !== undefined) {
      // Already going: a fault found meanwhile still names its end.
      if (this.ending === 'retired') this.ending = reason;
      return;
    }
    this.ending = reason;
    this.cancelIdleTimer();
    // Until it is gone, the worker keeps the parent alive: `await shutdown()` must see it exit.
    this.keepAlive(true);
    this.handle.send({ cf: PROTOCOL_TAG, k: 'exit' });
    clearTimeout(this.#killTimer);
    this.#killTimer = setTimeout(() => this.kill(grace, undefined), grace);
    this.#killTimer.unref();
  }

  /**
   * SIGTERM now, SIGKILL after `grace` ms. `reason` undefined: no fault of
   * the worker's (shutdown, or a retired worker that did not exit).
   */
  kill(grace: number, reason: KillReason | undefined): void {
    if (reason !== undefined && (this.ending === undefined || this.ending === 'retired')) {
      this.ending = reason;
    }
    this.ending ??= 'retired';
    this.keepAlive(true);
    this.handle.kill('SIGTERM');
    clearTimeout(this.#killTimer);
    this.#killTimer = setTimeout(() => this.handle.kill('SIGKILL'), grace);
    this.#killTimer.unref();
  }

  /** The worker is gone: no timer of its may fire. */
  exited(): void {
    clearTimeout(this.#idleTimer);
    clearTimeout(this.#startTimer);
    clearTimeout(this.#killTimer);
    this.#idleTimer = undefined;
    this.#startTimer = undefined;
    this.#killTimer = undefined;
  }

  /** Records a resource report. */
  noteUsage([rss, heapUsed, cpuMs]: Usage): void {
    this.usage = {
      rss: rss < 0 ? undefined : rss,
      heapUsed,
      cpuTime: cpuMs < 0 ? undefined : cpuMs,
      at: performance.now(),
    };
  }

  /** The task with this id in its line, if any (usually the head). */
  find(id: number): TaskRecord | undefined {
    const head = this.tasks[0];
    if (head?.id === id) return head;
    return this.tasks.find((task) => task.id === id) ?? this.nest?.parked.get(id);
  }
}
