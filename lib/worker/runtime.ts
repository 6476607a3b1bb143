/**
 * What runs inside a worker, whatever the transport: resolving functions
 * (compiled inline source or imported module exports, cached by id), running
 * tasks one at a time in arrival order, aborting them on request, and
 * reporting outcomes. The entry files (process-entry.ts, thread-entry.ts)
 * only connect this to their channel.
 */
import { setCurrentTask, type TaskContext } from '../current-task.js';
import { encodeError } from '../engine/error-codec.js';
import {
  type EncodedChunkOutcome,
  type FnRef,
  type InitMessage,
  isPoolMessage,
  LONG_TASK_MS,
  OUTCOME_FIELDS,
  type ParentMessage,
  PROTOCOL_TAG,
  RESULTS_FLUSH_COUNT,
  RESULTS_FLUSH_MS,
  TASK_ALONE,
  TASK_CHUNK,
  TASK_FIELDS,
  TASK_TIMED,
  type WorkerMessage,
} from '../engine/protocol.js';
import { CancelAll, CancelledError, TaskTimeoutError } from '../errors.js';

/** How the runtime talks to its parent. */
export interface WorkerChannel {
  /** Sends a message; throws if the payload cannot be cloned. */
  send(message: WorkerMessage): void;
  /** Ends the worker. */
  exit(code: number): void;
  /** The process id (or thread id) reported in `ready`. */
  readonly pid: number;
}

type TaskFunction = (...args: unknown[]) => unknown;

interface Resolved {
  fn: TaskFunction;
  /** Inline functions get a hint when they hit a ReferenceError. */
  inline: boolean;
  /** Synchronous runs timed so far, and their average duration in ms. */
  runs: number;
  avgMs: number;
}

const INLINE_HINT =
  ' (inline functions are sent to the worker as source text and cannot use variables from the scope they were written in: pass values as arguments, or put the function in a module and submit task(moduleUrl, exportName))';

const TS_EXTENSION = /\.(?:[cm]?ts|tsx)$/i;

/**
 * The running task's context. The AbortController is made on first use of
 * `signal`, so tasks that never look at it cost no allocation.
 */
class Context implements TaskContext {
  readonly id: number;
  #controller: AbortController | undefined;

  constructor(id: number) {
    this.id = id;
  }

  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    return this.#controller.signal;
  }

  abort(reason: Error): void {
    this.#controller ??= new AbortController();
    this.#controller.abort(reason);
  }

  get aborted(): boolean {
    return this.#controller?.signal.aborted === true;
  }
}

/** A task of a batch, unpacked from the message's flat fields. */
interface TaskMessage {
  k: 'task';
  id: number;
  /** The function's id, or its FnRef on first use. */
  fn: number | FnRef;
  /** The arguments, or the items of a chunk. */
  payload: unknown[];
  /** TASK_CHUNK, TASK_TIMED, TASK_ALONE. */
  flags: number;
}

export class WorkerRuntime {
  readonly #channel: WorkerChannel;
  readonly #fns = new Map<number, Resolved | Promise<Resolved>>();
  readonly #modules = new Map<string, Promise<Record<string, unknown>>>();
  #queue: Array<TaskMessage | InitMessage> = [];
  #queueHead = 0;
  /** Ids cancelled before they started: skipped when their turn comes. */
  readonly #cancelledEarly = new Map<number, 'timeout' | 'cancel'>();
  #draining = false;
  #current: Context | undefined;
  #initFailed = false;
  /** The task whose function is being compiled or imported. */
  #resolving: number | undefined;
  /** Outcomes not yet sent (OUTCOME_FIELDS each), and when the first of them was produced. */
  #results: unknown[] = [];
  #resultsSince = 0;

  constructor(channel: WorkerChannel) {
    this.#channel = channel;
  }

  /** Entry point for every message from the parent. */
  receive(message: unknown): void {
    if (!isPoolMessage(message)) return;
    const msg = message as ParentMessage;
    switch (msg.k) {
      case 'cancel':
        this.#cancel(msg.id, msg.why);
        return;
      case 'exit':
        this.#flush();
        this.#channel.exit(0);
        return;
      case 'init':
        this.#queue.push(msg);
        break;
      case 'batch': {
        const fields = msg.tasks;
        for (let i = 0; i < fields.length; i += TASK_FIELDS) {
          this.#queue.push({
            k: 'task',
            id: fields[i] as number,
            fn: fields[i + 1] as number | FnRef,
            payload: fields[i + 2] as unknown[],
            flags: fields[i + 3] as number,
          });
        }
        break;
      }
      default:
        return;
    }
    if (!this.#draining) void this.#drain();
  }

  /**
   * Runs queued work in order. Synchronous tasks run back to back without
   * yielding to the event loop; the loop only awaits an async task (after
   * flushing the outcomes so far) or an initializer.
   */
  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      for (;;) {
        const msg = this.#next();
        if (msg === undefined) break;
        if (msg.k === 'init') {
          await this.#init(msg);
          continue;
        }
        if (this.#initFailed) continue;
        const pending = this.#runTask(msg);
        if (pending !== undefined) {
          this.#flush();
          await pending;
        }
        if ((msg.flags & TASK_ALONE) !== 0) {
          this.#flush();
        } else if (
          this.#results.length >= RESULTS_FLUSH_COUNT * OUTCOME_FIELDS ||
          performance.now() - this.#resultsSince >= RESULTS_FLUSH_MS
        ) {
          this.#flush();
        }
      }
    } finally {
      this.#draining = false;
      this.#flush();
    }
  }

  #next(): TaskMessage | InitMessage | undefined {
    if (this.#queueHead >= this.#queue.length) {
      if (this.#queueHead > 0) {
        this.#queue = [];
        this.#queueHead = 0;
      }
      return undefined;
    }
    return this.#queue[this.#queueHead++];
  }

  async #init(msg: InitMessage): Promise<void> {
    try {
      if (msg.initializer !== undefined) {
        const { fn } = await this.#resolve(msg.initializer);
        const result = fn(...(msg.initargs ?? []));
        if (isThenable(result)) await result;
      }
    } catch (error) {
      // Tasks may already wait behind the init message: none of them may run
      // on a worker whose initializer failed. The parent kills this worker.
      this.#initFailed = true;
      this.#channel.send({ cf: PROTOCOL_TAG, k: 'initFailed', error: encodeError(error) });
      return;
    }
    this.#channel.send({ cf: PROTOCOL_TAG, k: 'ready', pid: this.#channel.pid });
  }

  /** Runs one task; returns a promise only when it did not finish synchronously. */
  #runTask(msg: TaskMessage): Promise<void> | undefined {
    const resolved = this.#fns.get(typeof msg.fn === 'number' ? msg.fn : msg.fn.id);
    if (resolved === undefined || isThenable(resolved)) {
      // First use on this worker (compile or import), or an import in progress.
      return this.#runAfterResolve(msg);
    }
    return this.#runResolved(msg, resolved);
  }

  async #runAfterResolve(msg: TaskMessage): Promise<void> {
    // A cancel may arrive while the function loads: #cancel records it.
    this.#resolving = msg.id;
    let resolved: Resolved;
    try {
      resolved = await this.#resolve(msg.fn);
    } catch (error) {
      this.#outcome(msg.id, false, error, 0);
      return;
    } finally {
      this.#resolving = undefined;
    }
    await this.#runResolved(msg, resolved);
  }

  #runResolved(msg: TaskMessage, resolved: Resolved): Promise<void> | undefined {
    const early = this.#cancelledEarly.get(msg.id);
    if (early !== undefined) {
      this.#cancelledEarly.delete(msg.id);
      this.#outcome(msg.id, false, abortReason(early), 0);
      return undefined;
    }
    // Report what is finished before a task that may take long or has a time
    // limit: its outcome must not be held back, and the parent must know
    // that this task, not an earlier one, is the one running.
    if (
      this.#results.length > 0 &&
      ((msg.flags & (TASK_TIMED | TASK_ALONE)) !== 0 ||
        resolved.runs === 0 ||
        resolved.avgMs > LONG_TASK_MS)
    ) {
      this.#flush();
    }
    const context = new Context(msg.id);
    this.#current = context;
    setCurrentTask(context);
    const started = performance.now();
    let value: unknown;
    try {
      value =
        (msg.flags & TASK_CHUNK) === 0
          ? resolved.fn(...msg.payload)
          : runChunk(resolved, msg.payload, context);
    } catch (error) {
      const ms = this.#timed(resolved, started);
      this.#finishTask();
      this.#outcome(msg.id, false, withHint(error, resolved), ms);
      return undefined;
    }
    if (!isThenable(value)) {
      const ms = this.#timed(resolved, started);
      this.#finishTask();
      this.#outcome(msg.id, true, value, ms, (msg.flags & TASK_CHUNK) !== 0);
      return undefined;
    }
    // An async task counts as long: a later run may wait on anything.
    resolved.runs++;
    resolved.avgMs = Math.max(resolved.avgMs, LONG_TASK_MS * 2);
    return Promise.resolve(value).then(
      (settled) => {
        this.#finishTask();
        const chunk = (msg.flags & TASK_CHUNK) !== 0;
        this.#outcome(msg.id, true, settled, performance.now() - started, chunk);
      },
      (error: unknown) => {
        this.#finishTask();
        this.#outcome(msg.id, false, withHint(error, resolved), performance.now() - started);
      },
    );
  }

  /** Keeps a moving average of how long a function's synchronous runs take; returns this run's ms. */
  #timed(resolved: Resolved, started: number): number {
    const took = performance.now() - started;
    resolved.avgMs = resolved.runs === 0 ? took : resolved.avgMs * 0.8 + took * 0.2;
    resolved.runs++;
    return took;
  }

  #finishTask(): void {
    setCurrentTask(undefined);
    this.#current = undefined;
  }

  #cancel(id: number, why: 'timeout' | 'cancel'): void {
    if (this.#current?.id === id) {
      this.#current.abort(abortReason(why));
      return;
    }
    if (this.#resolving === id) {
      this.#cancelledEarly.set(id, why);
      return;
    }
    for (let i = this.#queueHead; i < this.#queue.length; i++) {
      const queued = this.#queue[i]!;
      if (queued.k === 'task' && queued.id === id) {
        this.#cancelledEarly.set(id, why);
        return;
      }
    }
  }

  /** Records a task's outcome: its value (`ok`) or what it threw, and its running time. */
  #outcome(id: number, ok: boolean, value: unknown, ms: number, chunk = false): void {
    if (this.#results.length === 0) this.#resultsSince = performance.now();
    this.#results.push(id, ok ? 1 : 0, ok ? value : encodeError(value), ms);
    if (ok ? chunk && chunkCancelAll(value) : isCancelAll(value)) {
      // The parent will cancel every sibling as soon as it hears of this:
      // the tasks waiting here must not start meanwhile, so skip them, and
      // tell the parent at once.
      for (let i = this.#queueHead; i < this.#queue.length; i++) {
        const queued = this.#queue[i]!;
        if (queued.k === 'task') this.#cancelledEarly.set(queued.id, 'cancel');
      }
      this.#flush();
    }
  }

  /**
   * Sends the outcomes collected so far in one message. Also called by the
   * entry files right before the worker exits (`process.exit()` in task
   * code, an uncaught error), so that finished work is not lost.
   */
  flush(): void {
    this.#flush();
  }

  #flush(): void {
    if (this.#results.length === 0) return;
    const done = this.#results;
    this.#results = [];
    try {
      this.#channel.send({ cf: PROTOCOL_TAG, k: 'results', done });
    } catch {
      // Some value cannot be cloned: send them one by one to find it.
      for (let at = 0; at < done.length; at += OUTCOME_FIELDS) {
        this.#sendOne(done.slice(at, at + OUTCOME_FIELDS));
      }
    }
  }

  #sendOne(outcome: unknown[]): void {
    try {
      this.#channel.send({ cf: PROTOCOL_TAG, k: 'results', done: outcome });
    } catch (sendError) {
      // The result could not be cloned: fail this task, keep the worker.
      const what = outcome[1] === 1 ? 'result' : 'error';
      const error = new TypeError(
        `The task's ${what} cannot be sent to the parent: ${messageOf(sendError)}`,
        { cause: sendError },
      );
      this.#channel.send({
        cf: PROTOCOL_TAG,
        k: 'results',
        done: [outcome[0], 0, encodeError(error), outcome[3]],
      });
    }
  }

  /** Finds the function for a reference, compiling or importing it once per worker. */
  #resolve(ref: number | FnRef): Resolved | Promise<Resolved> {
    const cached = this.#fns.get(typeof ref === 'number' ? ref : ref.id);
    if (cached !== undefined) return cached;
    if (typeof ref === 'number') throw new Error(`worker received an unknown function id ${ref}`);
    let resolved: Resolved | Promise<Resolved>;
    if (ref.src !== undefined) {
      resolved = { fn: compileInline(ref.src), inline: true, runs: 0, avgMs: 0 };
    } else if (ref.url !== undefined) {
      const loading = this.#importExport(ref.url, ref.name ?? 'default');
      resolved = loading;
      // Once loaded, later tasks take the synchronous path.
      loading.then(
        (done) => this.#fns.set(ref.id, done),
        // A failed import is not cached: the next task may find the module fixed.
        () => this.#fns.delete(ref.id),
      );
    } else {
      throw new Error(`worker received an unknown function id ${ref.id}`);
    }
    this.#fns.set(ref.id, resolved);
    return resolved;
  }

  async #importExport(url: string, name: string): Promise<Resolved> {
    let loading = this.#modules.get(url);
    if (loading === undefined) {
      loading = import(url).catch((error: unknown) => {
        this.#modules.delete(url);
        throw explainImportError(error, url);
      }) as Promise<Record<string, unknown>>;
      this.#modules.set(url, loading);
    }
    const mod = await loading;
    let fn = mod[name];
    // A CommonJS module's exports may only be reachable through `default`.
    if (typeof fn !== 'function' && name !== 'default') {
      const fallback = (mod.default as Record<string, unknown> | undefined)?.[name];
      if (typeof fallback === 'function') fn = fallback;
    }
    if (typeof fn !== 'function') {
      const available = Object.keys(mod).filter((key) => typeof mod[key] === 'function');
      throw new TypeError(
        `Expected module ${url} to export a function named '${name}', got ${
          fn === undefined ? 'no such export' : typeof fn
        }; its function exports are: ${available.length ? available.join(', ') : '(none)'}`,
      );
    }
    return { fn: fn as TaskFunction, inline: false, runs: 0, avgMs: 0 };
  }
}

/**
 * Makes `process.exit()` in task code send the outcomes waiting in a batch
 * first (they would be lost, and their tasks re-run). Returns the original
 * `process.exit`, for the entry's own use.
 */
export function flushOnExit(runtime: WorkerRuntime): (code?: number) => never {
  const exit = process.exit.bind(process) as (code?: number) => never;
  process.exit = ((code?: number | string | null) => {
    runtime.flush();
    return exit(code as number | undefined);
  }) as typeof process.exit;
  return exit;
}

/**
 * Runs `fn(item)` for each item, synchronously while results are plain
 * values, and stops at the first item that throws or when aborted.
 */
function runChunk(
  resolved: Resolved,
  items: unknown[],
  context: Context,
): EncodedChunkOutcome | Promise<EncodedChunkOutcome> {
  const values: unknown[] = [];
  for (let i = 0; i < items.length; i++) {
    let value: unknown;
    try {
      value = resolved.fn(items[i]);
    } catch (error) {
      return { values, failed: true, error: encodeError(withHint(error, resolved)) };
    }
    if (isThenable(value)) return finishChunkAsync(resolved, items, i, value, values, context);
    values.push(value);
  }
  return { values, failed: false };
}

async function finishChunkAsync(
  resolved: Resolved,
  items: unknown[],
  from: number,
  first: PromiseLike<unknown>,
  values: unknown[],
  context: Context,
): Promise<EncodedChunkOutcome> {
  for (let i = from; i < items.length; i++) {
    if (i > from && context.aborted) {
      return { values, failed: true, error: encodeError(context.signal.reason) };
    }
    try {
      values.push(await (i === from ? first : resolved.fn(items[i])));
    } catch (error) {
      return { values, failed: true, error: encodeError(withHint(error, resolved)) };
    }
  }
  return { values, failed: false };
}

/**
 * Compiles an inline function's source. `currentTask` and `CancelAll` are in
 * scope so inline task code can use them without imports.
 */
function compileInline(src: string): TaskFunction {
  const factory = (body: string) =>
    new Function('currentTask', 'CancelAll', `return (${body}\n);`) as (
      ...names: unknown[]
    ) => unknown;
  let made: unknown;
  try {
    made = factory(src)(currentTaskForInline, CancelAll);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    // Method shorthand (`run(x) { ... }`) is not an expression on its own.
    try {
      const holder = factory(`{ ${src} }`)(currentTaskForInline, CancelAll) as Record<
        string,
        unknown
      >;
      made = Object.values(holder)[0];
    } catch {
      throw new SyntaxError(
        `Could not compile the inline function sent to the worker: ${error.message}. Source: ${src.slice(0, 200)}`,
      );
    }
  }
  if (typeof made !== 'function') {
    throw new TypeError(`The inline source did not evaluate to a function: ${src.slice(0, 200)}`);
  }
  return made as TaskFunction;
}

function currentTaskForInline(): TaskContext {
  const context = (globalThis as Record<symbol, TaskContext | undefined>)[
    Symbol.for('concurrent-futures.currentTask')
  ];
  if (context === undefined) throw new Error('currentTask() called outside a running task');
  return context;
}

function abortReason(why: 'timeout' | 'cancel'): Error {
  return why === 'timeout'
    ? new TaskTimeoutError('The task exceeded its time limit')
    : new CancelledError('The task was cancelled');
}

function withHint(error: unknown, resolved: Resolved | undefined): unknown {
  if (resolved?.inline && error instanceof ReferenceError && !error.message.includes(INLINE_HINT)) {
    const original = error.message;
    error.message = original + INLINE_HINT;
    if (typeof error.stack === 'string') error.stack = error.stack.replace(original, error.message);
  }
  return error;
}

function explainImportError(error: unknown, url: string): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (
    TS_EXTENSION.test(new URL(url).pathname) &&
    (code === 'ERR_UNKNOWN_FILE_EXTENSION' || error instanceof SyntaxError)
  ) {
    return new TypeError(
      `Cannot import the TypeScript module ${url} in the worker: no TypeScript loader is active. ` +
        `Start node with a loader (for example \`node --import tsx main.ts\`; workers inherit the parent's execArgv), ` +
        `or pass execArgv: ['--import', 'tsx'] to the executor`,
      { cause: error },
    );
  }
  return error;
}

/** `true` for a CancelAll, also one from another copy of this package. */
function isCancelAll(error: unknown): boolean {
  return (
    error instanceof CancelAll ||
    (error instanceof Error && (error as { code?: unknown }).code === 'ERR_CANCEL_ALL')
  );
}

/** `true` for a chunk outcome that stopped at a CancelAll (already encoded). */
function chunkCancelAll(value: unknown): boolean {
  const outcome = value as EncodedChunkOutcome | undefined;
  if (outcome?.failed !== true || outcome.error?.e !== 1) return false;
  // The parent rebuilds errors by name, so a name is what makes it a CancelAll.
  return outcome.error.name === 'CancelAll';
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
