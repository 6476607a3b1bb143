/**
 * The scheduling engine shared by ProcessPoolExecutor and ThreadPoolExecutor.
 *
 * It owns the queue of pending tasks, the workers and their life cycle,
 * per-task bookkeeping (time limits, cancellation of running tasks, retries
 * after crashes) and shutdown. It knows nothing about how a worker is
 * reached: it talks to `WorkerHandle`s made by a `Transport`. What it counts
 * and tells goes through `Telemetry`; output split by task through
 * `WorkerOutput`.
 *
 *   submit ──> queue ──pump──> worker.tasks ──send──> worker
 *                                  ^                      │
 *                                  └──── done / exit <────┘
 *
 * A worker runs one task at a time. Workers start lazily (first submit), up
 * to `maxWorkers`; idle ones above `minWorkers` are retired after
 * `idleTimeout`; a worker is recycled after `maxTasksPerWorker` tasks.
 * While a worker has work it keeps the parent's event loop alive; idle, it
 * does not, so a program that forgets `shutdown()` still exits.
 */
import type { TransferListItem } from 'node:worker_threads';
import pDefer, { type DeferredPromise } from 'p-defer';
import {
  BrokenExecutorError,
  CancelAll,
  ExecutorShutdownError,
  QueueFullError,
  TaskTimeoutError,
  TimeoutError,
} from '../errors.js';
import { describeError, Future, type RunningCanceller } from '../future.js';
import type { ChunkOutcome } from '../map.js';
import {
  crashError,
  crashReason,
  type DeadWorker,
  lostTransferError,
  uncloneableError,
} from './crash.js';
import { decodeError, type EncodedError } from './error-codec.js';
import type { FnInfo } from './functions.js';
import { Capture } from './output.js';
import {
  type EncodedChunkOutcome,
  type FnRef,
  OUTCOME_FIELDS,
  PROTOCOL_TAG,
  RESULTS_FLUSH_COUNT,
  TASK_ALONE,
  TASK_CHUNK,
  TASK_TIMED,
  type Usage,
  type WorkerMessage,
} from './protocol.js';
import { TaskQueue } from './queue.js';
import type { EngineOptions, Slot, Task, TaskSettings } from './records.js';
import { SignalWatch } from './signal-watch.js';
import type { Distribution, TaskCounters } from './stats.js';
import { Telemetry } from './telemetry.js';
import type { ExitInfo, WorkerHandle } from './transport.js';
import { WorkerOutput } from './worker-output.js';

export type { EngineOptions, TaskSettings } from './records.js';

/**
 * Consecutive workers that may fail to start (initializer throws, entry
 * fails, process cannot spawn) before the executor is declared broken.
 * Low, so a broken setup fails fast instead of respawning in a loop.
 */
export const MAX_START_FAILURES = 3;

/**
 * Pipelining: how much work (ms) the engine aims to keep queued inside each
 * worker, so that a worker never idles waiting for the parent. The number of
 * tasks that makes is the worker's depth, adapted to the measured time per
 * task (rounded up: a task of 2-4 ms gets a second one queued behind it, so
 * that the worker starts it while the parent is still reading the first
 * one's result) and bounded by MAX_DEPTH. Tasks of TARGET_QUEUED_MS or more
 * get a depth of 1; tiny tasks travel by the hundred per message. A task sent ahead this way stays
 * pending (cancellable) until it reaches the head of its worker's line.
 */
const TARGET_QUEUED_MS = 4;
const MAX_DEPTH = 256;

/**
 * A task running this long (ms) with unstarted tasks behind it, while
 * another worker is idle, has them taken back (see `#stealForIdle`). Above
 * TARGET_QUEUED_MS, so a worker working through its usual line of tiny
 * tasks is never robbed.
 */
const STEAL_AFTER_MS = 10;

/**
 * `stdio: 'capture'`: how long (ms) the outcome of a finished task waits
 * for the end markers of its output. A worker writes them before it sends
 * the outcome, so they normally arrive first or right after; they can be
 * missing only when task code broke the worker's streams. The outcome must
 * never be held hostage by its output: after this, it settles with the
 * output received so far.
 */
const OUTPUT_HOLD_MS = 2_000;

/** A snapshot of the engine's workers and tasks. */
export interface EngineCounts {
  /** Workers alive (starting, idle, busy or retiring). */
  workers: number;
  /** Workers ready and without a task. */
  idle: number;
  /** Workers with tasks. */
  busy: number;
  /** Workers started and not yet ready (running their initializer). */
  starting: number;
  /** Tasks waiting to start, including those already sent ahead to a worker. */
  queued: number;
  /** Tasks running now. */
  running: number;
}

/** One worker in `stats().perWorker`. */
export interface WorkerStats {
  /** Process id (thread id for ThreadPoolExecutor). */
  pid: number | undefined;
  /** `'retiring'`: asked to exit (idle, recycled, shutdown) or being killed. */
  state: 'starting' | 'idle' | 'busy' | 'retiring';
  /** Tasks it completed (any outcome). */
  tasksCompleted: number;
  /** Resident set size, bytes, as last reported (processes only). */
  rss: number | undefined;
  /** V8 heap in use, bytes, as last reported. */
  heapUsed: number | undefined;
  /** CPU time used, ms, user + system, as last reported (processes only). */
  cpuTime: number | undefined;
  /** How old those figures are, ms (reported at most once a second, while it works). */
  usageAge: number | undefined;
}

/** Everything `stats()` returns. */
export interface EngineStats extends EngineCounts, TaskCounters {
  /** Running time of recent tasks (worker-measured), ms. */
  runTime: Distribution;
  /** Time recent tasks waited from submit to start, ms. */
  waitTime: Distribution;
  /** Each live worker. */
  perWorker: WorkerStats[];
}

export class Pool implements RunningCanceller {
  readonly #o: EngineOptions;
  readonly #queue = new TaskQueue<Task>();
  readonly #workers = new Set<Slot>();
  readonly #telemetry: Telemetry;
  /** The tasks' AbortSignals: one listener per signal, not per task. */
  readonly #signals = new SignalWatch<Task>((task, reason) => this.#abort(task, reason));
  /** `stdio: 'capture'`: tasks whose output is being collected, by id. */
  readonly #capturing = new Map<number, Task>();
  #nextTaskId = 1;
  #pumpScheduled = false;
  #closing = false;
  #shutdown: DeferredPromise<void> | undefined;
  #broken: { cause: unknown } | undefined;
  #startFailures = 0;
  /** Tasks submitted and not yet released: while any exist, the event loop is held. */
  #unsettled = 0;
  #loopHold: NodeJS.Timeout | undefined;
  /** Callers of `whenQueueBelow`, woken as the queue shrinks. */
  #roomWaiters: Array<{ limit: number; resolve: () => void }> = [];
  /** Something was queued since the last `drain` event. */
  #undrained = false;
  #stealTimer: NodeJS.Timeout | undefined;

  constructor(options: EngineOptions) {
    this.#o = options;
    this.#telemetry = new Telemetry(options.events);
  }

  /** Schedules one unit of work and returns its future. */
  submit<R>(
    kind: 'run' | 'chunk',
    fn: FnInfo,
    payload: unknown[],
    settings: TaskSettings,
  ): Future<R> {
    const future = new Future<R>();
    if (this.#closing || this.#broken !== undefined || this.#queue.live >= this.#o.maxQueued) {
      // The facades refuse work after shutdown() at once; this holds for any
      // caller, so nothing new is queued, nor a worker spawned, once closing.
      const error = this.#closing
        ? new ExecutorShutdownError('cannot schedule new tasks after shutdown()')
        : this.#broken !== undefined
          ? this.#brokenError()
          : new QueueFullError(
              `The pending queue is full: ${this.#o.maxQueued} tasks are waiting (maxQueued); wait for room before submitting more`,
            );
      future.setException(error);
      this.#telemetry.refused(future, kind, kind === 'run' ? 1 : payload.length, error);
      return future;
    }
    const { signal } = settings;
    const limit = settings.timeout ?? this.#o.taskTimeout;
    const task: Task = {
      id: this.#nextTaskId++,
      kind,
      future,
      fn,
      payload,
      timeout: limit === Number.POSITIVE_INFINITY ? undefined : limit,
      signal,
      onProgress: settings.onProgress,
      transfer: settings.transfer,
      submittedAt: performance.now(),
      startedAt: 0,
      retriesLeft: settings.retries ?? this.#o.retries,
      retried: 0,
      worker: undefined,
      timer: undefined,
      stopTimer: undefined,
      suspect: false,
      stealing: false,
      deadInQueue: false,
      released: false,
      capture: undefined,
      held: undefined,
      holdTimer: undefined,
    };
    this.#telemetry.submitted();
    if (signal?.aborted) {
      task.released = true;
      future._cancel(signal.reason);
      this.#telemetry.cancelled(task, false, signal.reason);
      return future;
    }
    if (this.#unsettled++ === 0) this.#holdLoop(true);
    if (signal !== undefined) this.#signals.add(signal, task);
    future._setOwner(this, task);
    this.#queue.push(task);
    this.#undrained = true;
    this.#schedulePump();
    return future;
  }

  /** Stops a running task (RunningCanceller): abort its signal, kill it after the grace period. */
  cancelRunning(token: unknown, cause: unknown): boolean {
    const task = token as Task;
    if (!task.future.running()) return task.future._cancel(cause);
    this.#attachOutput(task);
    task.future._setCancelledWhileRunning(cause);
    this.#release(task);
    // Running without a worker: a retried task waiting in the queue for its
    // next attempt. It must not run again, nor count as queued.
    if (task.worker === undefined) this.#queue.markDead(task);
    this.#stopInWorker(task, 'cancel');
    this.#telemetry.cancelled(task, true, cause);
    return true;
  }

  /** A pending task was cancelled: if it already sits in a worker's line, have it skipped. */
  pendingCancelled(token: unknown, cause: unknown): void {
    const task = token as Task;
    const worker = task.worker;
    this.#release(task);
    this.#forgetOutput(task);
    this.#schedulePump();
    if (worker === undefined) {
      this.#queue.markDead(task);
    } else {
      // It waits in the worker's line: the worker skips it when it gets there.
      // (No kill timer: the task ahead of it may rightly take long.)
      worker.handle.send({ cf: PROTOCOL_TAG, k: 'cancel', id: task.id, why: 'cancel' });
    }
    this.#telemetry.cancelled(task, false, cause);
  }

  /**
   * Cancels every task not yet done: pending ones never start, running ones
   * are stopped. `cause` becomes the `cause` of their CancelledError.
   * `except` is spared (the task that threw a CancelAll).
   */
  cancelAll(cause: unknown, except?: Task): number {
    let count = 0;
    for (const task of this.#queue.snapshot()) {
      if (task !== except && !task.future.done() && this.cancelRunning(task, cause)) count++;
    }
    for (const slot of this.#workers) {
      for (const task of [...slot.tasks]) {
        if (task !== except && !task.future.done() && this.cancelRunning(task, cause)) count++;
      }
    }
    return count;
  }

  /** Cancels the tasks that have not started (`shutdown({ cancelFutures: true })`). */
  cancelPending(): void {
    // Cancelling marks them dead in the queue; retried tasks (still running
    // from their first attempt) refuse and stay.
    for (const task of this.#queue.snapshot()) task.future.cancel();
    this.#queue.dropDead();
    // Tasks sent ahead to a worker and not started are pending too: the
    // worker skips them.
    for (const slot of this.#workers) {
      for (const task of [...slot.tasks]) {
        if (task.future.state === 'pending') task.future.cancel();
      }
    }
    this.#notifyRoom();
  }

  /** Stops accepting work once the queue drains; resolves when every worker exited. */
  shutdown(): Promise<void> {
    this.#closing = true;
    this.#shutdown ??= pDefer<void>();
    this.#schedulePump();
    return this.#shutdown.promise;
  }

  /**
   * Resolves once fewer than `limit` tasks are queued (at once if that is
   * already so). The way to wait for room under `maxQueued`.
   */
  whenQueueBelow(limit: number): Promise<void> {
    if (this.#queue.live < limit || this.#broken !== undefined) return Promise.resolve();
    return new Promise((resolve) => this.#roomWaiters.push({ limit, resolve }));
  }

  /** For `map`: a promise to await before submitting when the queue is full, else undefined. */
  room(): Promise<void> | undefined {
    if (this.#queue.live < this.#o.maxQueued) return undefined;
    return this.whenQueueBelow(this.#o.maxQueued);
  }

  #notifyRoom(): void {
    if (this.#roomWaiters.length === 0) return;
    const queued = this.#broken === undefined ? this.#queue.live : 0;
    const still: Array<{ limit: number; resolve: () => void }> = [];
    for (const waiter of this.#roomWaiters) {
      if (queued < waiter.limit) waiter.resolve();
      else still.push(waiter);
    }
    this.#roomWaiters = still;
  }

  counts(): EngineCounts {
    let idle = 0;
    let busy = 0;
    let starting = 0;
    let running = 0;
    // Tasks sent ahead to a worker but not started count as queued.
    let queued = this.#queue.live;
    for (const slot of this.#workers) {
      if (slot.state === 'starting') starting++;
      else if (slot.tasks.length > 0) busy++;
      else if (slot.state === 'ready') idle++;
      for (const task of slot.tasks) {
        if (task.future.running()) running++;
        else if (!task.future.done()) queued++;
      }
    }
    return { workers: this.#workers.size, idle, busy, starting, queued, running };
  }

  /** Counts, counters, time distributions and per-worker figures. */
  stats(): EngineStats {
    const now = performance.now();
    const perWorker: WorkerStats[] = [];
    for (const slot of this.#workers) {
      const usage = slot.usage;
      perWorker.push({
        pid: slot.handle.pid,
        state: slot.state === 'ready' ? (slot.tasks.length > 0 ? 'busy' : 'idle') : slot.state,
        tasksCompleted: slot.completed,
        rss: usage?.rss,
        heapUsed: usage?.heapUsed,
        cpuTime: usage?.cpuTime,
        usageAge: usage === undefined ? undefined : now - usage.at,
      });
    }
    return {
      ...this.counts(),
      ...this.#telemetry.counters,
      runTime: this.#telemetry.runTime,
      waitTime: this.#telemetry.waitTime,
      perWorker,
    };
  }

  /** A readable dump of the workers and their in-flight tasks, for debugging. @internal */
  _debug(): unknown {
    return [...this.#workers].map((slot) => ({
      pid: slot.handle.pid,
      state: slot.state,
      depth: slot.depth,
      killTimer: slot.killTimer !== undefined,
      killReason: slot.killReason,
      tasks: slot.tasks.map(
        (t) => `${t.id}:${t.future.state}${t.suspect ? ':s' : ''}${t.timer ? ':clock' : ''}`,
      ),
    }));
  }

  /** Process ids (thread ids) of the live workers. */
  workerIds(): number[] {
    return [...this.#workers].map((slot) => slot.handle.pid).filter((pid) => pid !== undefined);
  }

  // ---------------------------------------------------------------------
  // Dispatch
  // ---------------------------------------------------------------------

  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    // Batched per tick: many submits in one tick cost one pass.
    queueMicrotask(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    if (this.#broken !== undefined) {
      this.#failQueue();
    } else {
      this.#spawnAsNeeded();
      if (this.#queue.size > 0) this.#dispatchAll();
      this.#stealForIdle();
    }
    if (this.#undrained && this.#queue.live === 0) {
      this.#undrained = false;
      if (this.#telemetry.wants('drain')) this.#telemetry.hub.emit('drain', {});
    }
    this.#notifyRoom();
    this.#maybeFinishShutdown();
  }

  #spawnAsNeeded(): void {
    let active = 0;
    let starting = 0;
    for (const slot of this.#workers) {
      if (slot.state === 'retiring') continue;
      active++;
      if (slot.state === 'starting') starting++;
    }
    const waiting = this.#queue.live;
    while (active < this.#o.maxWorkers && waiting > starting && this.#broken === undefined) {
      this.#spawn();
      active++;
      starting++;
    }
    while (!this.#closing && active < this.#o.minWorkers && this.#broken === undefined) {
      this.#spawn();
      active++;
    }
  }

  /**
   * Hands queued tasks to the workers: the least loaded first, and none more
   * than its fair share, so that tasks submitted together spread over the
   * workers instead of filling the first one's line (where a task could
   * wait behind a sibling that waits for it). A starting worker takes its
   * first tasks at once, queued behind its init message: that saves a round
   * trip on the way to the first result.
   */
  #dispatchAll(): void {
    const open: Slot[] = [];
    for (const slot of this.#workers) {
      if (slot.state !== 'retiring' && this.#roomIn(slot) > 0) open.push(slot);
    }
    if (open.length > 1) open.sort((a, b) => a.tasks.length - b.tasks.length);
    for (let i = 0; i < open.length && this.#queue.size > 0; i++) {
      const share = Math.ceil(this.#queue.live / (open.length - i));
      this.#dispatch(open[i]!, Math.min(this.#roomIn(open[i]!), Math.max(1, share)));
    }
  }

  #roomIn(slot: Slot): number {
    return Math.min(
      slot.depth - slot.tasks.length,
      this.#o.maxTasksPerWorker - slot.completed - slot.tasks.length,
    );
  }

  /**
   * Work stealing: a worker is idle, nothing is queued, and another worker
   * holds tasks that have not started behind a task running for longer than
   * STEAL_AFTER_MS (an async task waiting on something, perhaps on one of
   * those very tasks). Ask that worker to give them back; it answers with
   * the ones it had not started (`released`), which go to the queue's head.
   * A worker blocked in synchronous code answers only once it is free, by
   * which time its tasks may have run: nothing ever runs twice.
   */
  #stealForIdle(): void {
    if (this.#queue.live > 0 || this.#closing) return;
    let idle = false;
    for (const slot of this.#workers) {
      if (slot.state === 'ready' && slot.tasks.length === 0) idle = true;
    }
    if (!idle) return;
    const now = performance.now();
    let recheck = Number.POSITIVE_INFINITY;
    for (const slot of this.#workers) {
      if (slot.state !== 'ready' || slot.tasks.length < 2) continue;
      const due = slot.headSince + STEAL_AFTER_MS;
      if (now < due) {
        recheck = Math.min(recheck, due - now);
        continue;
      }
      const ids: number[] = [];
      for (let i = 1; i < slot.tasks.length; i++) {
        const task = slot.tasks[i]!;
        // A task with a transfer list is never taken back: its buffers now
        // belong to that worker, and sending it again would send them detached.
        if (!task.stealing && task.future.state === 'pending' && task.transfer === undefined) {
          task.stealing = true;
          ids.push(task.id);
        }
      }
      if (ids.length > 0) slot.handle.send({ cf: PROTOCOL_TAG, k: 'release', ids });
    }
    if (Number.isFinite(recheck) && this.#stealTimer === undefined) {
      this.#stealTimer = setTimeout(() => {
        this.#stealTimer = undefined;
        this.#schedulePump();
      }, recheck + 1);
      this.#stealTimer.unref();
    }
  }

  /** The worker gave back tasks it had not started: they go back to the queue's head. */
  #onReleased(slot: Slot, ids: number[]): void {
    const given = new Set(ids);
    const head = slot.tasks[0];
    const back: Task[] = [];
    for (let i = slot.tasks.length - 1; i >= 0; i--) {
      const task = slot.tasks[i]!;
      if (!given.has(task.id)) continue;
      slot.tasks.splice(i, 1);
      task.stealing = false;
      // The task ahead of it may have reported meanwhile, making it the head
      // (marked running, its clock started) although it never ran. It stays
      // running, like a retried task, and its clock restarts where it runs.
      clearTimeout(task.timer);
      task.timer = undefined;
      this.#forgetOutput(task);
      if (task.future.done()) this.#release(task);
      else back.push(task);
    }
    // `back` is in reverse order: requeueing each at the front restores it.
    for (const task of back) this.#requeueFront(task);
    if (slot.tasks[0] !== head) this.#startHead(slot, performance.now());
    this.#becameIdleIfSo(slot);
    this.#pump();
  }

  /** Sends up to `room` queued tasks to `slot` in one message. */
  #dispatch(slot: Slot, room: number): void {
    const batch: Task[] = [];
    while (batch.length < room) {
      const task = this.#queue.shift();
      if (task === undefined) break;
      if (task.future.done()) this.#release(task);
      else batch.push(task);
    }
    if (batch.length === 0) return;
    const fields: unknown[] = [];
    const newFns: number[] = [];
    const transfer: TransferListItem[] = [];
    for (const task of batch) {
      const id = task.fn.id;
      if (slot.knownFns.has(id) || newFns.includes(id)) {
        pushTask(fields, task, id);
      } else {
        pushTask(fields, task, { ...task.fn });
        newFns.push(id);
      }
      if (task.transfer !== undefined) transfer.push(...task.transfer);
    }
    try {
      slot.handle.send(
        { cf: PROTOCOL_TAG, k: 'batch', tasks: fields },
        transfer.length > 0 ? transfer : undefined,
      );
    } catch {
      // Something in the batch cannot be cloned: send one by one to fail only that task.
      this.#dispatchOneByOne(slot, batch);
      return;
    }
    for (const id of newFns) slot.knownFns.add(id);
    this.#accept(slot, batch);
  }

  #dispatchOneByOne(slot: Slot, batch: Task[]): void {
    for (const task of batch) {
      const known = slot.knownFns.has(task.fn.id);
      const fields: unknown[] = [];
      pushTask(fields, task, known ? task.fn.id : { ...task.fn });
      try {
        slot.handle.send({ cf: PROTOCOL_TAG, k: 'batch', tasks: fields }, task.transfer);
      } catch (sendError) {
        this.#release(task);
        this.#failTask(task, uncloneableError(task.id, task.kind, task.payload, sendError));
        continue;
      }
      if (!known) slot.knownFns.add(task.fn.id);
      this.#accept(slot, [task]);
    }
  }

  /** Records that `batch` was sent to `slot`. */
  #accept(slot: Slot, batch: Task[]): void {
    const wasEmpty = slot.tasks.length === 0;
    const capture = this.#o.spawn.stdio === 'capture';
    for (const task of batch) {
      task.worker = slot;
      slot.tasks.push(task);
      if (capture) {
        // A fresh record per attempt: a retried task keeps only its last run's output.
        task.capture = new Capture();
        this.#capturing.set(task.id, task);
      }
    }
    clearTimeout(slot.idleTimer);
    slot.idleTimer = undefined;
    this.#ref(slot, true);
    // On a starting worker the head starts (and its clock runs) once it is ready.
    if (wasEmpty && slot.state === 'ready') this.#startHead(slot, performance.now());
  }

  /**
   * The task at the head of the worker's line is the one it runs now: mark
   * its future running and start its time limit.
   */
  #startHead(slot: Slot, now: number): void {
    slot.headSince = now;
    const task = slot.tasks[0];
    if (task === undefined) return;
    // A retried task is still running from its first attempt.
    if (task.future.state === 'pending') {
      task.future.setRunningOrNotifyCancel();
      this.#telemetry.started(task, now);
    }
    if (task.future.running()) {
      this.#startClock(task);
    } else if (task.future.done()) {
      // Cancelled while the parent took it for pending (sent ahead, or run by
      // a worker whose 'ready' was not read yet). The worker skips it if it
      // has not started; if it has, it must stop like a running task:
      // signal, then a kill after `cancelGrace` if no outcome comes.
      this.#stopInWorker(task, 'cancel');
    }
  }

  #startClock(task: Task): void {
    if (task.timeout === undefined || task.future.done()) return;
    clearTimeout(task.timer);
    task.timer = setTimeout(() => this.#timedOut(task), task.timeout);
  }

  #timedOut(task: Task): void {
    task.timer = undefined;
    if (task.future.done()) return;
    if (task.held !== undefined) {
      // It finished within its limit; only its output is late: settle with
      // the outcome it had, and what of its output came.
      this.#outputComplete(task);
      return;
    }
    this.#release(task);
    this.#attachOutput(task);
    const error = new TaskTimeoutError(
      `Task ${task.id} exceeded its time limit of ${task.timeout} ms`,
      { timeout: task.timeout },
    );
    task.future.setException(error);
    this.#telemetry.failed(task, error);
    this.#stopInWorker(task, 'timeout');
  }

  #abort(task: Task, reason: unknown): void {
    if (task.future.done()) return;
    this.cancelRunning(task, reason);
  }

  /**
   * Asks the worker to abort (or skip) a task whose future is settled; if no
   * outcome for it came back after `cancelGrace`, the worker is killed.
   */
  #stopInWorker(task: Task, why: 'timeout' | 'cancel'): void {
    const slot = task.worker;
    if (slot === undefined || task.stopTimer !== undefined) return;
    slot.handle.send({ cf: PROTOCOL_TAG, k: 'cancel', id: task.id, why });
    task.stopTimer = setTimeout(() => {
      task.stopTimer = undefined;
      if (task.worker === slot && slot.tasks.includes(task)) {
        this.#kill(slot, why === 'timeout' ? 'timeout' : 'cancelled');
      }
    }, this.#o.cancelGrace);
  }

  /** Detaches a task from its signal and its future's owner link. */
  #release(task: Task): void {
    if (!task.released) {
      task.released = true;
      if (--this.#unsettled === 0) {
        this.#holdLoop(false);
        if (this.#telemetry.wants('idle')) {
          // After the settlement under way, and only if nothing came meanwhile.
          queueMicrotask(() => {
            if (this.#unsettled === 0) this.#telemetry.hub.emit('idle', {});
          });
        }
      }
    }
    clearTimeout(task.timer);
    task.timer = undefined;
    if (task.signal !== undefined) this.#signals.remove(task.signal, task);
    task.future._setOwner(undefined, undefined);
  }

  // ---------------------------------------------------------------------
  // Outcomes
  // ---------------------------------------------------------------------

  #onMessage(slot: Slot, message: WorkerMessage): void {
    switch (message.k) {
      case 'ready':
        this.#noteUsage(slot, message.u);
        clearTimeout(slot.startTimer);
        slot.startTimer = undefined;
        if (slot.state === 'starting') {
          slot.state = 'ready';
          this.#startHead(slot, performance.now());
        }
        this.#startFailures = 0;
        this.#becameIdleIfSo(slot);
        this.#schedulePump();
        return;
      case 'initFailed':
        slot.startError = decodeError(message.error);
        this.#kill(slot, 'initializer-failed');
        return;
      case 'results':
        if (message.u !== undefined) this.#noteUsage(slot, message.u);
        this.#onResults(slot, message.done);
        return;
      case 'progress': {
        const task =
          slot.tasks[0]?.id === message.id
            ? slot.tasks[0]
            : slot.tasks.find((t) => t.id === message.id);
        if (task !== undefined && !task.future.done()) {
          this.#telemetry.progress(task, message.value);
        }
        return;
      }
      case 'released':
        this.#onReleased(slot, message.ids);
        return;
      case 'fatal':
        slot.fatal = { origin: message.origin, error: decodeError(message.error) };
        return;
      case 'outputBroken':
        // Task code ended or broke the worker's stdout/stderr. The worker
        // reported what it finished and started nothing since: replace it.
        // Nobody is blamed (the engine's own kill reason), and the tasks in
        // its line run elsewhere.
        slot.killReason ??= 'output-broken';
        this.#retire(slot);
        return;
    }
  }

  #noteUsage(slot: Slot, [rss, heapUsed, cpuMs]: Usage): void {
    slot.usage = {
      rss: rss < 0 ? undefined : rss,
      heapUsed,
      cpuTime: cpuMs < 0 ? undefined : cpuMs,
      at: performance.now(),
    };
  }

  #onResults(slot: Slot, done: unknown[]): void {
    const now = performance.now();
    const tasks = slot.tasks;
    const count = done.length / OUTCOME_FIELDS;
    // Outcomes arrive in the order the worker ran its tasks, which is the
    // order they were sent: normally the first `count` tasks of the line.
    // They stay in the line while they are settled one by one, so that a
    // CancelAll among them still reaches the siblings behind it; the line is
    // then cut once (not once per outcome: lines are up to MAX_DEPTH long).
    let inOrder = count <= tasks.length;
    for (let i = 0; inOrder && i < count; i++) {
      inOrder = tasks[i]!.id === done[i * OUTCOME_FIELDS];
    }
    let headDone = false;
    if (inOrder) {
      const finished = tasks.slice(0, count);
      for (let i = 0; i < count; i++) this.#finishInWorker(slot, finished[i]!, done, i, now);
      // Done callbacks cannot take tasks out of a worker's line; check anyway.
      if (tasks[count - 1] === finished[count - 1]) tasks.splice(0, count);
      else for (const task of finished) tasks.splice(tasks.indexOf(task), 1);
      headDone = count > 0;
    } else {
      for (let i = 0; i < count; i++) {
        const index = tasks.findIndex((task) => task.id === done[i * OUTCOME_FIELDS]);
        if (index < 0) continue;
        const [task] = tasks.splice(index, 1) as [Task];
        if (index === 0) headDone = true;
        this.#finishInWorker(slot, task, done, i, now);
      }
    }
    if (headDone) {
      this.#adaptDepth(slot, count, now);
      this.#startHead(slot, now);
    }
    if (slot.state === 'ready' && slot.completed >= this.#o.maxTasksPerWorker) {
      this.#retire(slot);
    }
    this.#becameIdleIfSo(slot);
    this.#pump();
  }

  /** Settles a task whose outcome (the `i`-th in `done`) the worker reported. */
  #finishInWorker(slot: Slot, task: Task, done: unknown[], i: number, now: number): void {
    const at = i * OUTCOME_FIELDS;
    const ok = done[at + 1] === 1;
    const value = done[at + 2];
    const ms = done[at + 3] as number;
    clearTimeout(task.stopTimer);
    task.stopTimer = undefined;
    slot.completed++;
    if (task.future.done()) {
      this.#release(task);
      this.#forgetOutput(task);
      return;
    }
    // Outcomes of tasks behind the head arrive with it: they ran too.
    if (task.future.state === 'pending') {
      task.future.setRunningOrNotifyCancel();
      this.#telemetry.started(task, ms >= 0 ? now - ms : now);
    }
    if (task.capture !== undefined && ms >= 0 && task.capture.ends < 2) {
      // Its output is still on its way (another channel): settle when it is
      // in, or after OUTPUT_HOLD_MS. Its time limit keeps running meanwhile
      // (see #timedOut).
      task.held = { ok, value, ms };
      task.holdTimer = setTimeout(() => this.#outputComplete(task), OUTPUT_HOLD_MS);
      return;
    }
    this.#release(task);
    this.#settle(task, ok, value, ms);
  }

  /** Both end markers of a captured task arrived. */
  #outputComplete(task: Task): void {
    const held = task.held;
    if (held === undefined) return;
    task.held = undefined;
    clearTimeout(task.holdTimer);
    task.holdTimer = undefined;
    this.#release(task);
    if (task.future.done()) this.#forgetOutput(task);
    else this.#settle(task, held.ok, held.value, held.ms);
  }

  /** Updates the worker's time per task and, from it, how many tasks it may hold. */
  #adaptDepth(slot: Slot, finished: number, now: number): void {
    const perTask = (now - slot.headSince) / Math.max(1, finished);
    slot.avgTaskMs = slot.avgTaskMs === 0 ? perTask : slot.avgTaskMs * 0.7 + perTask * 0.3;
    const depth = Math.ceil(TARGET_QUEUED_MS / Math.max(slot.avgTaskMs, 1e-3));
    slot.depth = Math.max(1, Math.min(MAX_DEPTH, depth));
  }

  #settle(task: Task, ok: boolean, value: unknown, ms: number): void {
    this.#attachOutput(task);
    if (!ok) {
      const error = decodeError(value as EncodedError);
      task.future.setException(error);
      this.#telemetry.failed(task, error, ms);
      if (error instanceof CancelAll) this.cancelAll(error, task);
      return;
    }
    if (task.kind === 'run') {
      task.future.setResult(value);
      this.#telemetry.succeeded(task, value, ms);
      return;
    }
    const encoded = value as EncodedChunkOutcome;
    const outcome: ChunkOutcome<unknown> = { values: encoded.values, failed: encoded.failed };
    if (encoded.failed && encoded.error !== undefined) outcome.error = decodeError(encoded.error);
    task.future.setResult(outcome);
    if (outcome.failed) this.#telemetry.failed(task, outcome.error, ms);
    else this.#telemetry.succeeded(task, outcome.values, ms);
    if (outcome.error instanceof CancelAll) this.cancelAll(outcome.error, task);
  }

  /** `stdio: 'capture'`: puts what the task wrote on its future, before it settles. */
  #attachOutput(task: Task): void {
    const capture = task.capture;
    if (capture === undefined) return;
    task.future._setOutput(capture.result());
    this.#forgetOutput(task);
  }

  #forgetOutput(task: Task): void {
    if (task.capture === undefined) return;
    task.capture = undefined;
    task.held = undefined;
    clearTimeout(task.holdTimer);
    task.holdTimer = undefined;
    this.#capturing.delete(task.id);
  }

  // ---------------------------------------------------------------------
  // Workers
  // ---------------------------------------------------------------------

  #spawn(): void {
    let slot: Slot | undefined;
    let handle: WorkerHandle;
    try {
      handle = this.#o.transport.spawn(this.#o.spawn, {
        message: (message) => {
          if (slot !== undefined) this.#onMessage(slot, message);
        },
        output: (stream, chunk) => slot?.output?.push(stream, chunk),
        exit: (info) => {
          if (slot !== undefined) this.#onExit(slot, info);
        },
      });
    } catch (error) {
      // A synchronous spawn failure (e.g. execArgv a worker thread refuses)
      // will not go away by retrying: the executor is broken at once.
      this.#broken = { cause: error };
      this.#schedulePump();
      return;
    }
    const { stdio, nonce } = this.#o.spawn;
    slot = {
      handle,
      state: 'starting',
      tasks: [],
      knownFns: new Set(),
      completed: 0,
      depth: 1,
      avgTaskMs: 0,
      headSince: 0,
      idleTimer: undefined,
      startTimer: undefined,
      killTimer: undefined,
      killReason: undefined,
      retired: false,
      startError: undefined,
      fatal: undefined,
      referenced: true,
      usage: undefined,
      output:
        stdio === 'inherit' || nonce === undefined
          ? undefined
          : new WorkerOutput({
              nonce,
              mode: stdio,
              pid: handle.pid,
              hub: this.#telemetry.hub,
              lookup: (id) => this.#capturing.get(id),
              complete: (task) => this.#outputComplete(task),
              pipe: this.#o.pipe,
            }),
    };
    this.#workers.add(slot);
    const init = this.#o.initializer;
    handle.send({
      cf: PROTOCOL_TAG,
      k: 'init',
      ...(init === undefined ? {} : { initializer: { ...init }, initargs: this.#o.initargs }),
      ...(slot.output === undefined ? {} : { markers: nonce }),
    });
    if (init !== undefined) slot.knownFns.add(init.id);
    const limit = this.#o.initializerTimeout;
    if (limit !== undefined) {
      // Bounds the whole start (Node's own, the worker entry, the
      // initializer): a worker that never gets ready must not hold its
      // tasks, or shutdown, forever.
      const starting = slot;
      slot.startTimer = setTimeout(() => this.#startTimedOut(starting, limit), limit);
      slot.startTimer.unref();
    }
    if (this.#telemetry.wants('workerSpawned')) {
      this.#telemetry.hub.emit('workerSpawned', { pid: handle.pid });
    }
  }

  /** The worker did not get ready within `initializerTimeout`: a failed start. */
  #startTimedOut(slot: Slot, limit: number): void {
    slot.startTimer = undefined;
    if (slot.state !== 'starting') return;
    slot.startError = new TimeoutError(
      `Worker ${slot.handle.pid} did not get ready within initializerTimeout (${limit} ms): its start-up or initializer did not finish`,
    );
    this.#kill(slot, 'initializer-timeout');
  }

  #onExit(slot: Slot, info: ExitInfo): void {
    this.#workers.delete(slot);
    clearTimeout(slot.idleTimer);
    clearTimeout(slot.startTimer);
    clearTimeout(slot.killTimer);
    slot.output?.finish();
    const dead = deadWorker(slot);
    // The spawn itself failed (missing cwd or node binary, EMFILE...): that is why it never started.
    if (info.spawnFailed === true) slot.startError ??= info.error;
    const startKilled =
      slot.killReason === 'initializer-failed' || slot.killReason === 'initializer-timeout';
    const neverStarted = slot.state === 'starting' || startKilled;
    // A failed start counts towards the breaker, unless it was no failure:
    // shutdown stopped a worker that was still starting.
    if (neverStarted && (startKilled || !slot.retired)) {
      this.#startFailures++;
      if (this.#startFailures >= MAX_START_FAILURES) {
        this.#broken = { cause: slot.startError ?? crashError(dead, info, undefined) };
      }
    }
    // Captured tasks that finished but whose output never completed: settle them now.
    for (const task of [...this.#capturing.values()]) {
      if (task.worker === slot && task.held !== undefined) this.#outputComplete(task);
    }
    const tasks = slot.tasks.splice(0);
    const live: Task[] = [];
    for (const task of tasks) {
      clearTimeout(task.stopTimer);
      task.stopTimer = undefined;
      if (task.future.done()) {
        this.#release(task);
        this.#forgetOutput(task);
      } else {
        live.push(task);
      }
    }
    // Which task was running? The first unreported one, unless outcomes
    // before it were still waiting in the worker's batch: then any of the
    // first RESULTS_FLUSH_COUNT + 1 may be the culprit. The engine's own
    // kills (time limit, cancellation) settled their task already, and every
    // live task behind it never started.
    // A worker that died before it was ready ran none of its tasks.
    const killedByUs = slot.killReason !== undefined || neverStarted;
    const certain = killedByUs || live.length <= 1 || live[0]!.suspect;
    // Back to front, so that requeued tasks keep their order at the queue's head.
    for (let position = live.length - 1; position >= 0; position--) {
      const task = live[position]!;
      if (task.transfer !== undefined) {
        // Its buffers went with the worker: it cannot run again, retries or not.
        this.#release(task);
        this.#attachOutput(task);
        this.#failTask(task, lostTransferError(dead, info, task.id));
      } else if (position === 0 && certain && !killedByUs) {
        const error = crashError(dead, info, task.id);
        if (task.retriesLeft > 0) {
          task.retriesLeft--;
          task.retried++;
          task.suspect = false;
          this.#requeueFront(task);
          this.#telemetry.retried(task, task.retried, error);
        } else {
          this.#release(task);
          this.#attachOutput(task);
          task.future.setException(error);
          this.#telemetry.failed(task, error);
        }
      } else {
        // Never started (or finished with its outcome lost): run it elsewhere,
        // at no cost to its retries.
        if (!certain && position <= RESULTS_FLUSH_COUNT) task.suspect = true;
        this.#forgetOutput(task);
        this.#requeueFront(task);
      }
    }
    if (this.#telemetry.wants('workerExited')) {
      this.#telemetry.hub.emit('workerExited', {
        pid: slot.handle.pid,
        exitCode: info.exitCode,
        signal: info.signal,
        reason: slot.retired && slot.killReason === undefined ? 'retired' : crashReason(dead, info),
        tasksCompleted: slot.completed,
      });
    }
    this.#schedulePump();
  }

  /**
   * Puts a task back at the queue's head (its worker went away, or gave it
   * back). Its clock stops here: the next attempt gets a full time limit of
   * its own, started when it runs again.
   */
  #requeueFront(task: Task): void {
    task.worker = undefined;
    clearTimeout(task.timer);
    task.timer = undefined;
    this.#queue.unshift(task);
  }

  #becameIdleIfSo(slot: Slot): void {
    if (slot.state !== 'ready' || slot.tasks.length > 0) return;
    this.#ref(slot, false);
    if (this.#closing || slot.idleTimer !== undefined) return;
    let active = 0;
    for (const other of this.#workers) if (other.state !== 'retiring') active++;
    if (active > this.#o.minWorkers && Number.isFinite(this.#o.idleTimeout)) {
      slot.idleTimer = setTimeout(() => {
        slot.idleTimer = undefined;
        if (slot.state !== 'ready' || slot.tasks.length > 0) return;
        // Other idle workers may have been retired meanwhile: keep minWorkers.
        let still = 0;
        for (const other of this.#workers) if (other.state !== 'retiring') still++;
        if (still > this.#o.minWorkers) this.#retire(slot);
      }, this.#o.idleTimeout);
      slot.idleTimer.unref();
    }
  }

  /**
   * Keeps the parent's event loop alive while any submitted task is
   * unsettled, whatever the transport's own handles do: a program awaiting a
   * future must never end early. One timer, toggled only when the count of
   * unsettled tasks leaves or returns to zero.
   */
  #holdLoop(on: boolean): void {
    if (on) this.#loopHold ??= setInterval(() => {}, 2 ** 31 - 1);
    else if (this.#loopHold !== undefined) {
      clearInterval(this.#loopHold);
      this.#loopHold = undefined;
    }
  }

  #ref(slot: Slot, on: boolean): void {
    if (slot.referenced === on) return;
    slot.referenced = on;
    if (on) slot.handle.ref();
    else slot.handle.unref();
  }

  /** Asks a worker to exit; escalates to SIGTERM, then SIGKILL, if it does not. */
  #retire(slot: Slot): void {
    if (slot.state === 'retiring') return;
    slot.state = 'retiring';
    slot.retired = true;
    clearTimeout(slot.idleTimer);
    slot.idleTimer = undefined;
    // Until it is gone, the worker keeps the parent alive: `await shutdown()` must see it exit.
    this.#ref(slot, true);
    slot.handle.send({ cf: PROTOCOL_TAG, k: 'exit' });
    clearTimeout(slot.killTimer);
    slot.killTimer = setTimeout(() => this.#kill(slot, undefined), this.#o.shutdownGrace);
    slot.killTimer.unref();
  }

  /** SIGTERM now, SIGKILL after `shutdownGrace`. */
  #kill(slot: Slot, reason: string | undefined): void {
    slot.killReason ??= reason;
    if (reason === undefined) slot.retired = true;
    if (slot.state !== 'starting' || reason !== undefined) slot.state = 'retiring';
    this.#ref(slot, true);
    slot.handle.kill('SIGTERM');
    clearTimeout(slot.killTimer);
    slot.killTimer = setTimeout(() => slot.handle.kill('SIGKILL'), this.#o.shutdownGrace);
    slot.killTimer.unref();
  }

  // ---------------------------------------------------------------------
  // Shutdown, breakage
  // ---------------------------------------------------------------------

  #brokenError(): BrokenExecutorError {
    const cause = this.#broken?.cause;
    return new BrokenExecutorError(
      `The executor is broken: ${MAX_START_FAILURES} workers in a row failed to start (${describeError(cause)})`,
      { cause },
    );
  }

  #failQueue(): void {
    for (const task of this.#queue.drain()) {
      this.#release(task);
      this.#failTask(task, this.#brokenError());
    }
  }

  /**
   * Fails a task that never got an outcome from a worker. A task already done
   * (cancelled while queued, also a retried one cancelled with
   * `{ running: true }`) is left alone: its future changes state only once.
   */
  #failTask(task: Task, error: unknown): void {
    if (task.future.done()) return;
    task.future.setException(error);
    this.#telemetry.failed(task, error);
  }

  #maybeFinishShutdown(): void {
    if (!this.#closing) return;
    if (this.#queue.live > 0 && this.#broken === undefined) return;
    this.#queue.dropDead();
    for (const slot of this.#workers) {
      if (slot.state === 'retiring') continue;
      if (slot.state === 'starting') {
        // Still starting (its initializer may never end): if every task sent
        // ahead to it was cancelled meanwhile, there is nothing to wait for.
        // Once: killing again would push back its SIGKILL.
        if (!slot.retired && slot.tasks.every((task) => task.future.done())) {
          this.#kill(slot, undefined);
        }
      } else if (slot.tasks.length === 0) {
        this.#retire(slot);
      }
    }
    if (this.#workers.size === 0) this.#shutdown?.resolve();
  }
}

/** Appends a task's TASK_FIELDS to a batch. */
function pushTask(fields: unknown[], task: Task, fn: number | FnRef): void {
  let flags = task.kind === 'chunk' ? TASK_CHUNK : 0;
  if (task.timeout !== undefined) flags |= TASK_TIMED;
  if (task.suspect) flags |= TASK_ALONE;
  fields.push(task.id, fn, task.payload, flags);
}

function deadWorker(slot: Slot): DeadWorker {
  return { pid: slot.handle.pid, killReason: slot.killReason, fatal: slot.fatal };
}
