/**
 * What travels through Redis between a DistributedExecutor and its worker
 * nodes: the data of a BullMQ job, the value a node returns for it, and the
 * pub/sub messages (cancellations one way, heartbeats the other).
 *
 *   executor ──addBulk──> bull:<queue>:wait ──> node (BullMQ Worker)
 *      ^                                           │ ProcessPoolExecutor
 *      │                                           v   (job-runner.ts in a child)
 *      └──── QueueEvents: active/progress/completed/stalled <── returnvalue
 *   executor ──PUBLISH cf:cancel──> every node      node ──PUBLISH cf:nodes──> executors
 *
 * Job data and return values are JSON (BullMQ's format); values inside them
 * are V8-serialized and base64-encoded, so they keep structured-clone
 * fidelity. Short field names: every job carries them through Redis twice.
 */

/** Version of this format; a node refuses jobs of another version. */
export const FORMAT = 1;

/** The function a job runs: a module export, or (when allowed) inline source. */
export type FnSpec =
  | {
      /** Module: a URL, an absolute path, a path relative to the node's root (`./x.js`), or a module name. */
      m: string;
      /** Export name. */
      e: string;
    }
  | {
      /** Inline source. */
      src: string;
    };

/** `k`: one call of the function, or one chunk of a map. */
export const KIND_RUN = 'r';
export const KIND_CHUNK = 'c';

/** The data of a job. */
export interface JobData {
  /** FORMAT. */
  v: number;
  /** Id of the executor that submitted it. */
  x: string;
  /** The task's sequence number within its executor (CancelAll watermarks compare these). */
  s: number;
  k: typeof KIND_RUN | typeof KIND_CHUNK;
  f: FnSpec;
  /** The arguments (a chunk: its items), V8-serialized, base64. */
  a: string;
  /** Time limit in ms of running time, if any. */
  t?: number;
  /** Re-runs allowed on the node after its worker process crashed. */
  r?: number;
  /** The executor's size limit for values, bytes. */
  l: number;
}

/** `s` of an Envelope or a RunnerResult: `d` holds the value (a chunk: its outcome). */
export const ANSWER_VALUE = 0;
/** `s`: `d` holds what the task threw (an encoded error). */
export const ANSWER_THROWN = 1;
/** `s`: the job was cancelled on the node, before or while it ran; no `d`. */
export const ANSWER_CANCELLED = 2;

/** How a node reports a job (the job's BullMQ return value). */
export interface Envelope {
  /** The node's id. */
  n: string;
  s: typeof ANSWER_VALUE | typeof ANSWER_THROWN | typeof ANSWER_CANCELLED;
  /** V8-serialized, base64: the value (a chunk: its outcome) or the encoded error. */
  d?: string;
  /** The failure is (or a chunk stopped at) a CancelAll. */
  ca?: 1;
  /** Running time in ms as the node measured it. */
  ms?: number;
  /** Host and pid of the process that produced the error, for the error's `remote`. */
  h?: string;
  p?: number;
}

/** What job-runner.ts hands back to the node for a job. */
export interface RunnerResult {
  s: typeof ANSWER_VALUE | typeof ANSWER_THROWN;
  d: string;
  ca?: 1;
  /** The worker process's pid. */
  p: number;
}

/** A chunk's outcome as job-runner.ts serializes it (error encoded). */
export interface WireChunkOutcome {
  values: unknown[];
  failed: boolean;
  error?: unknown;
}

/** Executor -> nodes: stop these jobs, or every job of an executor up to a sequence number. */
export interface CancelMessage {
  /** The executor. */
  x: string;
  /** Job ids to stop. */
  ids?: string[];
  /** Stop every job of the executor with a sequence number <= this (CancelAll, shutdown). */
  upTo?: number;
}

/** Node -> executors: who the node is and what it does, every heartbeat and on change. */
export interface Heartbeat {
  /** The node's id (host:pid:random unless named). */
  id: string;
  host: string;
  pid: number;
  /** Jobs it takes at once. */
  concurrency: number;
  /** Jobs it runs now, and their ids. */
  active: number;
  jobs: string[];
  /** Jobs it finished since it started (any outcome), and those that failed. */
  completed: number;
  failed: number;
  /** `'draining'` after SIGTERM / close(); `'closed'` is its last message. */
  state: 'running' | 'draining' | 'closed';
  /** Milliseconds between its heartbeats. */
  interval: number;
}

/** The pub/sub channels of a queue. */
export function channels(prefix: string, queue: string): { cancel: string; nodes: string } {
  return { cancel: `${prefix}:${queue}:cf:cancel`, nodes: `${prefix}:${queue}:cf:nodes` };
}

/** Parses job data written by anyone with access to the queue; undefined if it is not ours. */
export function parseJobData(data: unknown): JobData | undefined {
  if (data === null || typeof data !== 'object') return undefined;
  const d = data as Record<string, unknown>;
  if (d.v !== FORMAT || typeof d.x !== 'string' || typeof d.s !== 'number') return undefined;
  if (d.k !== KIND_RUN && d.k !== KIND_CHUNK) return undefined;
  if (typeof d.a !== 'string' || typeof d.l !== 'number') return undefined;
  if (d.t !== undefined && (typeof d.t !== 'number' || !(d.t >= 0))) return undefined;
  if (d.r !== undefined && (typeof d.r !== 'number' || !Number.isInteger(d.r) || d.r < 0)) {
    return undefined;
  }
  const f = d.f as Record<string, unknown> | null;
  if (f === null || typeof f !== 'object') return undefined;
  const inline = typeof f.src === 'string';
  const module = typeof f.m === 'string' && typeof f.e === 'string';
  if (inline === module) return undefined;
  return d as unknown as JobData;
}

/** Parses a node's return value; undefined if it is not an envelope. */
export function parseEnvelope(value: unknown): Envelope | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const e = value as Record<string, unknown>;
  if (typeof e.n !== 'string') return undefined;
  if (e.s !== ANSWER_VALUE && e.s !== ANSWER_THROWN && e.s !== ANSWER_CANCELLED) return undefined;
  if (e.s !== ANSWER_CANCELLED && typeof e.d !== 'string') return undefined;
  return e as unknown as Envelope;
}
