/**
 * The messages between a map-reduce's coordinator and its explorers
 * (engine/map-reduce/, worker/explorer.ts). Part of the protocol
 * (protocol.ts, which re-exports them and puts them in its unions), in a
 * file of their own.
 */
import type { FnRef, PROTOCOL_TAG } from './protocol.js';

// ---------------------------------------------------------------------------
// Map-reduce explorers (engine/map-reduce/, worker/explorer.ts)
// ---------------------------------------------------------------------------
//
// An explorer is a long-running task (flag TASK_EXPLORE) that explores part
// of a forest from its own double-ended queue. The parent never sees
// individual nodes except inside steal messages:
//
//   parent                                   explorer (task `id`)
//   ──────                                   ────────
//                               <───────────  mrIdle {id, nodes, got}  (started, or its queue ran dry)
//   mrWork {id, nodes}          ───────────>  roots, or nodes stolen for it
//                               <───────────  mrLow {id, got}  (busy, but down to its last node)
//   mrSteal {id, req, low?}     ───────────>  gives the oldest half of its queue
//                               <───────────  mrStolen {id, req, nodes, left}
//                               <───────────  mrHasWork {id, size}  (once, after a refused steal)
//   mrFinish {id, partials?}    ───────────>  returns its partial reduction (reduced
//                                             with `partials` first, for the last one)

/**
 * The low-water mark: a busy explorer whose queue falls to this many nodes
 * asks for work before it runs dry (`mrLow`), so that the steal round trip
 * overlaps its last nodes instead of leaving it idle.
 */
export const LOW_WATER = 1;

/** Task flag: the task is a map-reduce explorer (payload: one ExplorerSpec). */
export const TASK_EXPLORE = 8;

/** What an explorer task carries: the functions besides `map` (its task function) and `init`. */
export interface ExplorerSpec {
  children: FnRef;
  reduce: FnRef;
  postProcess: FnRef | undefined;
  init: unknown;
}

/** Nodes for an idle explorer: roots, or nodes stolen from another explorer. */
export interface ExplorerWorkMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'mrWork';
  id: number;
  nodes: unknown[];
}

/** Give the oldest half of your queue (answer: ExplorerStolenMessage with the same `req`). */
export interface ExplorerStealMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'mrSteal';
  id: number;
  req: number;
  /** The thief is low, not idle: keep enough not to be low yourself. */
  low?: boolean;
}

/** The search is over: return your partial reduction (reduced with `partials` first, if given). */
export interface ExplorerFinishMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'mrFinish';
  id: number;
  partials?: unknown[];
}

export type ExplorerParentMessage =
  | ExplorerWorkMessage
  | ExplorerStealMessage
  | ExplorerFinishMessage;

/**
 * The explorer started, or its queue ran dry: it waits for work. `nodes`:
 * explored so far; `got`: `mrWork` messages received so far (a low
 * explorer can run dry while work is on its way to it: then this notice
 * is out of date, and the parent ignores it).
 */
export interface ExplorerIdleMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'mrIdle';
  id: number;
  nodes: number;
  got: number;
}

/** The answer to a steal request: the nodes given (maybe none), and how many it kept. */
export interface ExplorerStolenMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'mrStolen';
  id: number;
  req: number;
  nodes: unknown[];
  left: number;
}

/** A busy explorer is down to its last node(s): it asks for work before it runs dry (`got`: as in mrIdle). */
export interface ExplorerLowMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'mrLow';
  id: number;
  got: number;
}

/** An explorer that refused a steal has enough nodes to share again (sent once per refusal). */
export interface ExplorerHasWorkMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'mrHasWork';
  id: number;
  size: number;
}

export type ExplorerWorkerMessage =
  | ExplorerIdleMessage
  | ExplorerLowMessage
  | ExplorerStolenMessage
  | ExplorerHasWorkMessage;
