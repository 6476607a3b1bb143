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
  type ChunkMessage,
  type DoneMessage,
  type EncodedChunkOutcome,
  type FnRef,
  type InitMessage,
  isPoolMessage,
  type ParentMessage,
  PROTOCOL_TAG,
  type RunMessage,
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
}

const INLINE_HINT =
  ' (inline functions are sent to the worker as source text and cannot use variables from the scope they were written in: pass values as arguments, or put the function in a module and submit task(moduleUrl, exportName))';

const TS_EXTENSION = /\.(?:[cm]?ts|tsx)$/i;

export class WorkerRuntime {
  readonly #channel: WorkerChannel;
  readonly #fns = new Map<number, Resolved | Promise<Resolved>>();
  readonly #modules = new Map<string, Promise<Record<string, unknown>>>();
  readonly #queue: ParentMessage[] = [];
  /** Ids cancelled before they started: skipped when their turn comes. */
  readonly #cancelledEarly = new Map<number, 'timeout' | 'cancel'>();
  #draining = false;
  #current: { id: number; controller: AbortController } | undefined;

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
        this.#channel.exit(0);
        return;
      default:
        this.#queue.push(msg);
        if (!this.#draining) void this.#drain();
    }
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      for (let msg = this.#queue.shift(); msg !== undefined; msg = this.#queue.shift()) {
        if (msg.k === 'init') await this.#init(msg);
        else if (msg.k === 'run' || msg.k === 'chunk') await this.#runTask(msg);
      }
    } finally {
      this.#draining = false;
    }
  }

  async #init(msg: InitMessage): Promise<void> {
    try {
      if (msg.initializer !== undefined) {
        const { fn } = await this.#resolve(msg.initializer);
        const result = fn(...(msg.initargs ?? []));
        if (isThenable(result)) await result;
      }
    } catch (error) {
      this.#send({ cf: PROTOCOL_TAG, k: 'initFailed', error: encodeError(error) });
      return;
    }
    this.#send({ cf: PROTOCOL_TAG, k: 'ready', pid: this.#channel.pid });
  }

  async #runTask(msg: RunMessage | ChunkMessage): Promise<void> {
    const early = this.#cancelledEarly.get(msg.id);
    if (early !== undefined) {
      this.#cancelledEarly.delete(msg.id);
      this.#reply(msg.id, false, undefined, abortReason(early));
      return;
    }
    const controller = new AbortController();
    this.#current = { id: msg.id, controller };
    const context: TaskContext = { id: msg.id, signal: controller.signal };
    let resolved: Resolved | undefined;
    try {
      resolved = await this.#resolve(msg.fn);
      setCurrentTask(context);
      if (msg.k === 'run') {
        let value = resolved.fn(...msg.args);
        if (isThenable(value)) value = await value;
        this.#reply(msg.id, true, value, undefined);
      } else {
        const outcome = await runChunk(resolved, msg.items, controller.signal);
        this.#replyChunk(msg.id, outcome);
      }
    } catch (error) {
      this.#reply(msg.id, false, undefined, withHint(error, resolved));
    } finally {
      setCurrentTask(undefined);
      this.#current = undefined;
    }
  }

  #cancel(id: number, why: 'timeout' | 'cancel'): void {
    if (this.#current?.id === id) {
      this.#current.controller.abort(abortReason(why));
    } else if (this.#queue.some((m) => (m.k === 'run' || m.k === 'chunk') && m.id === id)) {
      this.#cancelledEarly.set(id, why);
    }
  }

  #reply(id: number, ok: boolean, value: unknown, error: unknown): void {
    const message: DoneMessage = ok
      ? { cf: PROTOCOL_TAG, k: 'done', id, ok: true, value }
      : { cf: PROTOCOL_TAG, k: 'done', id, ok: false, error: encodeError(error) };
    try {
      this.#channel.send(message);
    } catch (sendError) {
      // The result could not be cloned: fail this task, keep the worker.
      this.#send({
        cf: PROTOCOL_TAG,
        k: 'done',
        id,
        ok: false,
        error: encodeError(
          new TypeError(
            `The task's ${ok ? 'result' : 'error'} cannot be sent to the parent: ${messageOf(sendError)}`,
            { cause: sendError },
          ),
        ),
      });
    }
  }

  #replyChunk(id: number, outcome: EncodedChunkOutcome): void {
    this.#reply(id, true, outcome, undefined);
  }

  #send(message: WorkerMessage): void {
    this.#channel.send(message);
  }

  /** Finds the function for a reference, compiling or importing it once per worker. */
  #resolve(ref: FnRef): Resolved | Promise<Resolved> {
    const cached = this.#fns.get(ref.id);
    if (cached !== undefined) return cached;
    let resolved: Resolved | Promise<Resolved>;
    if (ref.src !== undefined) {
      resolved = { fn: compileInline(ref.src), inline: true };
    } else if (ref.url !== undefined) {
      resolved = this.#importExport(ref.url, ref.name ?? 'default');
      // A failed import is not cached: the next task may find the module fixed.
      resolved.catch(() => this.#fns.delete(ref.id));
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
    return { fn: fn as TaskFunction, inline: false };
  }
}

async function runChunk(
  resolved: Resolved,
  items: unknown[],
  signal: AbortSignal,
): Promise<EncodedChunkOutcome> {
  const values: unknown[] = [];
  for (const item of items) {
    if (signal.aborted) {
      return { values, failed: true, error: encodeError(signal.reason) };
    }
    try {
      let value = resolved.fn(item);
      if (isThenable(value)) value = await value;
      values.push(value);
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
