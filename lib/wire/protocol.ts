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
 *   init {initializer?, markers?} ─────────>  runs the initializer once
 *                               <───────────  ready {u} | initFailed {error}
 *   batch {tasks: [id, fn, payload, flags, ...]}
 *                               ───────────>  runs them one at a time, in order:
 *                                                fn(...payload), or for a chunk fn(item) per item
 *   cancel {id}                 ───────────>  aborts currentTask().signal, or skips the
 *                                             task if it has not started
 *                               <───────────  progress {id, value}  (rate-limited)
 *   steal {ids}                 ───────────>  drops those not started yet (work stealing)
 *                               <───────────  stolen {ids}  (the ones dropped)
 *                               <───────────  results {done: [id, ok, value | error, ms, ...]}
 *                               <───────────  fatal {origin, error}  (then it dies)
 *                               <───────────  outputBroken {why}  (task code broke stdout/stderr)
 *                               <───────────  output {stream, data}  (threads: captured output)
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
 *
 * Tasks and outcomes travel as flat arrays of fields, not as one object
 * each: structured clone writes every property name of every object, and
 * building objects is the slowest part of reading a message, so a flat
 * array of numbers and payloads halves the cost of a tiny task on both
 * sides of the channel.
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
  /** Id of the function, stable for the life of the executor. Later tasks send only this number. */
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
  /** `stdio: 'capture'` or `'pipe'`: write the task markers of this nonce (see markers.ts). */
  markers?: string;
  /** What task code submitting nested tasks needs to know (see NestConfig). */
  nest?: NestConfig;
}

/** Task flag: call `fn(item)` for each item of the payload, not `fn(...payload)`. */
export const TASK_CHUNK = 1;
/** Task flag: the task has a time limit: report finished tasks before starting it. */
export const TASK_TIMED = 2;
/**
 * Task flag: report finished tasks before starting it, and its outcome
 * alone, at once. The parent sets it on a task it could not clear of a
 * crash (see engine/crash-blame.ts), so that a second crash is pinned on
 * the right task.
 */
export const TASK_REPORT_ALONE = 4;

/** Fields per task in a BatchMessage: id, fn, payload, flags. */
export const TASK_FIELDS = 4;

/**
 * One or more tasks for a worker, in the order it must run them. `tasks` is
 * flat, TASK_FIELDS entries per task: the task id; the function, as its
 * numeric id once the worker knows it, else as an FnRef; the payload (the
 * arguments, or the items of a chunk); the TASK_* flags.
 */
export interface BatchMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'batch';
  tasks: unknown[];
}

export interface CancelMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'cancel';
  id: number;
  /** What `currentTask().signal.reason` becomes: 'timeout' or 'cancel'. */
  why: 'timeout' | 'cancel';
}

/** Give back these tasks if they have not started (work stealing, see engine/stealing.ts). */
export interface StealMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'steal';
  ids: number[];
}

export interface ExitMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'exit';
}

/** Parent to worker. */
export type ParentMessage =
  | InitMessage
  | BatchMessage
  | CancelMessage
  | StealMessage
  | ExitMessage
  | ExplorerParentMessage
  | NestParentMessage;

/** The tasks of a StealMessage that had not started: the worker dropped them. */
export interface StolenMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'stolen';
  ids: number[];
}

/** A worker's resources: rss (bytes, -1 for a thread), heap used (bytes), CPU ms (-1 for a thread). */
export type Usage = [rss: number, heapUsed: number, cpuMs: number];

/** A worker attaches its Usage to a results message at most this often (ms). */
export const USAGE_INTERVAL_MS = 1000;

/** The worker ran its initializer (if any) and takes tasks. */
export interface ReadyMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'ready';
  u: Usage;
}

/** `currentTask().progress(value)`, rate-limited by the worker. */
export interface ProgressMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'progress';
  id: number;
  value: unknown;
}

export interface InitFailedMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'initFailed';
  error: EncodedError;
}

/** Fields per outcome in a ResultsMessage: id, ok, value or error, ms. */
export const OUTCOME_FIELDS = 4;

/**
 * Outcomes of tasks the worker finished, in the order it ran them. `done`
 * is flat, OUTCOME_FIELDS entries per outcome: the task id; 1 if it
 * returned, 0 if it threw; the value (for a chunk, its EncodedChunkOutcome)
 * or the EncodedError; the running time in milliseconds as the worker
 * measured it, or -1 if the task never ran (skipped after a cancel, or its
 * function could not be loaded): then it wrote no output markers either.
 */
export interface ResultsMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'results';
  done: unknown[];
  /** The worker's resources, at most every USAGE_INTERVAL_MS. */
  u?: Usage;
}

/**
 * Results are flushed at least every RESULTS_FLUSH_COUNT outcomes and every
 * RESULTS_FLUSH_MS while a worker works through a long batch: enough to
 * share one message among many tiny tasks, little enough that the parent
 * hears of finished work promptly. RESULTS_FLUSH_COUNT also bounds how many
 * tasks may have run unreported when a worker dies (see crash-blame.ts).
 */
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

/**
 * Task code made the worker's stdout or stderr unusable (ended, destroyed,
 * failed, or stuck): the worker ran no task after the one that did it, sent
 * every outcome it had, and waits to be replaced. Tasks still in its line
 * never started.
 */
export interface OutputBrokenMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'outputBroken';
  why: string;
}

/**
 * A worker thread's output with `stdio: 'capture'` or `'pipe'`. Threads
 * send what JavaScript writes to `process.stdout`/`process.stderr` on their
 * message port, in order with everything else they send (Node's own stdio
 * streams for threads would keep an idle pool's process alive).
 */
export interface OutputMessage {
  cf: typeof PROTOCOL_TAG;
  k: 'output';
  stream: 'stdout' | 'stderr';
  data: Uint8Array;
}

/** Worker to parent. */
export type WorkerMessage =
  | ExplorerWorkerMessage
  | OutputMessage
  | StolenMessage
  | ReadyMessage
  | InitFailedMessage
  | ResultsMessage
  | ProgressMessage
  | FatalMessage
  | OutputBrokenMessage
  | NestWorkerMessage;

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

/**
 * The worker messages the engine handles: all but `output`, which a
 * thread's transport turns into output events (engine/messages.ts).
 */
export type EngineMessage = Exclude<WorkerMessage, OutputMessage>;

/** The worker message of kind `K`. */
export type WorkerMessageOf<K extends WorkerMessage['k']> = Extract<WorkerMessage, { k: K }>;

/** `true` for a message carrying the pool's envelope tag. */
export function isPoolMessage(message: unknown): message is { cf: string; k: string } {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { cf?: unknown }).cf === PROTOCOL_TAG
  );
}
