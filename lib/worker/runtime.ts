/**
 * What runs inside a worker, whatever the transport: running tasks one at a
 * time in arrival order, aborting them on request, and reporting outcomes,
 * progress and resource usage. Function resolution lives in functions.ts,
 * the task context in context.ts; the entry files (process-entry.ts,
 * thread-entry.ts) only connect this to their channel.
 */
import type { TransferListItem } from 'node:worker_threads';
import { setCurrentTask } from '../current-task.js';
import { describeError } from '../describe.js';
import { encodeError, isEncodedCancelAll } from '../engine/error-codec.js';
import { marker } from '../engine/output.js';
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
  USAGE_INTERVAL_MS,
  type Usage,
  type WorkerMessage,
} from '../engine/protocol.js';
import { CancelledError, TaskTimeoutError } from '../errors.js';
import { unwrapTransfer } from '../transfer.js';
import { Context } from './context.js';
import { FunctionCache, type Resolved, withHint } from './functions.js';
import { OutputGuard } from './output-guard.js';
import {
  copyLikeThreads,
  type Sendable,
  type SendableTransfer,
  sendable,
  sendableTransfer,
} from './sendable.js';

/** How the runtime talks to its parent. */
export interface WorkerChannel {
  /**
   * Sends a message; throws if the payload cannot be cloned. A channel whose
   * writes need this worker's event loop to complete (a child process's
   * IPC pipe) returns a promise that settles once the message is written.
   */
  send(message: WorkerMessage, transfer?: TransferListItem[]): Promise<void> | undefined;
  /** Ends the worker. */
  exit(code: number): void;
  /** The process id (or thread id) reported in `ready`. */
  readonly pid: number;
  /** `true` in a worker thread: rss and CPU time would be the whole process's. */
  readonly thread: boolean;
  /**
   * Starts sending what is written to `process.stdout`/`process.stderr` to
   * the parent (`stdio: 'capture'` or `'pipe'`), for channels whose output
   * does not already reach the parent on its own pipes (worker threads).
   */
  captureOutput?(): void;
  /**
   * Delivers a task marker for both output streams by another way than the
   * streams themselves, in order with the output (a worker thread's port).
   * Without it, markers are written into the streams.
   */
  mark?(text: string): void;
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
  readonly #fns = new FunctionCache();
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
  /** What the outcomes in #results move instead of copying (`transfer()` results). */
  #resultsTransfer: TransferListItem[] | undefined;
  /** The last message still being written (see `#drain`). */
  #writing: Promise<void> | undefined;
  #usageAt = 0;
  /** `stdio: 'capture'` or `'pipe'`: the nonce of the task markers. */
  #markers: string | undefined;
  /** The worker's stdout and stderr, watched (see output-guard.ts). */
  #guard: OutputGuard | undefined;
  /**
   * Why the output streams became unusable (task code ended, destroyed or
   * broke them): the worker runs no more tasks and asks to be replaced.
   */
  #outputBroken: string | undefined;
  #outputBrokenReported = false;
  readonly #sendProgress = (id: number, value: unknown): void => {
    const safe = sendable(value, 'progress value');
    if (!safe.ok) throw safe.error.cause;
    this.#track(this.#channel.send({ cf: PROTOCOL_TAG, k: 'progress', id, value: safe.value }));
  };

  constructor(channel: WorkerChannel) {
    this.#channel = channel;
    if (channel.thread) copyLikeThreads();
  }

  /** Entry point for every message from the parent. */
  receive(message: unknown): void {
    if (!isPoolMessage(message)) return;
    const msg = message as ParentMessage;
    switch (msg.k) {
      case 'cancel':
        this.#cancel(msg.id, msg.why);
        return;
      case 'release':
        this.#release(msg.ids);
        return;
      case 'exit':
        this.#flush();
        this.#channel.exit(0);
        return;
      case 'init':
        this.#markers = msg.markers;
        if (msg.markers !== undefined) this.#channel.captureOutput?.();
        // Before any task code runs, so that it sees the streams' own methods.
        this.#guard ??= new OutputGuard(
          msg.markers === undefined ? undefined : this.#channel.mark?.bind(this.#channel),
        );
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
   * yielding to the event loop, except to let a message finish writing.
   *
   * Why that exception: a child process's IPC writes complete on its own
   * event loop. A large result that does not fit the pipe at once is
   * written in the background, and a next task that blocks the loop
   * (`while (true) {}`) would hold it back forever: the parent would never
   * see the result, nor learn that the blocking task started (its time
   * limit would never run). So before each task the worker waits for the
   * last message to be written: one tick when it already was.
   */
  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      for (;;) {
        if (this.#markers !== undefined && this.#queueHead < this.#queue.length) {
          // What the last task wrote leaves the process before the next task
          // starts: that one may block the event loop that writes it, and
          // the parent would wait for its end marker meanwhile.
          const flushing = this.#guard?.flushed();
          if (flushing !== undefined) this.#outputBroken ??= await flushing;
        }
        if (this.#outputBroken !== undefined) {
          this.#reportOutputBroken();
          break;
        }
        const msg = this.#next();
        if (msg === undefined) break;
        if (msg.k === 'init') {
          await this.#init(msg);
          continue;
        }
        if (this.#initFailed) continue;
        // Report what is finished before a task that may take long or has a
        // time limit: its outcome must not be held back, and the parent must
        // know that this task, not an earlier one, is the one running.
        if (this.#results.length > 0 && this.#mayTakeLong(msg)) this.#flush();
        if (this.#writing !== undefined) await this.#writing;
        const started = performance.now();
        const pending = this.#runTask(msg);
        if (pending !== undefined) {
          this.#flush();
          await pending;
        } else if (
          performance.now() - started > LONG_TASK_MS &&
          this.#queueHead < this.#queue.length
        ) {
          // A synchronous task ran long: the parent may have cancelled (or
          // asked back) tasks behind it meanwhile, and its messages wait
          // unread until this worker polls its channel again. Two immediates:
          // the first may run in the check phase of the very iteration that
          // delivered this batch; the second runs after the next poll, so a
          // task whose future says cancelled never starts.
          this.#flush();
          await new Promise((resolve) => setImmediate(resolve));
          await new Promise((resolve) => setImmediate(resolve));
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

  #mayTakeLong(msg: TaskMessage): boolean {
    if ((msg.flags & (TASK_TIMED | TASK_ALONE)) !== 0) return true;
    const known = this.#fns.get(msg.fn);
    return (
      known === undefined || isThenable(known) || known.runs === 0 || known.avgMs > LONG_TASK_MS
    );
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
        const { fn } = await this.#fns.resolve(msg.initializer);
        const result = fn(...(msg.initargs ?? []));
        if (isThenable(result)) await result;
      }
      const broken = this.#guard?.check();
      if (broken !== undefined) {
        throw new Error(`The initializer left the worker's output unusable: ${broken}`);
      }
    } catch (error) {
      // Tasks may already wait behind the init message: none of them may run
      // on a worker whose initializer failed. The parent kills this worker.
      this.#initFailed = true;
      this.#track(
        this.#channel.send({ cf: PROTOCOL_TAG, k: 'initFailed', error: encodeError(error) }),
      );
      return;
    }
    this.#track(
      this.#channel.send({
        cf: PROTOCOL_TAG,
        k: 'ready',
        pid: this.#channel.pid,
        u: this.#usage(),
      }),
    );
  }

  /** Runs one task; returns a promise only when it did not finish synchronously. */
  #runTask(msg: TaskMessage): Promise<void> | undefined {
    const resolved = this.#fns.get(msg.fn);
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
      resolved = await this.#fns.resolve(msg.fn);
    } catch (error) {
      this.#outcome(msg.id, false, error, -1);
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
      this.#outcome(msg.id, false, abortReason(early), -1);
      return undefined;
    }
    const chunk = (msg.flags & TASK_CHUNK) !== 0;
    const context = new Context(msg.id, this.#sendProgress);
    this.#start(context);
    const started = performance.now();
    let value: unknown;
    let thenable: boolean;
    try {
      value = chunk ? runChunk(resolved, msg.payload, context) : resolved.fn(...msg.payload);
      // Reading `then` runs task code too (a getter may throw): a throw here
      // is the task's failure, as `await value` would make it.
      thenable = isThenable(value);
    } catch (error) {
      const ms = timed(resolved, started);
      this.#finish(context);
      this.#outcome(msg.id, false, withHint(error, resolved), ms);
      return undefined;
    }
    if (!thenable) {
      const ms = timed(resolved, started);
      this.#finish(context);
      this.#outcome(msg.id, true, value, ms, chunk);
      return undefined;
    }
    // An async task counts as long: a later run may wait on anything.
    resolved.runs++;
    resolved.avgMs = Math.max(resolved.avgMs, LONG_TASK_MS * 2);
    // Not Promise.resolve(value): for a promise it reads `constructor`, which
    // may throw synchronously; a resolve function turns any throw of `then`
    // into a rejection.
    return new Promise<unknown>((resolve) => resolve(value)).then(
      (settled) => {
        this.#finish(context);
        this.#outcome(msg.id, true, settled, performance.now() - started, chunk);
      },
      (error: unknown) => {
        this.#finish(context);
        this.#outcome(msg.id, false, withHint(error, resolved), performance.now() - started);
      },
    );
  }

  #start(context: Context): void {
    this.#current = context;
    setCurrentTask(context);
    if (this.#markers !== undefined) this.#guard?.mark(marker(this.#markers, 's', context.id));
  }

  #finish(context: Context): void {
    setCurrentTask(undefined);
    this.#current = undefined;
    context.flushProgress();
    if (this.#markers !== undefined) this.#guard?.mark(marker(this.#markers, 'e', context.id));
    // The task may have ended or destroyed the streams: then no later task
    // may run here (its first console.log would kill the worker, and the
    // crash would be blamed on it). This task keeps its outcome.
    this.#outputBroken ??= this.#guard?.check();
  }

  /** Sends what is finished, then asks the parent to replace this worker (once). */
  #reportOutputBroken(): void {
    if (this.#outputBrokenReported || this.#outputBroken === undefined) return;
    this.#outputBrokenReported = true;
    this.#flush();
    this.#track(
      this.#channel.send({ cf: PROTOCOL_TAG, k: 'outputBroken', why: this.#outputBroken }),
    );
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

  /** Drops the given tasks that have not started, and tells the parent which. */
  #release(ids: number[]): void {
    const wanted = new Set(ids);
    const released: number[] = [];
    const kept: Array<TaskMessage | InitMessage> = [];
    for (let i = this.#queueHead; i < this.#queue.length; i++) {
      const queued = this.#queue[i]!;
      if (queued.k === 'task' && wanted.has(queued.id) && !this.#cancelledEarly.has(queued.id)) {
        released.push(queued.id);
      } else {
        kept.push(queued);
      }
    }
    this.#queue = kept;
    this.#queueHead = 0;
    this.#track(this.#channel.send({ cf: PROTOCOL_TAG, k: 'released', ids: released }));
  }

  /**
   * Records a task's outcome: its value (`ok`) or what it threw, and its
   * running time (-1: it never ran).
   */
  #outcome(id: number, ok: boolean, value: unknown, ms: number, chunk = false): void {
    if (this.#results.length === 0) this.#resultsSince = performance.now();
    if (ok && !chunk) {
      // A chunk's values were made sendable one by one, as they came.
      const moved = unwrapTransfer(value);
      const safe: Sendable | SendableTransfer =
        moved === undefined ? sendable(value) : sendableTransfer(moved.value, moved.list);
      if (!safe.ok) {
        ok = false;
        value = safe.error;
      } else {
        value = safe.value;
        const list = (safe as { list?: TransferListItem[] }).list;
        if (list !== undefined && list.length > 0) {
          this.#resultsTransfer ??= [];
          this.#resultsTransfer.push(...list);
        }
      }
    }
    const encoded = ok ? undefined : encodeError(value);
    this.#results.push(id, ok ? 1 : 0, ok ? value : encoded, ms);
    // Decided on the encoded error, the way the parent will decide it.
    const cancelAll = ok
      ? chunk && isEncodedCancelAll((value as EncodedChunkOutcome).error)
      : isEncodedCancelAll(encoded);
    if (cancelAll) {
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
    const transfer = this.#resultsTransfer;
    this.#results = [];
    this.#resultsTransfer = undefined;
    const now = performance.now();
    const message: WorkerMessage = { cf: PROTOCOL_TAG, k: 'results', done };
    if (now - this.#usageAt >= USAGE_INTERVAL_MS) message.u = this.#usage();
    try {
      this.#track(this.#channel.send(message, transfer));
    } catch {
      // Some value cannot be cloned: send them one by one to find it.
      for (let at = 0; at < done.length; at += OUTCOME_FIELDS) {
        this.#sendOne(done.slice(at, at + OUTCOME_FIELDS));
      }
    }
  }

  #sendOne(outcome: unknown[]): void {
    try {
      this.#track(this.#channel.send({ cf: PROTOCOL_TAG, k: 'results', done: outcome }));
    } catch (sendError) {
      // The result could not be cloned: fail this task, keep the worker.
      const what = outcome[1] === 1 ? 'result' : 'error';
      const error = new TypeError(
        `The task's ${what} cannot be sent to the parent: ${describeError(sendError)}`,
        { cause: sendError },
      );
      try {
        this.#track(
          this.#channel.send({
            cf: PROTOCOL_TAG,
            k: 'results',
            done: [outcome[0], 0, encodeError(error), outcome[3]],
          }),
        );
      } catch {
        // The encoded error is plain data; only a closed channel can refuse
        // it, and then the parent learns of this worker's end by its exit.
      }
    }
  }

  /** Remembers the last message still being written; `#drain` waits for it. */
  #track(writing: Promise<void> | undefined): void {
    if (writing === undefined) return;
    this.#writing = writing;
    void writing.then(() => {
      if (this.#writing === writing) this.#writing = undefined;
    });
  }

  #usage(): Usage {
    this.#usageAt = performance.now();
    if (this.#channel.thread) return [-1, process.memoryUsage().heapUsed, -1];
    const cpu = process.cpuUsage();
    return [
      process.memoryUsage.rss(),
      process.memoryUsage().heapUsed,
      (cpu.user + cpu.system) / 1000,
    ];
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

/** Keeps a moving average of how long a function's synchronous runs take; returns this run's ms. */
function timed(resolved: Resolved, started: number): number {
  const took = performance.now() - started;
  resolved.avgMs = resolved.runs === 0 ? took : resolved.avgMs * 0.8 + took * 0.2;
  resolved.runs++;
  return took;
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
    let thenable: boolean;
    try {
      value = resolved.fn(items[i]);
      thenable = isThenable(value);
    } catch (error) {
      return { values, failed: true, error: encodeError(withHint(error, resolved)) };
    }
    if (thenable) {
      return finishChunkAsync(resolved, items, i, value as PromiseLike<unknown>, values, context);
    }
    const safe = sendable(value);
    if (!safe.ok) return { values, failed: true, error: encodeError(safe.error) };
    values.push(safe.value);
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
    let value: unknown;
    try {
      value = await (i === from ? first : resolved.fn(items[i]));
    } catch (error) {
      return { values, failed: true, error: encodeError(withHint(error, resolved)) };
    }
    const safe = sendable(value);
    if (!safe.ok) return { values, failed: true, error: encodeError(safe.error) };
    values.push(safe.value);
  }
  return { values, failed: false };
}

function abortReason(why: 'timeout' | 'cancel'): Error {
  return why === 'timeout'
    ? new TaskTimeoutError('The task exceeded its time limit')
    : new CancelledError('The task was cancelled');
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
