/**
 * What the engine counts and tells: task counters and time samples (always
 * on), and the events, whose payloads are built only when someone listens.
 * The engine calls one method per thing that happens; this file decides
 * what that means for statistics and observers.
 */

import { TaskTimeoutError, WorkerCrashedError } from '../errors.js';
import {
  type PoolEventHub,
  type PoolEventName,
  type PoolEvents,
  reportListenerError,
  type TaskEventBase,
} from '../events.js';
import type { Future } from '../future.js';
import type { Task } from './records.js';
import { type Distribution, emptyCounters, Samples, type TaskCounters } from './stats.js';

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

  /** The task began at `at` (as far as the parent knows). */
  started(task: Task, at: number): void {
    task.startedAt = at;
    const waitTime = Math.max(0, at - task.submittedAt);
    this.#waitTimes.add(waitTime);
    if (this.#hub.wants('taskStarted')) {
      const event = base(task) as PoolEvents['taskStarted'];
      event.waitTime = waitTime;
      this.#hub.emit('taskStarted', event);
    }
  }

  /** The task returned `value` after running `ms` (its future is settled). */
  succeeded(task: Task, value: unknown, ms: number): void {
    this.counters.completed++;
    if (ms >= 0) this.#runTimes.add(ms);
    if (this.#hub.wants('taskFinished')) {
      const waitTime = task.startedAt === 0 ? 0 : Math.max(0, task.startedAt - task.submittedAt);
      const event = base(task) as PoolEvents['taskFinished'];
      event.value = value;
      event.runTime = Math.max(0, ms);
      event.waitTime = waitTime;
      this.#hub.emit('taskFinished', event);
    }
  }

  /** The task failed with `error` (its future is settled); `ms` when the worker reported it. */
  failed(task: Task | undefined, error: unknown, ms = -1): void {
    this.counters.failed++;
    if (error instanceof WorkerCrashedError) this.counters.crashed++;
    else if (error instanceof TaskTimeoutError) this.counters.timedOut++;
    if (ms >= 0) this.#runTimes.add(ms);
    if (task !== undefined && this.#hub.wants('taskFailed')) {
      const event = base(task) as PoolEvents['taskFailed'];
      event.error = error;
      this.#hub.emit('taskFailed', event);
    }
  }

  /** A future failed before it became a task (broken executor, full queue). */
  refused(future: Future<unknown>, kind: 'run' | 'chunk', items: number, error: unknown): void {
    this.counters.submitted++;
    this.counters.failed++;
    if (this.#hub.wants('taskFailed')) {
      this.#hub.emit('taskFailed', {
        taskId: 0,
        kind: kind === 'run' ? 'submit' : 'map',
        items,
        future: kind === 'run' ? future : undefined,
        pid: undefined,
        error,
      });
    }
  }

  /** The task was cancelled (its future is settled). */
  cancelled(task: Task, wasRunning: boolean, cause: unknown): void {
    this.counters.cancelled++;
    if (this.#hub.wants('taskCancelled')) {
      this.#hub.emit('taskCancelled', { ...base(task), wasRunning, cause });
    }
  }

  /** The task's worker crashed with `error`; the task runs again. */
  retried(task: Task, attempt: number, error: unknown): void {
    this.counters.retried++;
    if (this.#hub.wants('taskRetried')) {
      this.#hub.emit('taskRetried', { ...base(task), attempt, error });
    }
  }

  /** Task code reported progress; calls the submit's `onProgress` and the listeners. */
  progress(task: Task, value: unknown): void {
    if (task.onProgress !== undefined) {
      try {
        task.onProgress(value);
      } catch (error) {
        reportListenerError('onProgress', error);
      }
    }
    if (this.#hub.wants('taskProgress')) this.#hub.emit('taskProgress', { ...base(task), value });
  }

  wants(event: PoolEventName): boolean {
    return this.#hub.wants(event);
  }

  get hub(): PoolEventHub {
    return this.#hub;
  }
}

function base(task: Task): TaskEventBase {
  const submit = task.kind === 'run';
  return {
    taskId: task.id,
    kind: submit ? 'submit' : 'map',
    items: submit ? 1 : task.payload.length,
    future: submit ? task.future : undefined,
    pid: task.worker?.handle.pid,
  };
}
