/**
 * What the engine counts and tells: task counters and time samples (always
 * on), and the events, whose payloads are built only when someone listens.
 * The engine calls one method per thing that happens, and never emits on
 * the event hub itself; this file decides what each thing means for
 * statistics and observers.
 */

import { TaskTimeoutError, WorkerCrashedError } from '../errors.js';
import {
  type PoolEventHub,
  reportListenerError,
  type TaskEventBase,
  type WorkerExitedEvent,
} from '../events.js';
import type { Future } from '../future.js';
import type { Distribution, TaskCounters } from '../stats.js';
import { unpackNumbers } from '../wire/chunk-outcome.js';
import { emptyCounters, Samples } from './samples.js';
import type { TaskKind, TaskRecord } from './task-record.js';

export class Telemetry {
  readonly counters: TaskCounters = emptyCounters();
  readonly #runTimes = new Samples();
  readonly #waitTimes = new Samples();
  readonly #hub: PoolEventHub;

  constructor(hub: PoolEventHub) {
    this.#hub = hub;
  }

  get runTime(): Distribution {
    return this.#runTimes.summary();
  }

  get waitTime(): Distribution {
    return this.#waitTimes.summary();
  }

  submitted(): void {
    this.counters.submitted++;
  }

  /** The task began, at `task.startedAt` (as far as the parent knows). */
  started(task: TaskRecord): void {
    const waitTime = Math.max(0, task.startedAt - task.submittedAt);
    this.#waitTimes.add(waitTime);
    if (this.#hub.wants('taskStarted')) {
      // Whole literals, not base() plus fields: one shape per event, made
      // in one step (the events of every task are what observing costs).
      this.#hub.emit('taskStarted', {
        taskId: task.id,
        kind: kindOf(task.kind),
        items: itemsOf(task),
        future: futureOf(task),
        pid: task.worker?.workerId,
        parentId: task.nest?.parent.id,
        waitTime,
      });
    }
  }

  /** The task returned `value` after running `ms` (its future is settled). */
  succeeded(task: TaskRecord, value: unknown, ms: number): void {
    this.counters.completed++;
    if (ms >= 0) this.#runTimes.add(ms);
    if (this.#hub.wants('taskFinished')) {
      const waitTime = task.startedAt === 0 ? 0 : Math.max(0, task.startedAt - task.submittedAt);
      this.#hub.emit('taskFinished', {
        taskId: task.id,
        kind: kindOf(task.kind),
        items: itemsOf(task),
        future: futureOf(task),
        pid: task.worker?.workerId,
        parentId: task.nest?.parent.id,
        // A chunk's values as a plain array, however they travelled.
        value: task.kind === 'chunk' ? unpackNumbers(value as ArrayLike<unknown>) : value,
        runTime: Math.max(0, ms),
        waitTime,
      });
    }
  }

  /** The task failed with `error` (its future is settled); `ms` when the worker reported it. */
  failed(task: TaskRecord | undefined, error: unknown, ms = -1): void {
    this.counters.failed++;
    if (error instanceof WorkerCrashedError) this.counters.crashed++;
    else if (error instanceof TaskTimeoutError) this.counters.timedOut++;
    if (ms >= 0) this.#runTimes.add(ms);
    if (task !== undefined && this.#hub.wants('taskFailed')) {
      this.#hub.emit('taskFailed', {
        taskId: task.id,
        kind: kindOf(task.kind),
        items: itemsOf(task),
        future: futureOf(task),
        pid: task.worker?.workerId,
        parentId: task.nest?.parent.id,
        error,
      });
    }
  }

  /** A future failed before it became a task (broken executor, full queue). */
  refused(future: Future<unknown>, kind: TaskKind, items: number, error: unknown): void {
    this.counters.submitted++;
    this.counters.failed++;
    if (this.#hub.wants('taskFailed')) {
      this.#hub.emit('taskFailed', {
        taskId: 0,
        kind: kindOf(kind),
        items,
        future: kind === 'run' ? future : undefined,
        pid: undefined,
        parentId: undefined,
        error,
      });
    }
  }

  /** The task was cancelled (its future is settled). */
  cancelled(task: TaskRecord, wasRunning: boolean, cause: unknown): void {
    this.counters.cancelled++;
    if (this.#hub.wants('taskCancelled')) {
      this.#hub.emit('taskCancelled', { ...base(task), wasRunning, cause });
    }
  }

  /** The task's worker crashed with `error`; the task runs again. */
  retried(task: TaskRecord, attempt: number, error: unknown): void {
    this.counters.retried++;
    if (this.#hub.wants('taskRetried')) {
      this.#hub.emit('taskRetried', { ...base(task), attempt, error });
    }
  }

  /** Task code reported progress; calls the submit's `onProgress` and the listeners. */
  progress(task: TaskRecord, value: unknown): void {
    if (task.onProgress !== undefined) {
      try {
        task.onProgress(value);
      } catch (error) {
        reportListenerError('onProgress', error);
      }
    }
    if (this.#hub.wants('taskProgress')) this.#hub.emit('taskProgress', { ...base(task), value });
  }

  /** A worker was started (`workerId` undefined: its process could not be created). */
  workerSpawned(workerId: number | undefined): void {
    if (this.#hub.wants('workerSpawned')) this.#hub.emit('workerSpawned', { pid: workerId });
  }

  /** A worker is gone; `event` is built only if someone listens. */
  workerExited(event: () => WorkerExitedEvent): void {
    if (this.#hub.wants('workerExited')) this.#hub.emit('workerExited', event());
  }

  /** The queue ran empty: every submitted task has been handed to a worker. */
  drained(): void {
    if (this.#hub.wants('drain')) this.#hub.emit('drain', {});
  }

  /**
   * No task is unsettled any more. The `idle` event follows the settlement
   * under way, and only if `stillSettled()` then says nothing came meanwhile.
   */
  allSettled(stillSettled: () => boolean): void {
    if (!this.#hub.wants('idle')) return;
    queueMicrotask(() => {
      if (stillSettled()) this.#hub.emit('idle', {});
    });
  }

  /** A worker wrote `chunk` on `stream`, while task `taskId` ran (undefined: between tasks). */
  output(
    workerId: number | undefined,
    taskId: number | undefined,
    stream: 'stdout' | 'stderr',
    chunk: Buffer,
  ): void {
    if (this.#hub.wants('output')) {
      this.#hub.emit('output', { pid: workerId, taskId, stream, chunk: Buffer.from(chunk) });
    }
  }
}

function base(task: TaskRecord): TaskEventBase {
  return {
    taskId: task.id,
    kind: kindOf(task.kind),
    items: itemsOf(task),
    future: futureOf(task),
    pid: task.worker?.workerId,
    parentId: task.nest?.parent.id,
  };
}

function kindOf(kind: TaskKind): TaskEventBase['kind'] {
  return kind === 'run' ? 'submit' : kind === 'chunk' ? 'map' : 'mapReduce';
}

function itemsOf(task: TaskRecord): number {
  return task.kind === 'chunk' ? task.payload.length : 1;
}

function futureOf(task: TaskRecord): Future<unknown> | undefined {
  return task.kind === 'run' ? task.future : undefined;
}
