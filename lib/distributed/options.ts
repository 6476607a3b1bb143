/**
 * The options of DistributedExecutor and of a worker node, documented where
 * they are declared, with their defaults in one frozen constant, and their
 * validation (TypeError for a wrong type, RangeError out of range, both
 * naming the option).
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import type { ProcessPoolOptions } from '../index.js';
import { type Connection, type ConnectionOption, parseConnection } from './connection.js';
import {
  checkPoolOptions,
  rangeError,
  typeError,
  validateBoolean,
  validateInteger,
  validateOptions,
  validateTimeout,
} from './internal.js';

/** Defaults of the options below. */
export const DEFAULTS = Object.freeze({
  prefix: 'bull',
  connectTimeout: 5_000,
  reconnectTimeout: 60_000,
  maxValueSize: 16 * 1024 * 1024,
  reconcileInterval: 5_000,
  lockDuration: 4_000,
  heartbeatInterval: 1_000,
});

/** What the executor and the nodes share: where the queue is. */
export interface QueueOptions {
  /** Redis: a `redis://` URL or ioredis options (`host`, `port`, `path`, `password`, `tls`, ...). */
  connection: ConnectionOption;
  /** The queue's name (BullMQ's): executors and nodes that share it share the work. No `:`. */
  queue: string;
  /** BullMQ's key prefix. @default 'bull' */
  prefix?: string | undefined;
  /**
   * Milliseconds to wait for the first connection to Redis. Past it the
   * executor is broken (its futures fail with `BrokenExecutorError` saying
   * where Redis was looked for and why it failed) and `startWorker` rejects.
   * @default 5000
   */
  connectTimeout?: number | undefined;
  /**
   * Largest value, in bytes once serialized, sent through Redis: a task's
   * arguments (a map chunk: its items), its result, its error, a progress
   * value. A value over it fails that task's future with
   * `ValueTooLargeError`. A node applies the smaller of its own limit and
   * the executor's.
   * @default 16 MiB
   */
  maxValueSize?: number | undefined;
  /**
   * Run inline functions (sent as source text). Off by default: anyone who
   * can write to the queue could make every node run any code. Both the
   * executor and the nodes must opt in. See docs/distributed.md, "Security".
   * @default false
   */
  allowInlineFunctions?: boolean | undefined;
}

/** Options of `new DistributedExecutor(options)`. */
export interface DistributedExecutorOptions extends QueueOptions {
  /**
   * Milliseconds the executor waits for a lost Redis connection to come
   * back. Past it the executor is broken: every unsettled future fails
   * with `BrokenExecutorError`. `Infinity` waits for ever.
   * @default 60000
   */
  reconnectTimeout?: number | undefined;
  /**
   * Default number of times a task is run again after the node running it
   * was lost (killed, crashed, cut off from Redis for longer than its lock)
   * or its worker process crashed. Then its future fails with
   * `WorkerCrashedError` naming the node.
   * @default 0
   */
  retries?: number | undefined;
  /** Default time limit of every task, in ms of running time on its node. @default no limit */
  taskTimeout?: number | undefined;
  /**
   * Most tasks of this executor waiting in the queue (not yet taken by a
   * node). A submit beyond it fails that future with `QueueFullError`;
   * `map` waits for room. `Infinity` is unbounded.
   * @default Infinity
   */
  maxQueued?: number | undefined;
  /**
   * Milliseconds between checks of tasks that heard nothing for that long:
   * their jobs' state is read from Redis, so a result whose event was lost
   * (an event stream trimmed while the executor was busy) still arrives,
   * and a job that vanished is run again or failed.
   * @default 5000
   */
  reconcileInterval?: number | undefined;
}

/** Options of `startWorker(options)`: the queue, the node's behaviour, and its local pool's options. */
export interface WorkerNodeOptions extends QueueOptions, ProcessPoolOptions {
  /**
   * Jobs this node runs at once. Each runs in the node's
   * ProcessPoolExecutor, whose `maxWorkers` defaults to this.
   * @default maxWorkers, or os.availableParallelism()
   */
  concurrency?: number | undefined;
  /**
   * Directory against which task modules named by relative paths
   * (`task('./tasks.js', ...)` from this sub-path) are resolved, and from
   * which module names are looked up.
   * @default process.cwd()
   */
  root?: string | undefined;
  /**
   * Milliseconds of the node's lock on each job it runs. The node renews it
   * every half of this; a node that stops renewing (killed, frozen, cut off
   * from Redis) loses its jobs to the other nodes' stalled-job check after
   * at most `lockDuration + 2 × stalledInterval`. Tasks run in worker
   * processes, so a busy task never delays the renewal.
   * @default 4000
   */
  lockDuration?: number | undefined;
  /** Milliseconds between this node's checks for stalled jobs. @default lockDuration / 2 */
  stalledInterval?: number | undefined;
  /** Milliseconds between heartbeats (what executors show in `stats().nodes`). @default 1000 */
  heartbeatInterval?: number | undefined;
  /** The node's name in heartbeats, events and errors. @default `${hostname}:${pid}` */
  name?: string | undefined;
}

/** Validated queue settings. */
export interface CheckedQueue {
  connection: Connection;
  queue: string;
  prefix: string;
  connectTimeout: number;
  maxValueSize: number;
  allowInlineFunctions: boolean;
}

/** Validated executor settings. */
export interface CheckedExecutorOptions extends CheckedQueue {
  reconnectTimeout: number;
  retries: number;
  taskTimeout: number | undefined;
  maxQueued: number;
  reconcileInterval: number;
}

/** Validated node settings; `pool` goes to the node's ProcessPoolExecutor. */
export interface CheckedNodeOptions extends CheckedQueue {
  concurrency: number;
  root: string;
  lockDuration: number;
  stalledInterval: number;
  heartbeatInterval: number;
  name: string | undefined;
  pool: ProcessPoolOptions;
}

function checkQueue(options: unknown): CheckedQueue {
  if (options === undefined || options === null) {
    throw typeError('options', 'an options object with `connection` and `queue`', options);
  }
  validateOptions('options', options);
  const o = options as QueueOptions;
  if (typeof o.queue !== 'string' || o.queue === '') {
    throw typeError('queue', 'a non-empty string (the queue name)', o.queue);
  }
  if (o.queue.includes(':')) throw rangeError('queue', 'a name without `:`', o.queue);
  if (o.prefix !== undefined && (typeof o.prefix !== 'string' || o.prefix === '')) {
    throw typeError('prefix', 'a non-empty string', o.prefix);
  }
  return {
    connection: parseConnection(o.connection),
    queue: o.queue,
    prefix: o.prefix ?? DEFAULTS.prefix,
    connectTimeout: positive('connectTimeout', o.connectTimeout, DEFAULTS.connectTimeout),
    maxValueSize: validateInteger('maxValueSize', o.maxValueSize, 1, DEFAULTS.maxValueSize),
    allowInlineFunctions: validateBoolean('allowInlineFunctions', o.allowInlineFunctions, false),
  };
}

/** Validates the executor's options. */
export function checkExecutorOptions(options: unknown): CheckedExecutorOptions {
  const queue = checkQueue(options);
  const o = options as DistributedExecutorOptions;
  return {
    ...queue,
    reconnectTimeout:
      validateTimeout('reconnectTimeout', o.reconnectTimeout ?? DEFAULTS.reconnectTimeout) ??
      Number.POSITIVE_INFINITY,
    retries: validateInteger('retries', o.retries, 0, 0),
    taskTimeout: validateTimeout('taskTimeout', o.taskTimeout),
    maxQueued: validateInteger(
      'maxQueued',
      o.maxQueued,
      1,
      Number.POSITIVE_INFINITY,
      Number.POSITIVE_INFINITY,
    ),
    reconcileInterval: positive(
      'reconcileInterval',
      o.reconcileInterval,
      DEFAULTS.reconcileInterval,
    ),
  };
}

/** Validates a node's options, including those of its local pool. */
export function checkNodeOptions(options: unknown): CheckedNodeOptions {
  const queue = checkQueue(options);
  const o = options as WorkerNodeOptions;
  const {
    connection: _c,
    queue: _q,
    prefix: _p,
    connectTimeout: _ct,
    maxValueSize: _m,
    allowInlineFunctions: _a,
    concurrency: _n,
    root: _r,
    lockDuration: _l,
    stalledInterval: _s,
    heartbeatInterval: _h,
    name: _name,
    ...poolOptions
  } = o;
  const fallback = o.maxWorkers ?? availableParallelism();
  const concurrency = validateInteger('concurrency', o.concurrency, 1, fallback);
  const pool: ProcessPoolOptions = { ...poolOptions, maxWorkers: o.maxWorkers ?? concurrency };
  // The pool checks its own options now, so a mistake there fails startWorker at once.
  checkPoolOptions(pool);
  if (o.root !== undefined && (typeof o.root !== 'string' || o.root === '')) {
    throw typeError('root', 'a directory path', o.root);
  }
  if (o.name !== undefined && (typeof o.name !== 'string' || o.name === '')) {
    throw typeError('name', 'a non-empty string', o.name);
  }
  const lockDuration = positive('lockDuration', o.lockDuration, DEFAULTS.lockDuration);
  return {
    ...queue,
    concurrency,
    root: resolve(o.root ?? process.cwd()),
    lockDuration,
    stalledInterval: positive('stalledInterval', o.stalledInterval, Math.ceil(lockDuration / 2)),
    heartbeatInterval: positive(
      'heartbeatInterval',
      o.heartbeatInterval,
      DEFAULTS.heartbeatInterval,
    ),
    name: o.name,
    pool,
  };
}

/** A finite number of milliseconds > 0. */
function positive(name: string, value: unknown, fallback: number): number {
  const checked = validateTimeout(name, value ?? fallback);
  if (checked === undefined || checked <= 0) {
    throw rangeError(name, 'a finite number of milliseconds > 0', value);
  }
  return checked;
}
