/**
 * Outcome handling: what queue events (or a reconciliation read, see
 * reconcile.ts) say happened to a job becomes the state of its task and
 * the settlement of its future: started, progress, an answer from its node
 * (a value, an error, a CancelAll), a failure of the queue itself, a node
 * lost (the job stalled), a job that vanished from Redis.
 *
 * Every transition is idempotent: events may come twice (an event and a
 * reconciliation read) or out of order ('completed' before 'active').
 */
import { CancelAll, CancelledError, WorkerCrashedError } from '../index.js';
import type { Cancellation } from './cancellation.js';
import { decodeThrown, decodeValue, type RemoteErrorInfo } from './codec.js';
import { JobLostError } from './errors.js';
import type { EventHub } from './events.js';
import { type ChunkOutcome, describeError } from './internal.js';
import type { JobEvent, JobEventName } from './link.js';
import type { LiveTasks } from './live-tasks.js';
import type { NodeRegistry } from './nodes.js';
import {
  ANSWER_CANCELLED,
  ANSWER_THROWN,
  type Envelope,
  parseEnvelope,
  type WireChunkOutcome,
} from './protocol.js';
import type { FinishedJobs } from './removal.js';
import type { Submission } from './submission.js';
import { jobIdOf, type TrackedTask } from './tracked-task.js';

/** BullMQ's reason for a job whose node stopped renewing its lock (see stalled jobs). */
const STALLED_REASON = /stalled/i;

/** What outcome handling needs of the other rooms. */
export interface OutcomeContext {
  readonly executorId: string;
  readonly live: LiveTasks;
  readonly hub: EventHub;
  readonly nodes: Pick<NodeRegistry, 'finishedOn' | 'whereIs' | 'nodeOf' | 'describe' | 'lost'>;
  readonly finished: Pick<FinishedJobs, 'schedule' | 'ended'>;
  readonly submission: Pick<Submission, 'enqueue'>;
  readonly cancellation: Pick<Cancellation, 'cancelAll'>;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export class Outcomes {
  readonly #context: OutcomeContext;

  constructor(context: OutcomeContext) {
    this.#context = context;
  }

  /** A queue event about one of this executor's jobs. */
  onJob(name: JobEventName, event: JobEvent): void {
    const { live, finished } = this.#context;
    const task = live.get(event.jobId);
    if (task === undefined) {
      // A job whose task is settled and forgotten: clean it up once it ends.
      if (name === 'completed' || name === 'failed') finished.ended(event.jobId);
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
        this.completed(task, event.returnvalue);
        return;
      case 'failed':
        this.failedInQueue(task, event.failedReason ?? 'unknown');
        return;
      case 'stalled':
        this.#nodeLost(task);
        return;
      case 'removed':
        if (task.state === 'waiting' || task.state === 'running') this.vanished(task);
        return;
    }
  }

  /** The job completed: its node's answer settles the future, and the job is removed. */
  completed(task: TrackedTask, returnvalue: unknown): void {
    const { live, hub, nodes, finished, cancellation } = this.#context;
    const envelope = parseEnvelope(returnvalue);
    live.forget(task);
    finished.schedule(task.id);
    if (task.future.done()) return;
    if (envelope === undefined) {
      live.fail(
        task,
        new TypeError(`job ${task.id} returned something that is not a worker node's answer`),
      );
      return;
    }
    task.node = envelope.n;
    nodes.finishedOn(envelope.n, task.id);
    if (envelope.s === ANSWER_CANCELLED) {
      // The node skipped it as cancelled (a cancellation this executor no longer tracks).
      live.endCancelled(task, new CancelledError('The task was cancelled on its node'));
      return;
    }
    if (task.future.state === 'pending') this.#started(task);
    const remote: RemoteErrorInfo = {
      node: envelope.n,
      host: envelope.h ?? nodes.whereIs(envelope.n)?.host ?? 'unknown',
      pid: envelope.p ?? nodes.whereIs(envelope.n)?.pid ?? 0,
    };
    let outcome: Outcome;
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
      live.fail(task, outcome.error);
      if (envelope.ca === 1 && outcome.error instanceof CancelAll)
        cancellation.cancelAll(outcome.error, task);
      return;
    }
    live.unwatch(task);
    task.future.setResult(outcome.value);
    const chunk = task.kind === 'chunk' ? (outcome.value as ChunkOutcome<unknown>) : undefined;
    if (chunk?.failed) {
      live.counts.failed++;
      if (hub.wants('taskFailed'))
        hub.emit('taskFailed', { ...live.event(task), error: chunk.error });
      if (chunk.error instanceof CancelAll) cancellation.cancelAll(chunk.error, task);
      return;
    }
    live.counts.completed++;
    if (hub.wants('taskFinished')) {
      hub.emit('taskFinished', {
        ...live.event(task),
        value: chunk === undefined ? outcome.value : chunk.values,
        runTime: ms,
        waitTime: task.startedAt === 0 ? 0 : task.startedAt - task.submittedAt,
      });
    }
  }

  /** BullMQ failed the job itself: its node was lost (stalled), or something outside task code broke. */
  failedInQueue(task: TrackedTask, reason: string): void {
    if (STALLED_REASON.test(reason)) {
      this.#nodeLost(task);
      return;
    }
    const { live, finished } = this.#context;
    live.forget(task);
    finished.schedule(task.id);
    if (!task.future.done())
      live.fail(task, new Error(`the queue failed job ${task.id}: ${reason}`));
  }

  /** The job is gone from Redis (a Redis restart without persistence, an obliterate). */
  vanished(task: TrackedTask): void {
    this.#context.live.forget(task);
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

  #started(task: TrackedTask): void {
    if (task.state === 'withdrawn') return;
    if (task.state === 'adding' || task.state === 'waiting') task.state = 'running';
    if (task.future.state !== 'pending') return;
    const { live, hub } = this.#context;
    task.future.setRunningOrNotifyCancel();
    task.startedAt = performance.now();
    live.notifyRoom();
    if (hub.wants('taskStarted')) {
      hub.emit('taskStarted', {
        ...live.event(task),
        waitTime: task.startedAt - task.submittedAt,
      });
    }
  }

  #progress(task: TrackedTask, data: unknown): void {
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
    const { live, hub } = this.#context;
    if (hub.wants('taskProgress')) hub.emit('taskProgress', { ...live.event(task), value });
  }

  /** The node running the task stopped renewing its lock: run the task again elsewhere, or fail it. */
  #nodeLost(task: TrackedTask): void {
    const { live, nodes, finished } = this.#context;
    const node = task.node ?? nodes.nodeOf(task.id);
    live.forget(task);
    finished.schedule(task.id);
    if (task.future.done()) return;
    const where =
      node !== undefined
        ? `worker node ${nodes.describe(node)}`
        : describeUnknownNode(nodes.lost().map((id) => nodes.describe(id)));
    const error = new WorkerCrashedError(
      `The ${where} stopped while running task ${task.seq} (job ${task.id}): it was killed, crashed, or lost Redis for longer than its lock`,
      { reason: 'node-lost', pid: node === undefined ? undefined : nodes.whereIs(node)?.pid },
    );
    Object.defineProperty(error, 'node', {
      value: node,
      enumerable: true,
      writable: true,
      configurable: true,
    });
    this.#retryOrFail(task, error);
  }

  #retryOrFail(task: TrackedTask, error: unknown): void {
    const { live, hub } = this.#context;
    if (task.retriesLeft > 0) {
      task.retriesLeft--;
      live.counts.retried++;
      if (hub.wants('taskRetried')) {
        hub.emit('taskRetried', { ...live.event(task), attempt: task.attempt + 1, error });
      }
      this.#readd(task);
      return;
    }
    live.fail(task, error);
  }

  /** Adds the task's job again under a new id (the old one may still be in a node's hands). */
  #readd(task: TrackedTask): void {
    task.attempt++;
    task.id = jobIdOf(this.#context.executorId, task.seq, task.attempt);
    task.node = undefined;
    task.heardAt = performance.now();
    this.#context.live.track(task);
    this.#context.submission.enqueue(task);
  }
}

/** Decodes a node's answer into the task's value or error. */
function decodeOutcome(
  kind: 'run' | 'chunk',
  envelope: Envelope,
  remote: RemoteErrorInfo,
): Outcome {
  if (envelope.s === ANSWER_THROWN) return { ok: false, error: decodeThrown(envelope.d!, remote) };
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
