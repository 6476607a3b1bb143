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
 *   run {id, fn, args}          ───────────>  fn(...args)
 *   chunk {id, fn, items}       ───────────>  fn(item) for each item, in order
 *   cancel {id}                 ───────────>  aborts currentTask().signal
 *                               <───────────  done {id, ok, value | error}
 *                               <───────────  fatal {origin, error}  (then it dies)
 *   exit                        ───────────>  exits with code 0
 *
 * A worker runs one task at a time, in the order received; the parent may
 * send the next tasks before the current one finished (pipelining), so a
 * task's running time starts when the previous task's `done` arrives.
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

export interface RunMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'run';
  id: number;
  fn: FnRef;
  args: unknown[];
}

export interface ChunkMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'chunk';
  id: number;
  fn: FnRef;
  items: unknown[];
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
export type ParentMessage = InitMessage | RunMessage | ChunkMessage | CancelMessage | ExitMessage;

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

export interface DoneMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'done';
  id: number;
  ok: boolean;
  /** The value (`ok`), or for a chunk its EncodedChunkOutcome. */
  value?: unknown;
  /** The thrown value, encoded (`!ok`). */
  error?: EncodedError;
}

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
export type WorkerMessage = ReadyMessage | InitFailedMessage | DoneMessage | FatalMessage;

/** `true` for a message carrying the pool's envelope tag. */
export function isPoolMessage(message: unknown): message is { cf: string; k: string } {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { cf?: unknown }).cf === PROTOCOL_TAG
  );
}
