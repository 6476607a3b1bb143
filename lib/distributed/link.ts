/**
 * The executor's side of Redis: one command connection (shared with its
 * BullMQ Queue), one QueueEvents reader, one subscriber for heartbeats.
 *
 * It connects within `connectTimeout` or fails with a clear error, tells
 * its owner when the connection drops and comes back, and offers the few
 * operations the executor needs: add jobs in bulk, remove finished ones,
 * publish cancellations, read jobs whose events may have been missed.
 */
import type { QueueEvents as QueueEventsType, Queue as QueueType } from 'bullmq';
import type { Redis as RedisClient } from 'ioredis';
import { drop, quit, SUBSCRIBER_QUIT_MS, whenReady } from './connection.js';
import { Queue, QueueEvents } from './deps.js';
import type { CheckedQueue } from './options.js';
import { type CancelMessage, channels } from './protocol.js';

/** The queue events the executor follows. */
export type JobEventName = 'active' | 'progress' | 'completed' | 'failed' | 'stalled' | 'removed';

export interface JobEvent {
  jobId: string;
  /** 'progress': the value given to updateProgress. */
  data?: unknown;
  /** 'completed': the job's return value. */
  returnvalue?: unknown;
  /** 'failed': why. */
  failedReason?: string;
}

/** What the link reports to its owner. */
export interface LinkHandlers {
  /** An event of one of this executor's jobs (ids starting with its prefix). */
  job(name: JobEventName, event: JobEvent): void;
  heartbeat(text: string): void;
  disconnected(error: unknown): void;
  reconnected(): void;
}

/** A job's state as read from its hash. */
export type JobReading =
  | { state: 'missing' }
  | { state: 'pending' }
  | { state: 'completed'; returnvalue: unknown }
  | { state: 'failed'; failedReason: string };

/** What `removeFinished` did with each job. */
export type Removal = 'removed' | 'gone' | 'held';

/**
 * Removes finished jobs in one call: for each id, if the job is in the
 * queue's completed or failed set (BullMQ's own record that it finished),
 * it leaves that set and its keys are deleted, as BullMQ's removeJob does
 * for a finished job without children. A job in no finished set is left
 * alone: 0 if it has no key any more, 2 if it still has one (a node holds
 * it, or someone moved it back to the queue).
 *
 * BullMQ's `queue.remove()` costs one script call, one round trip and one
 * 'removed' event per job (which every QueueEvents reader of the queue then
 * parses); this is one call per batch and no event.
 */
const REMOVE_FINISHED = `
local removed = {}
for i = 2, #ARGV do
  local id = ARGV[i]
  local key = ARGV[1] .. id
  if redis.call('ZREM', KEYS[1], id) + redis.call('ZREM', KEYS[2], id) > 0 then
    redis.call('DEL', key, key .. ':logs', key .. ':dependencies', key .. ':processed',
      key .. ':failed', key .. ':unsuccessful')
    removed[i - 1] = 1
  elseif redis.call('EXISTS', key) == 1 then
    removed[i - 1] = 2
  else
    removed[i - 1] = 0
  end
end
return removed
`;

type RemoveFinished = (
  completed: string,
  failed: string,
  jobPrefix: string,
  ...ids: string[]
) => Promise<number[]>;

const EVENTS: readonly JobEventName[] = [
  'active',
  'progress',
  'completed',
  'failed',
  'stalled',
  'removed',
];

export class QueueLink {
  readonly #options: CheckedQueue;
  readonly #jobPrefix: string;
  readonly #handlers: LinkHandlers;
  #cmd: RedisClient | undefined;
  #sub: RedisClient | undefined;
  #queue: QueueType | undefined;
  #events: QueueEventsType | undefined;
  #down = false;
  #closing = false;

  constructor(options: CheckedQueue, jobPrefix: string, handlers: LinkHandlers) {
    this.#options = options;
    this.#jobPrefix = jobPrefix;
    this.#handlers = handlers;
  }

  /** Connects; rejects with BrokenExecutorError (everything closed) after connectTimeout. */
  async start(): Promise<void> {
    const { connection, connectTimeout, queue, prefix } = this.#options;
    const cmd = connection.client(`cf-executor-${this.#jobPrefix}`);
    this.#cmd = cmd;
    try {
      await whenReady(cmd, connectTimeout, connection.where, 'DistributedExecutor');
    } catch (error) {
      drop(cmd);
      throw error;
    }
    if (this.#closing) return;
    // Read events from now on (Redis's clock, not ours: stream ids are its time).
    const [seconds, micros] = await cmd.time();
    const since = `${Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)}-0`;
    cmd.on('close', () => {
      if (this.#closing || this.#down) return;
      this.#down = true;
      this.#handlers.disconnected(new Error(`lost the connection to Redis at ${connection.where}`));
    });
    cmd.on('ready', () => {
      if (this.#closing || !this.#down) return;
      this.#down = false;
      this.#handlers.reconnected();
    });
    cmd.defineCommand('cfRemoveFinished', { numberOfKeys: 2, lua: REMOVE_FINISHED });
    this.#queue = new Queue(queue, { connection: cmd, prefix });
    this.#queue.on('error', () => {});
    const events = new QueueEvents(queue, {
      connection: connection.bullmq,
      prefix,
      lastEventId: since,
    });
    events.on('error', () => {});
    for (const name of EVENTS) {
      events.on(name as 'active', (args: unknown) => {
        const event = args as JobEvent;
        if (typeof event?.jobId === 'string' && event.jobId.startsWith(this.#jobPrefix)) {
          this.#handlers.job(name, event);
        }
      });
    }
    this.#events = events;
    const sub = connection.client(`cf-executor-sub-${this.#jobPrefix}`);
    this.#sub = sub;
    const channel = channels(prefix, queue).nodes;
    sub.on('message', (from: string, text: string) => {
      if (from === channel) this.#handlers.heartbeat(text);
    });
    await sub.subscribe(channel);
  }

  /** `true` while the command connection is up. */
  get connected(): boolean {
    return this.#cmd?.status === 'ready';
  }

  /** Adds jobs in one round trip. */
  async add(jobs: Array<{ name: string; data: unknown; opts: { jobId: string } }>): Promise<void> {
    await this.#queue!.addBulk(jobs);
  }

  /** Removes a finished or waiting job. `false` if a node holds it (it is running). */
  async remove(jobId: string): Promise<boolean> {
    const removed = await this.#queue!.remove(jobId);
    if (removed === 1) return true;
    // 0: locked by a node, or already gone.
    return (await this.#cmd!.exists(this.#queue!.toKey(jobId))) === 0;
  }

  /** Removes jobs that finished (see REMOVE_FINISHED), in one round trip. */
  async removeFinished(jobIds: readonly string[]): Promise<Removal[]> {
    const queue = this.#queue!;
    const run = (this.#cmd as unknown as { cfRemoveFinished: RemoveFinished }).cfRemoveFinished;
    const codes = await run.call(
      this.#cmd,
      queue.keys.completed!,
      queue.keys.failed!,
      queue.keys['']!,
      ...jobIds,
    );
    return jobIds.map((_, i) => (codes[i] === 1 ? 'removed' : codes[i] === 2 ? 'held' : 'gone'));
  }

  /** Tells every node to stop jobs. Fire and forget: a node that misses it finishes the job. */
  publish(message: CancelMessage): void {
    const { prefix, queue } = this.#options;
    this.#cmd?.publish(channels(prefix, queue).cancel, JSON.stringify(message)).catch(() => {});
  }

  /** Reads what Redis holds about each job: one pipelined round trip. */
  async read(jobIds: readonly string[]): Promise<JobReading[]> {
    const pipeline = this.#cmd!.pipeline();
    for (const id of jobIds) {
      pipeline.hmget(
        this.#queue!.toKey(id),
        'timestamp',
        'finishedOn',
        'returnvalue',
        'failedReason',
      );
    }
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([error, fields]): JobReading => {
      if (error !== null) return { state: 'pending' };
      const [timestamp, finishedOn, returnvalue, failedReason] = fields as Array<string | null>;
      if (timestamp === null || timestamp === undefined) return { state: 'missing' };
      if (finishedOn === null || finishedOn === undefined) return { state: 'pending' };
      if (returnvalue !== null && returnvalue !== undefined) {
        try {
          return { state: 'completed', returnvalue: JSON.parse(returnvalue) };
        } catch {
          return { state: 'failed', failedReason: 'the job returned a value that is not JSON' };
        }
      }
      return { state: 'failed', failedReason: failedReason ?? 'unknown' };
    });
  }

  /** Closes every connection; pending commands are sent first when Redis is there. */
  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all([
      this.#events?.close().catch(() => {}),
      quit(this.#sub, SUBSCRIBER_QUIT_MS),
      this.#queue?.close().catch(() => {}),
    ]);
    await quit(this.#cmd);
  }

  /** Closes every connection at once (the executor is broken). */
  abort(): void {
    this.#closing = true;
    this.#events?.close().catch(() => {});
    this.#queue?.close().catch(() => {});
    drop(this.#sub);
    drop(this.#cmd);
  }
}
