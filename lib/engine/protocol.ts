/**
 * The messages between the engine (parent) and a worker, for both
 * transports.
 *
 * Every pool message is wrapped in an envelope: an object whose `cf` field
 * holds PROTOCOL_TAG. Task code that calls `process.send()` in a child
 * process (or posts on a MessagePort it made) can therefore never be mistaken
 * for pool traffic, and the worker ignores anything without the tag.
 *
 * Data flow:
 *
 *   parent                                   worker
 *   ──────                                   ──────
 *   init {initializer?}         ───────────>  runs the initializer once
 *                               <───────────  ready {pid} | initFailed {error}
 *   batch {tasks: [run | chunk]} ───────────>  runs them one at a time, in order:
 *                                                run: fn(...args); chunk: fn(item) per item
 *   cancel {id}                 ───────────>  aborts currentTask().signal, or skips the
 *                                             task if it has not started
 *                               <───────────  results {done: [{id, ok, value | error}]}
 *                               <───────────  fatal {origin, error}  (then it dies)
 *   exit                        ───────────>  exits with code 0
 *
 * Batching is what makes tiny tasks cheap: the parent sends every queued task
 * a worker has room for in one message, and the worker returns the outcomes
 * of all tasks it finished in one go: when its queue runs dry, before it
 * waits on an async task, every RESULTS_FLUSH_COUNT results or
 * RESULTS_FLUSH_MS, and before it starts a task that may take long (a
 * function it has not timed yet, one whose runs took over LONG_TASK_MS, or a
 * task with a time limit), so that finished work is never held back behind
 * a long task and the parent always knows which task is running. A worker
 * runs one task at a time, in the order received, so a task's running time
 * starts when the outcome of the task before it arrives.
 */
import type { EncodedError } from './error-codec.js';

/** The envelope tag: the package name and protocol version. */
export const PROTOCOL_TAG = 'concurrent-futures/1';

/**
 * How a worker finds the function to call. The first message that uses a
 * function on a given worker carries its source or module location; later
 * ones carry only the numeric id, which the worker caches.
 */
export interface FnRef {
  /** Id of the function, stable for the life of the executor. */
  id: number;
  /** Source text of an inline function (first use on this worker only). */
  src?: string;
  /** Module URL of a `task()` reference (first use on this worker only). */
  url?: string;
  /** Export name of a `task()` reference (first use on this worker only). */
  name?: string;
}

export interface InitMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'init';
  initializer?: FnRef;
  initargs?: unknown[];
  /** Watch the parent's pid from a helper thread (child processes only). */
  watchParent?: boolean;
}

/** Call `fn(...args)`. Not enveloped: it travels inside a BatchMessage. */
export interface RunMessage {
  k: 'run';
  id: number;
  fn: FnRef;
  args: unknown[];
  /** Set for a task with a time limit: report finished tasks before starting it. */
  t?: 1;
  /** Report finished tasks before starting this one, and its outcome alone, at once. */
  f?: 1;
}

/** Call `fn(item)` for each item, in order. Travels inside a BatchMessage. */
export interface ChunkMessage {
  k: 'chunk';
  id: number;
  fn: FnRef;
  items: unknown[];
  /** Set for a task with a time limit: report finished tasks before starting it. */
  t?: 1;
  /** Report finished tasks before starting this one, and its outcome alone, at once. */
  f?: 1;
}

/** One or more tasks for a worker, in the order it must run them. */
export interface BatchMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'batch';
  tasks: Array<RunMessage | ChunkMessage>;
}

export interface CancelMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'cancel';
  id: number;
  /** What `currentTask().signal.reason` becomes: 'timeout' or 'cancel'. */
  why: 'timeout' | 'cancel';
}

export interface ExitMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'exit';
}

/** Parent to worker. */
export type ParentMessage = InitMessage | BatchMessage | CancelMessage | ExitMessage;

export interface ReadyMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'ready';
  pid: number;
}

export interface InitFailedMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'initFailed';
  error: EncodedError;
}

/** The per-item outcome of a chunk, with the error encoded for transport. */
export interface EncodedChunkOutcome {
  values: unknown[];
  failed: boolean;
  error?: EncodedError;
}

/** The outcome of one task. */
export interface Outcome {
  id: number;
  ok: boolean;
  /** The value (`ok`), or for a chunk its EncodedChunkOutcome. */
  value?: unknown;
  /** The thrown value, encoded (`!ok`). */
  error?: EncodedError;
}

/** Outcomes of tasks the worker finished, in the order it ran them. */
export interface ResultsMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'results';
  done: Outcome[];
}

/** Results are flushed at least this often while a worker works through a long batch. */
export const RESULTS_FLUSH_COUNT = 64;
export const RESULTS_FLUSH_MS = 2;
/** A function whose runs average more than this (ms) is treated as long. */
export const LONG_TASK_MS = 0.5;

/**
 * Sent by a child process just before it dies of an error that escaped task
 * code asynchronously (a throw in a timer, an unhandled rejection), so the
 * crash report can name it.
 */
export interface FatalMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'fatal';
  origin: 'uncaughtException' | 'unhandledRejection';
  error: EncodedError;
}

/** Worker to parent. */
export type WorkerMessage = ReadyMessage | InitFailedMessage | ResultsMessage | FatalMessage;

/** `true` for a message carrying the pool's envelope tag. */
export function isPoolMessage(message: unknown): message is { cf: string; k: string } {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { cf?: unknown }).cf === PROTOCOL_TAG
  );
}
