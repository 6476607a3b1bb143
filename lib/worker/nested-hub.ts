/**
 * Nested submission, in the worker: the hub behind `currentTask().executor`
 * (docs/nested.md; the parent side is engine/nesting.ts, the messages are in
 * wire/nested-messages.ts). The executor itself, with the Future class, the
 * executor base and map, is in nested-executor.ts, bundled apart
 * (nested-executor.cjs) and loaded the first time task code reads
 * `currentTask().executor`: most workers never submit, and the code they do
 * not run would cost each of them ~2.5 ms to load before its first task.
 *
 * Task code gets Futures made by that bundle's Future class; `await`,
 * `wait` and `asCompleted` work on them whatever copy of the package task
 * code imported, because those only call the Future's methods.
 *
 * Parking: a task that submitted nested tasks and then awaits is "parked":
 * the runtime stops awaiting it and runs the next task of its line, and the
 * parent is told (`park`), so that it counts the task out of the worker's
 * line and sends more work, the children included. Once tasks interleave
 * like this, `currentTask()` must still name the right task after an
 * `await`: from the first nested submit on, this worker keeps the running
 * task in an AsyncLocalStorage (not before: it costs every promise a hook).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { ArgumentTypeError, InvalidStateError, NestingLimitError } from '../errors.js';
import type { Future } from '../future.js';
import { isTaskRef } from '../task.js';
import { decodeChunkOutcome, type EncodedChunkOutcome } from '../wire/chunk-outcome.js';
import { decodeError, type EncodedError } from '../wire/error-codec.js';
import {
  type FnRef,
  NEST_CANCELLED,
  NEST_CHUNK,
  NEST_OK,
  NEST_SETTLED_FIELDS,
  type NestConfig,
  PROTOCOL_TAG,
  type WorkerMessage,
} from '../wire/protocol.js';
import type { Context } from './context.js';
import type { NestedExecutor } from './nested-executor.js';

/**
 * The executor's module, loaded on first use. Next to this file in both
 * layouts: the worker bundles (where the bundler defines `import.meta.url`
 * as the bundle's own path) and the compiled modules of dist/lib/worker.
 */
let executorModule: typeof import('./nested-executor.js') | undefined;
function loadExecutorModule(): typeof import('./nested-executor.js') {
  // node:module is loaded here, not at the worker's start: it brings Node's
  // ES module loader and source maps along (~1-2 ms of every start).
  const { createRequire } = process.getBuiltinModule('node:module') as typeof import('node:module');
  executorModule ??= createRequire(import.meta.url)(
    './nested-executor.cjs',
  ) as typeof import('./nested-executor.js');
  return executorModule;
}

/** What the hub needs from the runtime. */
export interface NestChannel {
  /** Sends a message to the parent (in order with outcomes). */
  send(message: WorkerMessage): void;
  /** Sends the outcomes collected so far. */
  flushOutcomes(): void;
  /** The module export a function object is, if task code got it from a task module. */
  moduleOf(fn: object): { url: string; name: string } | undefined;
}

interface Pending {
  readonly future: Future<unknown>;
  readonly chunk: boolean;
  /** Removes the listener on the submit's own signal, if any. */
  unlisten: (() => void) | undefined;
}

interface Awaited {
  readonly id: number;
  readonly pending: Promise<void>;
  readonly resolve: () => void;
}

const CURRENT = Symbol.for('concurrent-futures.currentTask');

/** The worker's side of nested submission: one per worker. */
export class NestedHub {
  readonly #channel: NestChannel;
  #config: NestConfig = { maxTasks: Number.POSITIVE_INFINITY, maxWorkers: 1 };
  #nextSub = 1;
  readonly #pending = new Map<number, Pending>();
  /** The worker's numbers for the functions task code submitted, by key. */
  readonly #fnNumbers = new Map<string, number>();
  readonly #fnKeys = new WeakMap<object, { key: string; ref: Omit<FnRef, 'id'> }>();
  #submits: unknown[] = [];
  #cancels: number[] = [];
  #flushQueued = false;
  #outcomesQueued = false;
  /** The async task the runtime awaits now: it parks if it submits. */
  #awaited: Awaited | undefined;
  /** The task being invoked submitted: it parks as soon as it returns a promise. */
  parkRequested: Context | undefined;
  /** Tasks parked: running, out of the runtime's line. Their contexts, for `cancel`. */
  readonly parked = new Map<number, Context>();
  #als: AsyncLocalStorage<Context> | undefined;

  constructor(channel: NestChannel) {
    this.#channel = channel;
  }

  configure(config: NestConfig | undefined): void {
    if (config !== undefined) this.#config = config;
  }

  /** `currentTask().executor` of `context`. */
  view(context: Context): NestedExecutor {
    return new (loadExecutorModule().NestedExecutor)(this, context);
  }

  /** A task starts: once tasks can interleave, it is the current one for its async continuations. */
  enter(context: Context): void {
    this.#als?.enterWith(context);
  }

  /**
   * The runtime would await task `id`'s promise: returns what to await
   * instead, which settles when the task ends or parks; undefined when it
   * parks at once (it submitted before returning its promise).
   */
  awaitOrPark(id: number, pending: Promise<void>): Promise<void> | undefined {
    const requested = this.parkRequested;
    this.parkRequested = undefined;
    if (requested?.id === id) {
      this.#park(requested, pending);
      return undefined;
    }
    return new Promise<void>((resolve) => {
      this.#awaited = { id, pending, resolve };
      void pending.then(() => {
        if (this.#awaited?.id === id) this.#awaited = undefined;
        resolve();
      });
    });
  }

  /** Task code submits `fn` over `payload` for the task of `context`. */
  submit<T>(
    future: Future<T>,
    context: Context,
    fn: unknown,
    payload: unknown[],
    chunk: boolean,
    timeout: number | undefined,
    signal: AbortSignal | undefined,
  ): Future<T> {
    const ref = this.#refOf(fn);
    if (context.ended) {
      future.setException(
        new InvalidStateError(
          `currentTask().executor of task ${context.id} was used after that task ended: submit from inside a running task`,
        ),
      );
      return future;
    }
    if (this.#pending.size >= this.#config.maxTasks) {
      // Fails here, synchronously: a loop of submits cannot flood the parent.
      const max = this.#config.maxTasks;
      future.setException(
        new NestingLimitError(
          `Too many nested tasks unfinished at once: maxNestedTasks is ${max}; await some before submitting more`,
          { limit: 'count', max },
        ),
      );
      return future;
    }
    if (signal?.aborted) {
      future._cancel(signal.reason);
      return future;
    }
    this.#enableContexts(context);
    const sub = this.#nextSub++;
    const entry: Pending = { future: future as Future<unknown>, chunk, unlisten: undefined };
    this.#pending.set(sub, entry);
    future._bindCancel({
      cancelRunning: () => false,
      cancelledWhilePending: () => this.#cancelled(sub),
    });
    if (signal !== undefined) {
      const onAbort = (): void => {
        future._cancel(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      entry.unlisten = () => signal.removeEventListener('abort', onAbort);
    }
    this.#submits.push(context.id, sub, ref, payload, chunk ? NEST_CHUNK : 0, timeout ?? -1);
    this.#queueFlush();
    this.#requestPark(context);
    return future;
  }

  /** An `nsettled` message: nested tasks of this worker's tasks settled. */
  settle(done: unknown[]): void {
    for (let at = 0; at < done.length; at += NEST_SETTLED_FIELDS) {
      const sub = done[at] as number;
      const entry = this.#pending.get(sub);
      if (entry === undefined) continue;
      this.#pending.delete(sub);
      entry.unlisten?.();
      const { future } = entry;
      future._bindCancel(undefined);
      if (future.done()) continue;
      const state = done[at + 1] as number;
      const value = done[at + 2];
      if (state === NEST_OK) {
        future.setResult(entry.chunk ? decodeChunkOutcome(value as EncodedChunkOutcome) : value);
      } else if (state === NEST_CANCELLED) {
        future._cancel(value === undefined ? undefined : decodeError(value as EncodedError));
      } else {
        future.setException(decodeError(value as EncodedError));
      }
    }
  }

  /** Checks a function for submit; throws ArgumentTypeError at once for anything else. */
  check(fn: unknown): void {
    this.#known(fn);
  }

  get maxWorkers(): number {
    return this.#config.maxWorkers;
  }

  /** The function as the parent will know it: its number, with its source or module the first time. */
  #refOf(fn: unknown): number | FnRef {
    const known = this.#known(fn);
    const number = this.#fnNumbers.get(known.key);
    if (number !== undefined) return number;
    const id = this.#fnNumbers.size + 1;
    this.#fnNumbers.set(known.key, id);
    return { id, ...known.ref };
  }

  /** What identifies `fn`: its module export or its source. Throws for anything but a function or task(). */
  #known(fn: unknown): { key: string; ref: Omit<FnRef, 'id'> } {
    let known: { key: string; ref: Omit<FnRef, 'id'> } | undefined;
    if (typeof fn === 'function') {
      known = this.#fnKeys.get(fn);
      if (known === undefined) {
        const module = this.#channel.moduleOf(fn);
        if (module !== undefined) {
          known = {
            key: `mod:${module.url}#${module.name}`,
            ref: { url: module.url, name: module.name },
          };
        } else {
          const src = Function.prototype.toString.call(fn);
          known = { key: `src:${src}`, ref: { src } };
        }
        this.#fnKeys.set(fn, known);
      }
    } else if (isTaskRef(fn)) {
      known = {
        key: `mod:${fn.url}#${fn.exportName}`,
        ref: { url: fn.url, name: fn.exportName },
      };
    } else {
      throw new ArgumentTypeError(
        `Expected \`fn\` to be a function or a task() reference, got ${fn === null ? 'null' : typeof fn}`,
      );
    }
    return known;
  }

  #cancelled(sub: number): void {
    const entry = this.#pending.get(sub);
    if (entry === undefined) return;
    this.#pending.delete(sub);
    entry.unlisten?.();
    this.#cancels.push(sub);
    this.#queueFlush();
  }

  #queueFlush(): void {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    // Submits of one tick travel in one message.
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    this.#flushQueued = false;
    if (this.#submits.length > 0) {
      const subs = this.#submits;
      this.#submits = [];
      this.#channel.send({ cf: PROTOCOL_TAG, k: 'nsubmit', subs });
    }
    if (this.#cancels.length > 0) {
      const subs = this.#cancels;
      this.#cancels = [];
      this.#channel.send({ cf: PROTOCOL_TAG, k: 'ncancel', subs });
    }
  }

  #requestPark(context: Context): void {
    const id = context.id;
    if (this.parked.has(id)) return;
    const awaited = this.#awaited;
    if (awaited?.id === id) {
      this.#awaited = undefined;
      this.#park(context, awaited.pending);
      awaited.resolve();
      return;
    }
    // Still in its synchronous part: it parks once it returns its promise.
    this.parkRequested = context;
  }

  #park(context: Context, pending: Promise<void>): void {
    const id = context.id;
    this.parked.set(id, context);
    // The parent must know of the children, and of every outcome before
    // this task, before it reads that the task stepped out of the line.
    this.#flush();
    this.#channel.flushOutcomes();
    this.#channel.send({ cf: PROTOCOL_TAG, k: 'park', id });
    void pending.then(() => {
      this.parked.delete(id);
      this.#queueOutcomes();
    });
  }

  /** A parked task ended: its outcome goes out soon, with others that end in the same turn. */
  #queueOutcomes(): void {
    if (this.#outcomesQueued) return;
    this.#outcomesQueued = true;
    setImmediate(() => {
      this.#outcomesQueued = false;
      this.#channel.flushOutcomes();
    });
  }

  /**
   * From the first nested submit on, `currentTask()` reads the task from an
   * AsyncLocalStorage (tasks may now interleave), with the runtime's
   * current task as the fallback. The global stays the one place any copy
   * of the package looks.
   */
  #enableContexts(context: Context): void {
    if (this.#als !== undefined) return;
    const als = new AsyncLocalStorage<Context>();
    const global = globalThis as Record<symbol, unknown>;
    let plain = global[CURRENT];
    Object.defineProperty(globalThis, CURRENT, {
      configurable: true,
      get: () => als.getStore() ?? plain,
      set: (value: unknown) => {
        plain = value;
      },
    });
    als.enterWith(context);
    this.#als = als;
  }
}
