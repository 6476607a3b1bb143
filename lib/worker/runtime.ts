/**
 * What runs inside a worker, whatever the transport: the line of tasks the
 * parent sent, run one at a time in arrival order, cancelled or given back
 * on request. Calling a task is in invoke.ts, sending outcomes in
 * outbox.ts, function resolution in functions.ts, the task context in
 * context.ts; the entry files (process-entry.ts, thread-entry.ts) only
 * connect this to their channel. Messages are those of wire/protocol.ts.
 */
import { setCurrentTask } from '../current-task.js';
import { isThenable } from '../describe.js';
import { encodeError } from '../wire/error-codec.js';
import { marker } from '../wire/markers.js';
import {
  type InitMessage,
  isPoolMessage,
  LONG_TASK_MS,
  type ParentMessage,
  PROTOCOL_TAG,
  TASK_EXPLORE,
  TASK_FIELDS,
  TASK_REPORT_ALONE,
  TASK_TIMED,
} from '../wire/protocol.js';
import { type Context, setExecutorFactory } from './context.js';
import { Explorers } from './explorers.js';
import { FunctionCache } from './functions.js';
import { abortReason, type InvokeHooks, invoke, mayTakeLong, type TaskMessage } from './invoke.js';
import { NestedHub } from './nested-hub.js';
import { Outbox, type WorkerChannel } from './outbox.js';
import { OutputGuard } from './output-guard.js';
import { copyLikeThreads, sendable } from './sendable.js';

export class WorkerRuntime {
  readonly #channel: WorkerChannel;
  readonly #outbox: Outbox;
  readonly #fns = new FunctionCache();
  readonly #explorers: Explorers;
  /** Nested submission: `currentTask().executor`, parking (nested-hub.ts). */
  readonly #nested: NestedHub;
  /** The line: messages not yet run, from `#lineHead` on. */
  #line: Array<TaskMessage | InitMessage> = [];
  #lineHead = 0;
  /** Ids cancelled before they started: skipped when their turn comes. */
  readonly #cancelledEarly = new Map<number, 'timeout' | 'cancel'>();
  #draining = false;
  #current: Context | undefined;
  #initFailed = false;
  /** The task whose function is being compiled or imported. */
  #resolving: number | undefined;
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
  readonly #hooks: InvokeHooks = {
    sendProgress: (id, value) => {
      const safe = sendable(value, 'progress value');
      if (!safe.ok) throw safe.error.cause;
      this.#outbox.send({ cf: PROTOCOL_TAG, k: 'progress', id, value: safe.value });
    },
    start: (context) => this.#start(context),
    finish: (context) => this.#finish(context),
    outcome: (id, ok, value, ms, chunk) => this.#outcome(id, ok, value, ms, chunk),
    resolving: (id) => {
      this.#resolving = id;
    },
    takeEarlyCancel: (id) => {
      const why = this.#cancelledEarly.get(id);
      if (why !== undefined) this.#cancelledEarly.delete(id);
      return why;
    },
    explore: (resolved, payload, context) => this.#explorers.run(resolved, payload, context),
  };

  constructor(channel: WorkerChannel) {
    this.#channel = channel;
    this.#outbox = new Outbox(channel);
    this.#explorers = new Explorers(this.#fns, (message) => this.#outbox.send(message));
    if (channel.thread) copyLikeThreads();
    this.#nested = new NestedHub({
      send: (message) => this.#outbox.send(message),
      flushOutcomes: () => this.#outbox.flush(),
      moduleOf: (fn) => this.#fns.moduleOf(fn),
    });
    const nested = this.#nested;
    setExecutorFactory((context) => nested.view(context));
  }

  /** Entry point for every message from the parent. */
  receive(message: unknown): void {
    if (!isPoolMessage(message)) return;
    const msg = message as ParentMessage;
    switch (msg.k) {
      case 'cancel':
        this.#cancel(msg.id, msg.why);
        return;
      case 'steal':
        this.#giveBack(msg.ids);
        return;
      case 'mrWork':
      case 'mrSteal':
      case 'mrFinish':
        this.#explorers.receive(msg);
        return;
      case 'nsettled':
        this.#nested.settle(msg.done);
        return;
      case 'exit':
        this.#outbox.flush();
        this.#channel.exit(0);
        return;
      case 'init':
        this.#markers = msg.markers;
        this.#nested.configure(msg.nest);
        if (msg.markers !== undefined) this.#channel.captureOutput?.();
        // Before any task code runs, so that it sees the streams' own methods.
        this.#guard ??= new OutputGuard(
          msg.markers === undefined ? undefined : this.#channel.mark?.bind(this.#channel),
          msg.markers === undefined,
        );
        this.#line.push(msg);
        break;
      case 'batch': {
        const fields = msg.tasks;
        for (let i = 0; i < fields.length; i += TASK_FIELDS) {
          this.#line.push({
            k: 'task',
            id: fields[i] as number,
            fn: fields[i + 1] as TaskMessage['fn'],
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
   * Sends the outcomes collected so far. Also called by the entry files
   * right before the worker exits (`process.exit()` in task code, an
   * uncaught error), so that finished work is not lost.
   */
  flush(): void {
    this.#outbox.flush();
  }

  /**
   * Runs the line in order. Synchronous tasks run back to back without
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
    const outbox = this.#outbox;
    try {
      for (;;) {
        if (this.#markers !== undefined && this.#lineHead < this.#line.length) {
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
        if (outbox.pending && this.#mayTakeLong(msg)) outbox.flush();
        if (outbox.writing !== undefined) await outbox.writing;
        const started = performance.now();
        const pending = invoke(this.#fns, msg, this.#hooks);
        if (pending !== undefined) {
          outbox.flush();
          // A task that awaits nested tasks parks: the line goes on without it.
          const awaited = this.#nested.awaitOrPark(msg.id, pending);
          if (awaited !== undefined) await awaited;
        } else {
          // A synchronous task that submitted nested tasks returned: nothing parks.
          this.#nested.parkRequested = undefined;
          if (performance.now() - started > LONG_TASK_MS && this.#lineHead < this.#line.length) {
            // A synchronous task ran long: the parent may have cancelled (or
            // asked back) tasks behind it meanwhile, and its messages wait
            // unread until this worker polls its channel again. Two immediates:
            // the first may run in the check phase of the very iteration that
            // delivered this batch; the second runs after the next poll, so a
            // task whose future says cancelled never starts.
            outbox.flush();
            await new Promise((resolve) => setImmediate(resolve));
            await new Promise((resolve) => setImmediate(resolve));
          }
        }
        if ((msg.flags & TASK_REPORT_ALONE) !== 0 || outbox.due) outbox.flush();
      }
    } finally {
      this.#draining = false;
      outbox.flush();
    }
  }

  #mayTakeLong(msg: TaskMessage): boolean {
    return (
      (msg.flags & (TASK_TIMED | TASK_REPORT_ALONE | TASK_EXPLORE)) !== 0 ||
      mayTakeLong(this.#fns, msg.fn)
    );
  }

  #next(): TaskMessage | InitMessage | undefined {
    if (this.#lineHead >= this.#line.length) {
      if (this.#lineHead > 0) {
        this.#line = [];
        this.#lineHead = 0;
      }
      return undefined;
    }
    return this.#line[this.#lineHead++];
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
      this.#outbox.send({ cf: PROTOCOL_TAG, k: 'initFailed', error: encodeError(error) });
      return;
    }
    this.#outbox.send({ cf: PROTOCOL_TAG, k: 'ready', u: this.#outbox.usage() });
    // While the parent's first batch is on its way, load what every task
    // needs and nothing before 'ready' did: Node loads the clock behind
    // performance.now() on its first call (~1 ms).
    this.#outbox.startClock();
  }

  #start(context: Context): void {
    this.#current = context;
    setCurrentTask(context);
    this.#nested.enter(context);
    if (this.#markers !== undefined) this.#guard?.mark(marker(this.#markers, 's', context.id));
  }

  #finish(context: Context): void {
    context.ended = true;
    // A parked task may end while another one is current.
    if (this.#current === context) {
      setCurrentTask(undefined);
      this.#current = undefined;
    }
    context.flushProgress();
    if (this.#markers !== undefined) this.#guard?.mark(marker(this.#markers, 'e', context.id));
    // The task may have ended or destroyed the streams: then no later task
    // may run here (its first console.log would kill the worker, and the
    // crash would be blamed on it). This task keeps its outcome.
    this.#outputBroken ??= this.#guard?.check();
  }

  #outcome(id: number, ok: boolean, value: unknown, ms: number, chunk = false): void {
    if (!this.#outbox.outcome(id, ok, value, ms, chunk)) return;
    // A CancelAll: the parent will cancel every sibling as soon as it hears
    // of it. The tasks waiting here must not start meanwhile, so skip them,
    // and tell the parent at once.
    for (let i = this.#lineHead; i < this.#line.length; i++) {
      const queued = this.#line[i]!;
      if (queued.k === 'task') this.#cancelledEarly.set(queued.id, 'cancel');
    }
    this.#outbox.flush();
  }

  /** Sends what is finished, then asks the parent to replace this worker (once). */
  #reportOutputBroken(): void {
    if (this.#outputBrokenReported || this.#outputBroken === undefined) return;
    this.#outputBrokenReported = true;
    this.#outbox.flush();
    this.#outbox.send({ cf: PROTOCOL_TAG, k: 'outputBroken', why: this.#outputBroken });
  }

  #cancel(id: number, why: 'timeout' | 'cancel'): void {
    if (this.#current?.id === id) {
      this.#current.abort(abortReason(why));
      return;
    }
    const parked = this.#nested.parked.get(id);
    if (parked !== undefined) {
      parked.abort(abortReason(why));
      return;
    }
    if (this.#resolving === id) {
      this.#cancelledEarly.set(id, why);
      return;
    }
    for (let i = this.#lineHead; i < this.#line.length; i++) {
      const queued = this.#line[i]!;
      if (queued.k === 'task' && queued.id === id) {
        this.#cancelledEarly.set(id, why);
        return;
      }
    }
  }

  /** Work stealing: drops the given tasks that have not started, and tells the parent which. */
  #giveBack(ids: number[]): void {
    const wanted = new Set(ids);
    const stolen: number[] = [];
    const kept: Array<TaskMessage | InitMessage> = [];
    for (let i = this.#lineHead; i < this.#line.length; i++) {
      const queued = this.#line[i]!;
      if (queued.k === 'task' && wanted.has(queued.id) && !this.#cancelledEarly.has(queued.id)) {
        stolen.push(queued.id);
      } else {
        kept.push(queued);
      }
    }
    this.#line = kept;
    this.#lineHead = 0;
    this.#outbox.send({ cf: PROTOCOL_TAG, k: 'stolen', ids: stolen });
  }
}
