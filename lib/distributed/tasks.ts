/**
 * The executor's tasks and their jobs: the state machine that turns queue
 * events into settled futures.
 *
 *   queued ──addBulk──> waiting ──'active'──> running ──'completed'──> (settled, job removed)
 *     │                    │                     │
 *     └─cancel: dropped    └─cancel: removed     ├─cancel / CancelAll: nodes told, job removed when it ends
 *                                                └─'stalled' (node lost): re-added under a new id
 *                                                   within `retries`, else WorkerCrashedError
 *
 * A task is tracked until its job is gone from Redis, so that every job it
 * ever added is removed: Redis does not grow with the number of tasks.
 * Every transition is idempotent: events may come twice (an event and a
 * reconciliation read) or out of order ('completed' before 'active').
 */
import {
  CancelAll,
  CancelledError,
  Future,
  QueueFullError,
  type TaskKind,
  WorkerCrashedError,
} from '../index.js';
import { decodeThrown, decodeValue, encodeValue, type RemoteErrorInfo } from './codec.js';
import { JobLostError } from './errors.js';
import type { DistributedTaskEvent, EventHub } from './events.js';
import { type ChunkOutcome, describeError, type RunningCanceller } from './internal.js';
import type { JobEvent, JobEventName, JobReading, QueueLink } from './link.js';
import type { NodeRegistry } from './nodes.js';
import {
  type Envelope,
  type FnSpec,
  FORMAT,
  type JobData,
  KIND_CHUNK,
  KIND_RUN,
  parseEnvelope,
  type WireChunkOutcome,
} from './protocol.js';

/**
 * Finished jobs are removed in batches, at most this many ms after the
 * first of a batch finished, or as soon as REMOVE_BATCH are waiting: one
 * round trip (one wake-up of Redis, one of this process for the reply) per
 * batch instead of per job. Removal is housekeeping: nothing waits for it
 * but `shutdown()`, which sends what is left at once.
 */
const REMOVE_DELAY_MS = 20;
const REMOVE_BATCH = 500;

/**
 * Jobs added per addBulk (one Redis transaction). Submits of one tick go
 * together, up to this many; the rest follow in the next turns of the
 * event loop. Nodes start on the first jobs while later ones are still
 * being added, Redis is never blocked long by one transaction, and results
 * are handled in between.
 */
const ADD_BATCH = 250;

/** BullMQ's reason for a job whose node stopped renewing its lock (see stalled jobs). */
const STALLED_REASON = /stalled/i;

type State = 'queued' | 'adding' | 'waiting' | 'running' | 'stopping';

interface Task {
  seq: number;
  /** The BullMQ job id of the current attempt. */
  id: string;
  attempt: number;
  kind: 'run' | 'chunk';
  items: number;
  name: string;
  data: JobData;
  future: Future<unknown>;
  state: State;
  retriesLeft: number;
  node: string | undefined;
  submittedAt: number;
  startedAt: number;
  /** When an event last told us something about its job (for reconciliation). */
  heardAt: number;
  onProgress: ((value: unknown) => void) | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** Per-task settings, validated by the executor. */
export interface TaskSettings {
  timeout: number | undefined;
  signal: AbortSignal | undefined;
  retries: number;
  onProgress: ((value: unknown) => void) | undefined;
}

/** Counters for `stats()`. */
export interface TaskCounts {
  /** Tasks submitted (a map chunk counts as one). */
  submitted: number;
  /** Tasks that returned. */
  completed: number;
  /** Tasks that failed (threw, timed out, node lost without retries, refused). */
  failed: number;
  /** Tasks cancelled, waiting or running. */
  cancelled: number;
  /** Re-runs after a node loss or a vanished job. */
  retried: number;
}

export class TaskTable implements RunningCanceller {
  readonly #executorId: string;
  readonly #link: QueueLink;
  readonly #hub: EventHub;
  readonly #nodes: NodeRegistry;
  readonly #maxValueSize: number;
  readonly #maxQueued: number;
  readonly #byId = new Map<string, Task>();
  /** Tasks to add, from #queuedHead on. */
  #queued: Task[] = [];
  #queuedHead = 0;
  #flushScheduled = false;
  #ready = false;
  #nextSeq = 1;
  /** Finished jobs to remove, batched per tick; ids a node still holds wait in #orphans. */
  #toRemove: string[] = [];
  #removeTimer: NodeJS.Timeout | undefined;
  readonly #orphans = new Set<string>();
  #roomWaiters: Array<() => void> = [];
  readonly counts: TaskCounts = { submitted: 0, completed: 0, failed: 0, cancelled: 0, retried: 0 };

  constructor(
    executorId: string,
    link: QueueLink,
    hub: EventHub,
    nodes: NodeRegistry,
    limits: { maxValueSize: number; maxQueued: number },
  ) {
    this.#executorId = executorId;
    this.#link = link;
    this.#hub = hub;
    this.#nodes = nodes;
    this.#maxValueSize = limits.maxValueSize;
    this.#maxQueued = limits.maxQueued;
  }

  // ------------------------------------------------------------------ submit

  /** Makes a task and its future; a problem of this task alone fails only its future. */
  create(
    kind: 'run' | 'chunk',
    fn: FnSpec,
    name: string,
    payload: unknown[],
    settings: TaskSettings,
  ): Future<unknown> {
    const future = new Future<unknown>();
    const seq = this.#nextSeq++;
    this.counts.submitted++;
    if (Number.isFinite(this.#maxQueued) && this.waiting() >= this.#maxQueued) {
      future.setException(
        new QueueFullError(
          `The queue holds ${this.#maxQueued} tasks of this executor that no node has taken yet (maxQueued); wait for room before submitting more`,
        ),
      );
      this.counts.failed++;
      return future;
    }
    let args: string;
    try {
      args = encodeValue(
        payload,
        this.#maxValueSize,
        kind === 'run' ? "task's arguments" : "chunk's items",
      );
    } catch (error) {
      future.setException(
        error instanceof Error && error.name === 'ValueTooLargeError'
          ? error
          : uncloneable(kind, payload, error),
      );
      this.counts.failed++;
      return future;
    }
    const data: JobData = {
      v: FORMAT,
      x: this.#executorId,
      s: seq,
      k: kind === 'run' ? KIND_RUN : KIND_CHUNK,
      f: fn,
      a: args,
      l: this.#maxValueSize,
    };
    if (settings.timeout !== undefined) data.t = settings.timeout;
    if (settings.retries > 0) data.r = settings.retries;
    const now = performance.now();
    const task: Task = {
      seq,
      id: `${this.#executorId}.${seq}`,
      attempt: 0,
      kind,
      items: kind === 'run' ? 1 : payload.length,
      name,
      data,
      future,
      state: 'queued',
      retriesLeft: settings.retries,
      node: undefined,
      submittedAt: now,
      startedAt: 0,
      heardAt: now,
      onProgress: settings.onProgress,
      signal: settings.signal,
      onAbort: undefined,
    };
    const { signal } = settings;
    if (signal?.aborted) {
      future._cancel(signal.reason);
      this.counts.cancelled++;
      return future;
    }
    if (signal !== undefined) {
      task.onAbort = () => this.#abort(task, signal.reason);
      signal.addEventListener('abort', task.onAbort, { once: true });
    }
    future._setOwner(this, task);
    this.#byId.set(task.id, task);
    this.#enqueue(task);
    return future;
  }

  /** A future failed at once (the executor is broken). */
  refused(error: unknown): Future<unknown> {
    const future = new Future<unknown>();
    this.#nextSeq++;
    this.counts.submitted++;
    this.counts.failed++;
    future.setException(error);
    return future;
  }

  /** The link is up: queued tasks may go. */
  ready(): void {
    this.#ready = true;
    this.#scheduleFlush();
  }

  #enqueue(task: Task): void {
    task.state = 'queued';
    this.#queued.push(task);
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || !this.#ready) return;
    this.#flushScheduled = true;
    // Every submit of this tick in one addBulk: one round trip, one Redis transaction.
    setImmediate(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    const batch: Task[] = [];
    while (this.#queuedHead < this.#queued.length && batch.length < ADD_BATCH) {
      const task = this.#queued[this.#queuedHead++]!;
      if (task.state === 'queued' && !task.future.done()) batch.push(task);
    }
    if (this.#queuedHead < this.#queued.length) {
      this.#scheduleFlush();
    } else {
      this.#queued = [];
      this.#queuedHead = 0;
    }
    if (batch.length > 0) {
      for (const task of batch) task.state = 'adding';
      const jobs = batch.map((t) => ({ name: t.name, data: t.data, opts: { jobId: t.id } }));
      this.#link.add(jobs).then(
        () => {
          for (const task of batch) if (task.state === 'adding') task.state = 'waiting';
          // Cancelled while being added: now it can be removed.
          for (const task of batch) {
            if (task.future.done() && (task.state === 'waiting' || task.state === 'running')) {
              this.#stop(task);
            }
          }
        },
        (error: unknown) => {
          for (const task of batch) {
            if (task.state !== 'adding') continue;
            this.#forget(task);
            if (!task.future.done())
              this.#fail(
                task,
                new Error(`could not add the job to the queue: ${describeError(error)}`, {
                  cause: error,
                }),
              );
          }
        },
      );
    }
  }

  /** Tasks not yet taken by a node. */
  waiting(): number {
    let count = 0;
    for (const task of this.#byId.values()) {
      if (task.state !== 'running' && task.state !== 'stopping' && !task.future.done()) count++;
    }
    return count;
  }

  /** Tasks a node runs now. */
  running(): number {
    let count = 0;
    for (const task of this.#byId.values()) if (task.future.running()) count++;
    return count;
  }

  /** Tasks whose future is not settled. */
  unsettled(): number {
    let count = 0;
    for (const task of this.#byId.values()) if (!task.future.done()) count++;
    return count;
  }

  /** Jobs still in Redis because of this executor (tasks tracked, orphans). */
  jobsInFlight(): number {
    return this.#byId.size + this.#orphans.size + this.#toRemove.length;
  }

  /** For `map`: a promise to wait on while the queue is at `maxQueued`. */
  room(): Promise<void> | undefined {
    if (!Number.isFinite(this.#maxQueued) || this.waiting() < this.#maxQueued) return undefined;
    return new Promise((resolve) => this.#roomWaiters.push(resolve));
  }

  #notifyRoom(): void {
    if (this.#roomWaiters.length === 0 || this.waiting() >= this.#maxQueued) return;
    const waiters = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const wake of waiters) wake();
  }

  // ------------------------------------------------------------------ events

  /** A queue event about one of this executor's jobs. */
  onJob(name: JobEventName, event: JobEvent): void {
    const task = this.#byId.get(event.jobId);
    if (task === undefined) {
      // A job whose task is settled and forgotten: clean it up once it ends.
      if ((name === 'completed' || name === 'failed') && this.#orphans.has(event.jobId)) {
        this.#orphans.delete(event.jobId);
        this.#scheduleRemove(event.jobId);
      }
      return;
    }
    task.heardAt = performance.now();
    switch (name) {
      case 'active':
        this.#started(task);
        return;
      case 'progress':
        this.#progress(task, event.data);
        return;
      case 'completed':
        this.#completed(task, event.returnvalue);
        return;
      case 'failed':
        this.#failedInQueue(task, event.failedReason ?? 'unknown');
        return;
      case 'stalled':
        this.#nodeLost(task, 'stalled');
        return;
      case 'removed':
        if (task.state === 'waiting' || task.state === 'running') this.#vanished(task);
        return;
    }
  }

  #started(task: Task): void {
    if (task.state === 'stopping') return;
    if (task.state === 'adding' || task.state === 'waiting') task.state = 'running';
    if (task.future.state !== 'pending') return;
    task.future.setRunningOrNotifyCancel();
    task.startedAt = performance.now();
    this.#notifyRoom();
    if (this.#hub.wants('taskStarted')) {
      this.#hub.emit('taskStarted', {
        ...this.#base(task),
        waitTime: task.startedAt - task.submittedAt,
      });
    }
  }

  #progress(task: Task, data: unknown): void {
    const encoded = (data as { p?: unknown } | null)?.p;
    if (typeof encoded !== 'string' || task.future.done()) return;
    let value: unknown;
    try {
      value = decodeValue(encoded);
    } catch {
      return;
    }
    if (task.onProgress !== undefined) {
      try {
        task.onProgress(value);
      } catch (error) {
        // A throwing callback is the caller's problem, never the executor's.
        process.emitWarning(
          Object.assign(new Error(`onProgress threw: ${describeError(error)}`, { cause: error }), {
            name: 'ExecutorListenerWarning',
            code: 'ERR_EXECUTOR_LISTENER',
          }),
        );
      }
    }
    if (this.#hub.wants('taskProgress'))
      this.#hub.emit('taskProgress', { ...this.#base(task), value });
  }

  #completed(task: Task, returnvalue: unknown): void {
    const envelope = parseEnvelope(returnvalue);
    this.#forget(task);
    this.#scheduleRemove(task.id);
    if (task.future.done()) return;
    if (envelope === undefined) {
      this.#fail(
        task,
        new TypeError(`job ${task.id} returned something that is not a worker node's answer`),
      );
      return;
    }
    task.node = envelope.n;
    this.#nodes.finishedOn(envelope.n, task.id);
    if (envelope.s === 2) {
      // The node skipped it as cancelled (a cancellation this executor no longer tracks).
      this.#cancelSettled(task, new CancelledError('The task was cancelled on its node'));
      return;
    }
    if (task.future.state === 'pending') this.#started(task);
    const remote: RemoteErrorInfo = {
      node: envelope.n,
      host: envelope.h ?? this.#nodes.whereIs(envelope.n)?.host ?? 'unknown',
      pid: envelope.p ?? this.#nodes.whereIs(envelope.n)?.pid ?? 0,
    };
    let outcome: { ok: true; value: unknown } | { ok: false; error: unknown };
    try {
      outcome = decodeOutcome(task.kind, envelope, remote);
    } catch (error) {
      outcome = {
        ok: false,
        error: new TypeError(`the result of job ${task.id} could not be decoded`, { cause: error }),
      };
    }
    const ms = envelope.ms ?? -1;
    if (!outcome.ok) {
      this.#fail(task, outcome.error);
      if (envelope.ca === 1 && outcome.error instanceof CancelAll)
        this.cancelAll(outcome.error, task);
      return;
    }
    task.future.setResult(outcome.value);
    const chunk = task.kind === 'chunk' ? (outcome.value as ChunkOutcome<unknown>) : undefined;
    if (chunk?.failed) {
      this.counts.failed++;
      if (this.#hub.wants('taskFailed'))
        this.#hub.emit('taskFailed', { ...this.#base(task), error: chunk.error });
      if (chunk.error instanceof CancelAll) this.cancelAll(chunk.error, task);
      return;
    }
    this.counts.completed++;
    if (this.#hub.wants('taskFinished')) {
      this.#hub.emit('taskFinished', {
        ...this.#base(task),
        value: chunk === undefined ? outcome.value : chunk.values,
        runTime: ms,
        waitTime: task.startedAt === 0 ? 0 : task.startedAt - task.submittedAt,
      });
    }
  }

  /** BullMQ failed the job itself: its node was lost (stalled), or something outside task code broke. */
  #failedInQueue(task: Task, reason: string): void {
    if (STALLED_REASON.test(reason)) {
      this.#nodeLost(task, 'stalled');
      return;
    }
    this.#forget(task);
    this.#scheduleRemove(task.id);
    if (!task.future.done())
      this.#fail(task, new Error(`the queue failed job ${task.id}: ${reason}`));
  }

  /** The node running the task stopped renewing its lock: run the task again elsewhere, or fail it. */
  #nodeLost(task: Task, _why: 'stalled'): void {
    const node = task.node ?? this.#nodes.nodeOf(task.id);
    this.#forget(task);
    this.#scheduleRemove(task.id);
    if (task.future.done()) return;
    const where =
      node !== undefined
        ? `worker node ${this.#nodes.describe(node)}`
        : describeUnknownNode(this.#nodes.lost().map((id) => this.#nodes.describe(id)));
    const error = new WorkerCrashedError(
      `The ${where} stopped while running task ${task.seq} (job ${task.id}): it was killed, crashed, or lost Redis for longer than its lock`,
      { reason: 'node-lost', pid: node === undefined ? undefined : this.#nodes.whereIs(node)?.pid },
    );
    Object.defineProperty(error, 'node', {
      value: node,
      enumerable: true,
      writable: true,
      configurable: true,
    });
    this.#retryOrFail(task, error);
  }

  /** The job is gone from Redis (a Redis restart without persistence, an obliterate). */
  #vanished(task: Task): void {
    this.#forget(task);
    if (task.future.done()) return;
    if (task.future.state === 'pending') {
      // It never ran as far as anyone knows: add it again, at no cost to its retries.
      this.#readd(task);
      return;
    }
    this.#retryOrFail(
      task,
      new JobLostError(
        `Job ${task.id} vanished from Redis while task ${task.seq} ran (was Redis restarted without persistence, or the queue emptied?)`,
      ),
    );
  }

  #retryOrFail(task: Task, error: unknown): void {
    if (task.retriesLeft > 0) {
      task.retriesLeft--;
      this.counts.retried++;
      if (this.#hub.wants('taskRetried')) {
        this.#hub.emit('taskRetried', { ...this.#base(task), attempt: task.attempt + 1, error });
      }
      this.#readd(task);
      return;
    }
    this.#fail(task, error);
  }

  /** Adds the task's job again under a new id (the old one may still be in a node's hands). */
  #readd(task: Task): void {
    task.attempt++;
    task.id = `${this.#executorId}.${task.seq}.${task.attempt}`;
    task.node = undefined;
    task.heardAt = performance.now();
    this.#byId.set(task.id, task);
    this.#enqueue(task);
  }

  // ---------------------------------------------------------- cancellation

  /** RunningCanceller: `future.cancel({ running: true })`, a signal, a CancelAll. */
  cancelRunning(token: unknown, cause: unknown): boolean {
    const task = token as Task;
    if (!task.future.running()) return task.future._cancel(cause);
    task.future._setCancelledWhileRunning(cause);
    this.counts.cancelled++;
    this.#release(task);
    if (this.#hub.wants('taskCancelled')) {
      this.#hub.emit('taskCancelled', { ...this.#base(task), wasRunning: true, cause });
    }
    this.#stop(task);
    return true;
  }

  /** RunningCanceller: a pending future was cancelled. */
  pendingCancelled(token: unknown, cause: unknown): void {
    const task = token as Task;
    this.counts.cancelled++;
    this.#release(task);
    if (this.#hub.wants('taskCancelled')) {
      this.#hub.emit('taskCancelled', { ...this.#base(task), wasRunning: false, cause });
    }
    if (task.state === 'queued') {
      this.#forget(task);
    } else if (task.state !== 'adding') {
      // 'adding': stopped once the add completes (see #flush).
      this.#stop(task);
    }
    this.#notifyRoom();
  }

  /**
   * Cancels every unsettled task except `except`, on every node: waiting
   * jobs are removed, running ones stopped, and nodes skip any of them that
   * they take meanwhile. Returns how many were cancelled.
   */
  cancelAll(cause: unknown, except?: Task): number {
    let count = 0;
    for (const task of [...this.#byId.values()]) {
      if (task === except || task.future.done()) continue;
      if (this.cancelRunning(task, cause)) count++;
    }
    this.#link.publish({ x: this.#executorId, upTo: this.#nextSeq - 1 });
    return count;
  }

  /** Cancels the tasks no node has taken (`shutdown({ cancelFutures: true })`). */
  cancelPending(): void {
    for (const task of [...this.#byId.values()]) {
      if (task.future.state === 'pending') task.future.cancel();
    }
  }

  #abort(task: Task, reason: unknown): void {
    if (task.future.state === 'pending') task.future._cancel(reason);
    else if (task.future.running()) this.cancelRunning(task, reason);
  }

  /** The task's future is settled; get its job out of the queue and off its node. */
  #stop(task: Task): void {
    if (task.state === 'stopping') return;
    const wasRunning = task.state === 'running';
    task.state = 'stopping';
    if (wasRunning) this.#link.publish({ x: this.#executorId, ids: [task.id] });
    this.#link.remove(task.id).then(
      (removed) => {
        if (removed) {
          this.#forget(task);
          return;
        }
        // A node holds it: tell it to stop, and remove the job once it ends.
        if (!wasRunning) this.#link.publish({ x: this.#executorId, ids: [task.id] });
        this.#forget(task);
        this.#orphans.add(task.id);
      },
      () => {
        this.#forget(task);
        this.#orphans.add(task.id);
      },
    );
  }

  // --------------------------------------------------------- reconciliation

  /**
   * Reads the jobs of tasks not heard of for `quietMs` (all of them with 0)
   * and acts on what happened to them: a result whose event was missed, a
   * job that vanished. Orphaned jobs are removed if they ended.
   */
  async reconcile(quietMs: number): Promise<void> {
    const now = performance.now();
    const tasks = [...this.#byId.values()].filter(
      (t) => t.state !== 'queued' && t.state !== 'adding' && now - t.heardAt >= quietMs,
    );
    const orphans = [...this.#orphans];
    if (tasks.length === 0 && orphans.length === 0) return;
    const readings = await this.#link.read([...tasks.map((t) => t.id), ...orphans]);
    for (let i = 0; i < tasks.length; i++) this.#reconcileOne(tasks[i]!, readings[i]!);
    for (let i = 0; i < orphans.length; i++) {
      const id = orphans[i]!;
      const reading = readings[tasks.length + i]!;
      if (reading.state === 'missing') this.#orphans.delete(id);
      else if (reading.state !== 'pending') {
        this.#orphans.delete(id);
        this.#scheduleRemove(id);
      }
    }
  }

  #reconcileOne(task: Task, reading: JobReading): void {
    if (this.#byId.get(task.id) !== task) return;
    task.heardAt = performance.now();
    switch (reading.state) {
      case 'completed':
        this.#completed(task, reading.returnvalue);
        return;
      case 'failed':
        this.#failedInQueue(task, reading.failedReason);
        return;
      case 'missing':
        if (task.state === 'stopping') this.#forget(task);
        else this.#vanished(task);
        return;
      case 'pending':
        return;
    }
  }

  /** Fails every unsettled task (the executor is broken). */
  failAll(error: unknown): void {
    for (const task of [...this.#byId.values()]) {
      this.#forget(task);
      if (!task.future.done()) this.#fail(task, error);
    }
    this.#queued = [];
    this.#queuedHead = 0;
    this.#orphans.clear();
    clearTimeout(this.#removeTimer);
    this.#removeTimer = undefined;
    this.#toRemove = [];
    const waiters = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const wake of waiters) wake();
  }

  // ---------------------------------------------------------------- helpers

  #fail(task: Task, error: unknown): void {
    this.#release(task);
    if (task.future.state === 'pending') task.future.setRunningOrNotifyCancel();
    task.future.setException(error);
    this.counts.failed++;
    if (this.#hub.wants('taskFailed')) this.#hub.emit('taskFailed', { ...this.#base(task), error });
  }

  #cancelSettled(task: Task, cause: unknown): void {
    this.#release(task);
    if (task.future.state === 'pending') {
      task.future._cancel(cause);
    } else {
      task.future._setCancelledWhileRunning(cause);
      this.counts.cancelled++;
    }
  }

  /** The future is settled: drop the signal listener. */
  #release(task: Task): void {
    if (task.onAbort !== undefined) {
      task.signal?.removeEventListener('abort', task.onAbort);
      task.onAbort = undefined;
    }
    this.#notifyRoom();
  }

  #forget(task: Task): void {
    if (this.#byId.get(task.id) === task) this.#byId.delete(task.id);
    this.#nodes.forget(task.id);
  }

  #scheduleRemove(id: string): void {
    this.#toRemove.push(id);
    if (this.#toRemove.length >= REMOVE_BATCH) {
      this.flushRemovals();
    } else if (this.#removeTimer === undefined) {
      this.#removeTimer = setTimeout(() => this.flushRemovals(), REMOVE_DELAY_MS);
      this.#removeTimer.unref();
    }
  }

  /** Removes the finished jobs waiting for their batch now. */
  flushRemovals(): void {
    clearTimeout(this.#removeTimer);
    this.#removeTimer = undefined;
    const ids = this.#toRemove;
    this.#toRemove = [];
    if (ids.length > 0) this.#removeFinished(ids);
  }

  /** Removes finished jobs in one round trip; one still held somewhere is removed once it ends. */
  #removeFinished(ids: string[]): void {
    this.#link.removeFinished(ids).then(
      (outcomes) => {
        for (let i = 0; i < ids.length; i++) if (outcomes[i] === 'held') this.#orphans.add(ids[i]!);
      },
      () => {
        for (const id of ids) this.#orphans.add(id);
      },
    );
  }

  #base(task: Task): DistributedTaskEvent {
    return {
      taskId: task.seq,
      jobId: task.id,
      kind: (task.kind === 'run' ? 'submit' : 'map') as TaskKind,
      items: task.items,
      future: task.kind === 'run' ? task.future : undefined,
      node: task.node ?? this.#nodes.nodeOf(task.id),
    };
  }
}

/** Decodes a node's answer into the task's value or error. */
function decodeOutcome(
  kind: 'run' | 'chunk',
  envelope: Envelope,
  remote: RemoteErrorInfo,
): { ok: true; value: unknown } | { ok: false; error: unknown } {
  if (envelope.s === 1) return { ok: false, error: decodeThrown(envelope.d!, remote) };
  const value = decodeValue(envelope.d!);
  if (kind === 'run') return { ok: true, value };
  const wire = value as WireChunkOutcome;
  const outcome: ChunkOutcome<unknown> = { values: wire.values, failed: wire.failed };
  if (wire.failed) outcome.error = decodeThrown(wire.error as string, remote);
  return { ok: true, value: outcome };
}

function describeUnknownNode(lost: string[]): string {
  if (lost.length === 1) return `worker node ${lost[0]} (the one whose heartbeat stopped)`;
  if (lost.length > 1) return `worker node (one of ${lost.join(', ')}, whose heartbeats stopped)`;
  return 'worker node (unknown: it stopped before its first heartbeat)';
}

function uncloneable(kind: 'run' | 'chunk', payload: unknown[], error: unknown): TypeError {
  for (let i = 0; i < payload.length; i++) {
    try {
      structuredClone(payload[i]);
    } catch (cloneError) {
      return new TypeError(
        `${kind === 'run' ? `Argument ${i}` : `Item ${i} of the chunk`} cannot be sent to a worker node: ${describeError(cloneError)}`,
        { cause: error },
      );
    }
  }
  return new TypeError(
    `The ${kind === 'run' ? 'arguments' : 'items'} cannot be sent to a worker node: ${describeError(error)}`,
    {
      cause: error,
    },
  );
}
