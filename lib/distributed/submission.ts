/**
 * Job submission: a `submit` or a `map` chunk becomes a tracked task and
 * its future, then a BullMQ job, added in bulk with the other submits of
 * the same turn of the event loop.
 *
 * A problem of one task alone (arguments that cannot be cloned or are too
 * large, a full queue, an aborted signal) settles only its future.
 */
import { Future, QueueFullError } from '../index.js';
import type { Cancellation } from './cancellation.js';
import { encodeValue } from './codec.js';
import { describeError } from './internal.js';
import type { QueueLink } from './link.js';
import type { LiveTasks } from './live-tasks.js';
import { type FnSpec, FORMAT, type JobData, KIND_CHUNK, KIND_RUN } from './protocol.js';
import { jobIdOf, type TaskSettings, type TrackedTask } from './tracked-task.js';

/**
 * Jobs added per addBulk (one Redis transaction). Submits of one tick go
 * together, up to this many; the rest follow in the next turns of the
 * event loop. Nodes start on the first jobs while later ones are still
 * being added, Redis is never blocked long by one transaction, and results
 * are handled in between.
 */
const ADD_BATCH = 250;

/** What submission needs of the other rooms. */
export interface SubmissionContext {
  readonly executorId: string;
  readonly maxValueSize: number;
  readonly live: LiveTasks;
  readonly link: Pick<QueueLink, 'add'>;
  readonly cancellation: Pick<Cancellation, 'watch' | 'withdraw'>;
}

export class Submission {
  readonly #context: SubmissionContext;
  /** Tasks to add, from #queuedHead on. */
  #queued: TrackedTask[] = [];
  #queuedHead = 0;
  #flushScheduled = false;
  /** The link is up: jobs can be added. */
  #ready = false;

  constructor(context: SubmissionContext) {
    this.#context = context;
  }

  /** Makes a task and its future; a problem of this task alone fails only its future. */
  create(
    kind: 'run' | 'chunk',
    fn: FnSpec,
    name: string,
    payload: unknown[],
    settings: TaskSettings,
  ): Future<unknown> {
    const { executorId, maxValueSize, live } = this.#context;
    const future = new Future<unknown>();
    const seq = live.issueSeq();
    if (live.full()) {
      future.setException(
        new QueueFullError(
          `The queue holds ${live.maxQueued} tasks of this executor that no node has taken yet (maxQueued); wait for room before submitting more`,
        ),
      );
      live.counts.failed++;
      return future;
    }
    let args: string;
    try {
      args = encodeValue(
        payload,
        maxValueSize,
        kind === 'run' ? "task's arguments" : "chunk's items",
      );
    } catch (error) {
      future.setException(
        error instanceof Error && error.name === 'ValueTooLargeError'
          ? error
          : uncloneable(kind, payload, error),
      );
      live.counts.failed++;
      return future;
    }
    const data: JobData = {
      v: FORMAT,
      x: executorId,
      s: seq,
      k: kind === 'run' ? KIND_RUN : KIND_CHUNK,
      f: fn,
      a: args,
      l: maxValueSize,
    };
    if (settings.timeout !== undefined) data.t = settings.timeout;
    if (settings.retries > 0) data.r = settings.retries;
    const { signal } = settings;
    if (signal?.aborted) {
      future._cancel(signal.reason);
      live.counts.cancelled++;
      return future;
    }
    const now = performance.now();
    const task: TrackedTask = {
      seq,
      id: jobIdOf(executorId, seq, 0),
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
      signal,
    };
    this.#context.cancellation.watch(task);
    live.track(task);
    this.enqueue(task);
    return future;
  }

  /** A future failed at once with `error` (the executor is broken). */
  failedAtOnce(error: unknown): Future<unknown> {
    const future = new Future<unknown>();
    this.#context.live.issueSeq();
    this.#context.live.counts.failed++;
    future.setException(error);
    return future;
  }

  /** The link is up: queued tasks may go. */
  ready(): void {
    this.#ready = true;
    this.#scheduleFlush();
  }

  /** Adds the task's job with the next batch (a new task, or a new attempt of one). */
  enqueue(task: TrackedTask): void {
    task.state = 'queued';
    this.#queued.push(task);
    this.#scheduleFlush();
  }

  /** Drops every task not yet added (the executor is broken). */
  clear(): void {
    this.#queued = [];
    this.#queuedHead = 0;
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
    const batch: TrackedTask[] = [];
    while (this.#queuedHead < this.#queued.length && batch.length < ADD_BATCH) {
      const task = this.#queued[this.#queuedHead++]!;
      if (task.state === 'queued' && !task.future.done()) batch.push(task);
    }
    if (this.#queuedHead < this.#queued.length) {
      this.#scheduleFlush();
    } else {
      this.clear();
    }
    if (batch.length === 0) return;
    for (const task of batch) task.state = 'adding';
    const jobs = batch.map((t) => ({ name: t.name, data: t.data, opts: { jobId: t.id } }));
    this.#context.link.add(jobs).then(
      () => this.#added(batch),
      (error: unknown) => this.#notAdded(batch, error),
    );
  }

  #added(batch: TrackedTask[]): void {
    for (const task of batch) if (task.state === 'adding') task.state = 'waiting';
    // Cancelled while being added: now it can be withdrawn.
    for (const task of batch) {
      if (task.future.done() && (task.state === 'waiting' || task.state === 'running')) {
        this.#context.cancellation.withdraw(task);
      }
    }
  }

  #notAdded(batch: TrackedTask[], error: unknown): void {
    const { live } = this.#context;
    for (const task of batch) {
      if (task.state !== 'adding') continue;
      live.forget(task);
      if (!task.future.done()) {
        live.fail(
          task,
          new Error(`could not add the job to the queue: ${describeError(error)}`, {
            cause: error,
          }),
        );
      }
    }
  }
}

/** Which argument (or chunk item) cannot be cloned, and why. */
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
    { cause: error },
  );
}
