/**
 * The scheduling engine shared by ProcessPoolExecutor and ThreadPoolExecutor:
 * it accepts work, keeps the queue, runs the scheduling passes, and owns
 * shutdown and the broken state. What happens in a pass, and to a message
 * from a worker, is in the helpers around it, which see the engine only
 * through the `Engine` interface (context.ts); what `stats()` reports is
 * read by introspection.ts:
 *
 *   facade (pool-executor.ts)
 *     │ submit(fn, args)                                   ▲ future settles
 *     ▼                                                    │
 *   Scheduler.submit ─> TaskRecord ─> queue          outcomes.ts ── CancelAll? ─> cancellation.ts
 *                                       │                  ▲
 *                        pump (once per tick):             │ results
 *                        worker-life.ts: spawn as needed   │
 *                        dispatch.ts: queue ─> worker lines ── batch ──> worker ──┘
 *                        stealing.ts: idle worker? ── steal ──> worker ── stolen ─> queue
 *                                                                  │
 *   cancel(), signal, time limit ─> cancellation.ts ── cancel ──>  │
 *                              worker-life.ts <── exit (transport) ┘ ─> crash-blame.ts
 *
 * A worker runs its line one task at a time, in order (see
 * lib/worker/runtime.ts); messages cross the boundary as defined in
 * lib/wire/protocol.ts, through a `Transport` (lib/transport/). Workers
 * start lazily (first submit), up to `maxWorkers`; idle ones above
 * `minWorkers` are retired after `idleTimeout`; a worker is recycled after
 * `maxTasksPerWorker` tasks. While any task is unsettled the parent's event
 * loop is held; idle workers do not hold it, so a program that forgets
 * `shutdown()` still exits. docs/architecture.md follows one task through.
 */
import pDefer, { type DeferredPromise } from 'p-defer';
import { describeError } from '../describe.js';
import { BrokenExecutorError, ExecutorShutdownError, QueueFullError } from '../errors.js';
import type { PoolEventHub } from '../events.js';
import { Future } from '../future.js';
import type { PoolCounts, PoolStats } from '../stats.js';
import { Backpressure } from './backpressure.js';
import { cancelAll, cancelPending, cancelRunning } from './cancellation.js';
import type { Engine, EngineOptions } from './context.js';
import { dispatchAll } from './dispatch.js';
import type { FnInfo } from './functions.js';
import * as introspection from './introspection.js';
import { detached, linkChild, Nesting, type NestLink, queueNested } from './nesting.js';
import { failTask, outputComplete } from './outcomes.js';
import { OutputRoom } from './output/room.js';
import { TaskQueue } from './queue.js';
import { SignalWatch } from './signal-watch.js';
import { WorkStealing } from './stealing.js';
import {
  newTaskRecord,
  stopClock,
  type TaskKind,
  type TaskRecord,
  type TaskSettings,
} from './task-record.js';
import { Telemetry } from './telemetry.js';
import { spawnAsNeeded } from './worker-life.js';
import type { WorkerSlot } from './worker-slot.js';

/**
 * Consecutive workers that may fail to start (initializer throws, entry
 * fails, process cannot spawn) before the executor is declared broken.
 * Low, so a broken setup fails fast instead of respawning in a loop.
 */
export const MAX_START_FAILURES = 3;

/** The longest delay `setInterval` takes (ms): the loop hold's timer never fires in practice. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class Scheduler implements Engine {
  readonly options: EngineOptions;
  readonly queue = new TaskQueue<TaskRecord>();
  readonly workers = new Set<WorkerSlot>();
  readonly telemetry: Telemetry;
  readonly signals = new SignalWatch<TaskRecord>((task, reason) => {
    if (!task.future.done()) cancelRunning(this, task, reason);
  });
  readonly output: OutputRoom | undefined;
  readonly #backpressure = new Backpressure();
  readonly #stealing = new WorkStealing();
  readonly nesting: Nesting;
  #nextTaskId = 1;
  #pumpScheduled = false;
  #closing = false;
  #shutdown: DeferredPromise<void> | undefined;
  #broken: { cause: unknown } | undefined;
  #startFailures = 0;
  /** Tasks submitted and not yet detached: while any exist, the event loop is held. */
  #unsettled = 0;
  #loopHold: NodeJS.Timeout | undefined;
  /** Something was queued since the last `drain` event. */
  #undrained = false;

  constructor(options: EngineOptions, events: PoolEventHub) {
    this.options = options;
    this.telemetry = new Telemetry(events);
    this.nesting = new Nesting(options.maxNestingDepth, options.maxNestedTasks, options.functions);
    const { stdio } = options.spawn;
    this.output =
      stdio === 'inherit'
        ? undefined
        : new OutputRoom(stdio, this.telemetry, (task) => outputComplete(this, task));
  }

  get closing(): boolean {
    return this.#closing;
  }

  get broken(): boolean {
    return this.#broken !== undefined;
  }

  /** Schedules one unit of work and returns its future. */
  submit<R>(
    kind: TaskKind,
    fn: FnInfo,
    payload: unknown[],
    settings: TaskSettings,
    nest?: NestLink,
  ): Future<R> {
    const future = new Future<R>();
    // A nested task is part of a running tree: shutdown() lets it finish.
    if (
      (this.#closing && nest === undefined) ||
      this.#broken !== undefined ||
      this.queue.live >= this.options.maxQueued
    ) {
      this.#refuse(future, kind, payload.length, nest);
      return future;
    }
    const task = newTaskRecord(this, this.#nextTaskId++, kind, future, fn, payload, settings, nest);
    this.telemetry.submitted();
    const { signal } = settings;
    if (signal?.aborted) {
      task.detached = true;
      future._cancel(signal.reason);
      this.telemetry.cancelled(task, false, signal.reason);
      return future;
    }
    if (this.#unsettled++ === 0) this.#holdLoop(true);
    if (signal !== undefined) this.signals.add(signal, task);
    future._bindCancel(task);
    if (nest === undefined) {
      this.queue.push(task);
    } else {
      linkChild(this, task);
      queueNested(this, task);
    }
    this.#undrained = true;
    this.schedulePump();
    return future;
  }

  /**
   * Fails the future of a submit the engine does not accept. Out of `submit`
   * so that the path every accepted task takes stays small: V8 compiles and
   * inlines it sooner, which is most of what the first thousands of tiny
   * tasks cost.
   */
  #refuse(
    future: Future<unknown>,
    kind: TaskKind,
    items: number,
    nest: NestLink | undefined,
  ): void {
    // The facades refuse work after shutdown() at once; this holds for any
    // caller, so nothing new is queued, nor a worker spawned, once closing.
    const error =
      this.#closing && nest === undefined
        ? new ExecutorShutdownError('cannot schedule new tasks after shutdown()')
        : this.#broken !== undefined
          ? this.#brokenError()
          : new QueueFullError(
              `The pending queue is full: ${this.options.maxQueued} tasks are waiting (maxQueued); wait for room before submitting more`,
            );
    future.setException(error);
    this.telemetry.refused(future, kind, kind === 'chunk' ? items : 1, error);
  }

  /** A task submitted by task code (nesting.ts): at the queue's front, linked to its parent. */
  readonly submitNested = (
    kind: TaskKind,
    fn: FnInfo,
    payload: unknown[],
    timeout: number | undefined,
    link: NestLink,
  ): Future<unknown> =>
    this.submit(
      kind,
      fn,
      payload,
      {
        timeout,
        signal: undefined,
        retries: undefined,
        onProgress: undefined,
        transfer: undefined,
      },
      link,
    );

  /**
   * Cancels every task not yet done (see cancellation.ts); `cause` becomes
   * the `cause` of their CancelledError. Returns how many.
   */
  cancelAll(cause: unknown): number {
    return cancelAll(this, cause);
  }

  /** Cancels the tasks that have not started (`shutdown({ cancelFutures: true })`). */
  cancelPending(): void {
    cancelPending(this);
    this.#backpressure.notify(this.#queuedForRoom());
  }

  /** Stops accepting work once the queue drains; resolves when every worker exited. */
  shutdown(): Promise<void> {
    this.#closing = true;
    this.#shutdown ??= pDefer<void>();
    this.schedulePump();
    return this.#shutdown.promise;
  }

  /** Resolves once fewer than `limit` tasks are queued (at once if that is already so). */
  whenQueueBelow(limit: number): Promise<void> {
    return this.#backpressure.whenBelow(limit, this.#queuedForRoom());
  }

  /** For `map`: a promise to await before submitting when the queue is full, else undefined. */
  room(): Promise<void> | undefined {
    if (this.queue.live < this.options.maxQueued) return undefined;
    return this.whenQueueBelow(this.options.maxQueued);
  }

  /** `stdio: 'pipe'`: every worker's stdout, a line at a time. */
  get stdout(): NodeJS.ReadableStream | undefined {
    return this.output?.piped?.stdout;
  }

  /** `stdio: 'pipe'`: every worker's stderr, a line at a time. */
  get stderr(): NodeJS.ReadableStream | undefined {
    return this.output?.piped?.stderr;
  }

  /** Workers by state, tasks queued and running (introspection.ts). */
  counts(): PoolCounts {
    return introspection.counts(this);
  }

  /** Counts, counters, time distributions and per-worker figures. */
  stats(): PoolStats {
    return introspection.stats(this);
  }

  /** Process ids (thread ids) of the live workers. */
  workerIds(): number[] {
    return introspection.workerIds(this);
  }

  // ---------------------------------------------------------------------
  // Engine: what the helpers may ask of the scheduler
  // ---------------------------------------------------------------------

  breakDown(cause: unknown): void {
    this.#broken = { cause };
    this.schedulePump();
  }

  startFailed(cause: () => unknown): void {
    this.#startFailures++;
    if (this.#startFailures >= MAX_START_FAILURES) this.breakDown(cause());
  }

  startSucceeded(): void {
    this.#startFailures = 0;
  }

  schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    // Batched per tick: many submits in one tick cost one pass.
    queueMicrotask(() => {
      this.#pumpScheduled = false;
      this.pump();
    });
  }

  pump(): void {
    if (this.#broken !== undefined) {
      this.#failQueue();
    } else {
      spawnAsNeeded(this);
      if (this.queue.size > 0) dispatchAll(this);
      this.#stealing.stealForIdle(this);
    }
    if (this.#undrained && this.queue.live === 0) {
      this.#undrained = false;
      this.telemetry.drained();
    }
    this.#backpressure.notify(this.#queuedForRoom());
    this.#finishShutdownIfDone();
  }

  detach(task: TaskRecord): void {
    if (!task.detached) {
      task.detached = true;
      if (--this.#unsettled === 0) {
        this.#holdLoop(false);
        this.telemetry.allSettled(() => this.#unsettled === 0);
      }
    }
    stopClock(task);
    if (task.signal !== undefined) this.signals.remove(task.signal, task);
    task.future._bindCancel(undefined);
    if (task.nest !== undefined || task.children !== undefined) detached(this, task);
  }

  // ---------------------------------------------------------------------
  // Shutdown, breakage
  // ---------------------------------------------------------------------

  /**
   * Keeps the parent's event loop alive while any submitted task is
   * unsettled, whatever the transport's own handles do: a program awaiting a
   * future must never end early. One timer, toggled only when the count of
   * unsettled tasks leaves or returns to zero.
   */
  #holdLoop(on: boolean): void {
    if (on) this.#loopHold ??= setInterval(() => {}, MAX_TIMER_MS);
    else if (this.#loopHold !== undefined) {
      clearInterval(this.#loopHold);
      this.#loopHold = undefined;
    }
  }

  /** The queue's length as backpressure sees it: a broken executor has room (its submits fail at once). */
  #queuedForRoom(): number {
    return this.#broken === undefined ? this.queue.live : 0;
  }

  #brokenError(): BrokenExecutorError {
    const cause = this.#broken?.cause;
    return new BrokenExecutorError(
      `The executor is broken: ${MAX_START_FAILURES} workers in a row failed to start (${describeError(cause)})`,
      { cause },
    );
  }

  #failQueue(): void {
    for (const task of this.queue.drain()) {
      this.detach(task);
      failTask(this, task, this.#brokenError());
    }
  }

  /** After shutdown(): once nothing is queued, workers go as they fall idle; resolves when all are gone. */
  #finishShutdownIfDone(): void {
    if (!this.#closing) return;
    if (this.queue.live > 0 && this.#broken === undefined) return;
    this.queue.dropDead();
    const { shutdownGrace } = this.options;
    for (const slot of this.workers) {
      if (!slot.open) continue;
      if (!slot.ready) {
        // Still starting (its initializer may never end): if every task sent
        // ahead to it was cancelled meanwhile, there is nothing to wait for.
        // (Once: it is no longer open, and killing again would push back its SIGKILL.)
        if (slot.tasks.every((task) => task.future.done())) slot.kill(shutdownGrace, undefined);
      } else if (slot.tasks.length === 0 && !slot.hasParked) {
        slot.retire(shutdownGrace);
      }
    }
    if (this.workers.size === 0 && this.#shutdown !== undefined) {
      this.output?.end();
      this.#shutdown.resolve();
    }
  }
}
