/**
 * A worker node's job intake: the BullMQ processor. It checks what a job
 * asks for (anyone who can write to the queue wrote it), skips jobs that
 * were cancelled, holds back jobs after a CancelAll, resolves the task's
 * module against the node's root, hands the job to the local pool (see
 * pool-bridge.ts) and turns the outcome into the job's return value, an
 * `Envelope`. Task errors never make the job fail in BullMQ's sense: they
 * travel inside the envelope.
 */
import type { Job } from 'bullmq';
import type { Future } from '../index.js';
import { encodeThrown } from './codec.js';
import { InlineFunctionRefusedError } from './errors.js';
import type { NodeCancels, RunningJob } from './node-cancels.js';
import type { CheckedNodeOptions } from './options.js';
import type { PoolBridge } from './pool-bridge.js';
import {
  ANSWER_CANCELLED,
  ANSWER_THROWN,
  type Envelope,
  type FnSpec,
  FORMAT,
  type JobData,
  parseJobData,
  type RunnerResult,
} from './protocol.js';
import { resolveModule } from './task.js';

/**
 * Module names resolved against the root are cached, at most this many:
 * a node serves a handful of task modules, but a queue writer could send
 * endless distinct names, and the cache must not grow with them.
 */
const MAX_RESOLVED_MODULES = 1000;

/** What the intake needs of its node. */
export interface IntakeContext {
  readonly nodeId: string;
  /** The node's host name, for the errors' `remote`. */
  readonly host: string;
  readonly options: Pick<CheckedNodeOptions, 'allowInlineFunctions' | 'root' | 'maxValueSize'>;
  readonly cancels: Pick<NodeCancels, 'isCancelled' | 'hold' | 'whenLifted'>;
  readonly bridge: Pick<PoolBridge, 'endOfTurn' | 'submit'>;
  /** `close({ force: true })` was called: jobs not yet started never start. */
  forced(): boolean;
  /** A job started or ended: the heartbeat should say so soon. */
  changed(): void;
}

export class JobIntake {
  /** The jobs taken and not answered yet, by job id. */
  readonly running = new Map<string, RunningJob>();
  /** Jobs answered (any outcome). */
  completed = 0;
  /** Of those, the ones whose task failed. */
  failed = 0;
  readonly #context: IntakeContext;
  /** Module specs as sent, resolved against the root (the root does not change). */
  readonly #resolved = new Map<string, string>();

  constructor(context: IntakeContext) {
    this.#context = context;
  }

  /** The BullMQ processor: one job, run in the local pool; never throws for task errors. */
  async process(job: Job): Promise<Envelope> {
    const { nodeId, options, cancels, bridge } = this.#context;
    const jobId = job.id ?? '';
    const data = parseJobData(job.data);
    if (data === undefined) {
      this.failed++;
      return this.#failure(
        new TypeError(
          `Job ${jobId} is not a concurrent-futures task (format ${FORMAT}); this queue is for concurrent-futures jobs only`,
        ),
        options.maxValueSize,
      );
    }
    const held = cancels.whenLifted(data.x);
    if (held !== undefined) await held;
    if (cancels.isCancelled(jobId, data)) return { n: nodeId, s: ANSWER_CANCELLED };
    const limit = Math.min(data.l, options.maxValueSize);
    const fn = this.#function(data);
    if (fn instanceof Error) {
      this.failed++;
      return this.#failure(fn, limit);
    }
    const started = performance.now();
    const entry: RunningJob = {
      executor: data.x,
      seq: data.s,
      future: undefined,
      cancelled: false,
    };
    this.running.set(jobId, entry);
    this.#context.changed();
    try {
      await bridge.endOfTurn();
      // A CancelAll may have come back meanwhile, or a cancel message.
      const stillHeld = cancels.whenLifted(data.x);
      if (stillHeld !== undefined) await stillHeld;
      if (entry.cancelled || this.#context.forced()) return { n: nodeId, s: ANSWER_CANCELLED };
      let future: Future<RunnerResult>;
      try {
        future = bridge.submit(job, fn, data, limit);
      } catch (error) {
        // The pool refused (it is shutting down): this job fails, the node goes on.
        this.failed++;
        return this.#failure(error, limit);
      }
      entry.future = future;
      const result = await future;
      if (result.s === ANSWER_THROWN) this.failed++;
      const envelope: Envelope = {
        n: nodeId,
        s: result.s,
        d: result.d,
        ms: performance.now() - started,
        h: this.#context.host,
        p: result.p,
      };
      if (result.ca === 1) {
        envelope.ca = 1;
        cancels.hold(data.x);
      }
      return envelope;
    } catch (error) {
      if (entry.future === undefined || entry.future.cancelled())
        return { n: nodeId, s: ANSWER_CANCELLED };
      this.failed++;
      const pid = (error as { pid?: unknown } | null)?.pid;
      return {
        ...this.#failure(error, limit),
        ms: performance.now() - started,
        p: typeof pid === 'number' ? pid : process.pid,
      };
    } finally {
      this.completed++;
      this.running.delete(jobId);
      this.#context.changed();
    }
  }

  /** The function the job names, resolved for this node; an error if it may not run here. */
  #function(data: JobData): FnSpec | InlineFunctionRefusedError {
    if ('src' in data.f) {
      if (!this.#context.options.allowInlineFunctions) {
        return new InlineFunctionRefusedError(
          `Worker node ${this.#context.nodeId} refuses inline functions: start it with --allow-inline-functions ` +
            '(startWorker({ allowInlineFunctions: true })) to run them, or submit a task() reference',
        );
      }
      return data.f;
    }
    let m = this.#resolved.get(data.f.m);
    if (m === undefined) {
      m = resolveModule(data.f.m, this.#context.options.root);
      if (this.#resolved.size < MAX_RESOLVED_MODULES) this.#resolved.set(data.f.m, m);
    }
    return { m, e: data.f.e };
  }

  #failure(error: unknown, limit: number): Envelope {
    return {
      n: this.#context.nodeId,
      s: ANSWER_THROWN,
      d: encodeThrown(error, limit),
      h: this.#context.host,
      p: process.pid,
    };
  }
}
