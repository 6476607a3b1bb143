/**
 * The messages of nested submission: tasks submitting tasks (docs/nested.md,
 * engine/nesting.ts, worker/nested-executor.ts). Part of the protocol
 * (protocol.ts, which re-exports them and puts them in its unions), in a
 * file of their own.
 */
import type { PROTOCOL_TAG } from './protocol.js';

// ---------------------------------------------------------------------------
// Nested submission: tasks submitting tasks (docs/nested.md,
// engine/nesting.ts, worker/nested-executor.ts).
//
//   parent                                   worker (task P runs here)
//   ──────                                   ──────
//                               <───────────  nsubmit {subs: [P, sub, fn, payload, flags, timeout, ...]}
//                               <───────────  park {id: P}  (P awaits: the worker moves on)
//                               <───────────  ncancel {subs}  (task code cancelled nested futures)
//   nsettled {done: [sub, state, value, ...]} ──>  settles P's nested futures
//
// `sub` is the worker's own number for a nested future; the parent keys
// the child task by it, per worker.
// ---------------------------------------------------------------------------

/** Sent in the init message: limits task code must know to fail fast. */
export interface NestConfig {
  /** The executor's `maxNestedTasks`: a worker refuses more unsettled nested futures at once. */
  maxTasks: number;
  /** The executor's `maxWorkers`: the default `buffersize` of a nested `map`. */
  maxWorkers: number;
}

/** Nested-submission flag: the payload is the items of a `map` chunk. */
export const NEST_CHUNK = 1;
/** Fields per entry in a NestSubmitMessage: parent id, sub, fn, payload, flags, timeout (-1: none). */
export const NEST_SUBMIT_FIELDS = 6;
/** Fields per entry in a NestSettledMessage: sub, state (NEST_OK...), value or EncodedError. */
export const NEST_SETTLED_FIELDS = 3;
/** A nested future's settlement: returned (value), threw (EncodedError), cancelled (EncodedError of the cause, or undefined). */
export const NEST_OK = 1;
export const NEST_FAILED = 0;
export const NEST_CANCELLED = 2;

/**
 * Task code submitted tasks. `fn` is the worker's own number for the
 * function: an FnRef (its `id` that number) the first time, the number
 * alone afterwards.
 */
export interface NestSubmitMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'nsubmit';
  subs: unknown[];
}

/** Task `id` awaits nested futures: the worker runs the next task of its line meanwhile. */
export interface ParkMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'park';
  id: number;
}

/** Task code cancelled these nested futures. */
export interface NestCancelMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'ncancel';
  subs: number[];
}

/** Nested tasks settled: NEST_SETTLED_FIELDS per entry. */
export interface NestSettledMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'nsettled';
  done: unknown[];
}

export type NestWorkerMessage = NestSubmitMessage | ParkMessage | NestCancelMessage;
export type NestParentMessage = NestSettledMessage;
