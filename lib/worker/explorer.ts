/**
 * Inside a worker: the explorer of a map-reduce (see
 * engine/map-reduce/coordinator.ts for the parent's side, and
 * wire/protocol.ts for the messages). An explorer is one long-running task:
 * it explores its part of the forest depth-first from a local
 * double-ended queue (newest node first), reduces what `map` returns into a
 * local accumulator, and every SLICE_MS of work yields to the event loop so
 * that steal requests and cancellations get in. A steal takes the OLDEST
 * half of the queue: near the roots, the nodes most likely to hold big
 * subtrees, so one steal moves much work for one message.
 */
import { describeError, isThenable } from '../describe.js';
import {
  type ExplorerParentMessage,
  type ExplorerSpec,
  PROTOCOL_TAG,
  type WorkerMessage,
} from '../wire/protocol.js';
import type { Context } from './context.js';
import type { FunctionCache, Resolved, TaskFunction } from './functions.js';
import { sendable } from './sendable.js';

/** Work between two looks at the channel (ms): a steal request waits at most this (plus one node). */
export const SLICE_MS = 1;

/** What an explorer returns as its task's value. */
export interface ExplorerResult {
  /** Its partial reduction (with the other explorers' partials, for the last one). */
  value: unknown;
  /** Nodes it explored (whether postProcess kept them or not). */
  nodes: number;
  /** Milliseconds it waited for work after it started. */
  idleMs: number;
}

type Step = undefined | Promise<void>;

/** The explorers of a worker: at most one runs at a time (a worker runs one task at a time). */
export class Explorers {
  readonly #fns: FunctionCache;
  readonly #send: (message: WorkerMessage) => void;
  #active: Explorer | undefined;

  constructor(fns: FunctionCache, send: (message: WorkerMessage) => void) {
    this.#fns = fns;
    this.#send = send;
  }

  /** A message for an explorer. One for an explorer that is not running gets an empty answer. */
  receive(message: ExplorerParentMessage): void {
    if (this.#active?.id === message.id) {
      this.#active.receive(message);
    } else if (message.k === 'mrSteal') {
      this.#send({
        cf: PROTOCOL_TAG,
        k: 'mrStolen',
        id: message.id,
        req: message.req,
        nodes: [],
        left: 0,
      });
    }
  }

  /** Runs the explorer of task `context.id`; `map` is its task function. */
  async run(map: Resolved, payload: unknown[], context: Context): Promise<ExplorerResult> {
    const spec = payload[0] as ExplorerSpec;
    const [children, reduce, postProcess] = await Promise.all([
      this.#fns.resolve(spec.children),
      this.#fns.resolve(spec.reduce),
      spec.postProcess === undefined ? undefined : this.#fns.resolve(spec.postProcess),
    ]);
    const explorer = new Explorer(
      context,
      this.#send,
      map.fn,
      children.fn,
      reduce.fn,
      postProcess?.fn,
      spec.init,
    );
    this.#active = explorer;
    try {
      return await explorer.run();
    } finally {
      this.#active = undefined;
    }
  }
}

class Explorer {
  readonly id: number;
  readonly #context: Context;
  readonly #send: (message: WorkerMessage) => void;
  readonly #map: TaskFunction;
  readonly #children: TaskFunction;
  readonly #reduce: TaskFunction;
  readonly #postProcess: TaskFunction | undefined;
  /** Nodes to explore: the newest at the end (explored next), the oldest at 0 (stolen first). */
  #queue: unknown[] = [];
  #acc: unknown;
  #nodes = 0;
  #idleMs = 0;
  #idleSince = 0;
  /** A steal was refused: say so once the queue has nodes to share again. */
  #owesReport = false;
  /** Set by a `mrFinish`: the partials to reduce, then return. */
  #finish: { partials: unknown[] } | undefined;
  /** A failure found outside the loop (a stolen node that cannot be sent). */
  #failure: { error: unknown } | undefined;
  /** Wakes the loop while it waits for work. */
  #wake: (() => void) | undefined;

  constructor(
    context: Context,
    send: (message: WorkerMessage) => void,
    map: TaskFunction,
    children: TaskFunction,
    reduce: TaskFunction,
    postProcess: TaskFunction | undefined,
    init: unknown,
  ) {
    this.id = context.id;
    this.#context = context;
    this.#send = send;
    this.#map = map;
    this.#children = children;
    this.#reduce = reduce;
    this.#postProcess = postProcess;
    this.#acc = init;
  }

  receive(message: ExplorerParentMessage): void {
    switch (message.k) {
      case 'mrWork':
        for (const node of message.nodes) this.#queue.push(node);
        break;
      case 'mrSteal':
        this.#giveOldestHalf(message.req);
        return;
      case 'mrFinish':
        this.#finish = { partials: message.partials ?? [] };
        break;
    }
    this.#wake?.();
  }

  async run(): Promise<ExplorerResult> {
    const signal = this.#context.signal;
    const onAbort = () => this.#wake?.();
    signal.addEventListener('abort', onAbort);
    try {
      this.#becomeIdle();
      for (;;) {
        if (signal.aborted) throw signal.reason;
        if (this.#failure !== undefined) throw this.#failure.error;
        if (this.#finish !== undefined) break;
        if (this.#queue.length === 0) {
          await new Promise<void>((resolve) => {
            this.#wake = resolve;
          });
          this.#wake = undefined;
          if (this.#queue.length > 0) this.#idleMs += performance.now() - this.#idleSince;
          continue;
        }
        await this.#slice();
        if (this.#queue.length === 0) {
          this.#becomeIdle();
        } else {
          if (this.#owesReport && this.#queue.length >= 2) {
            this.#owesReport = false;
            this.#send({ cf: PROTOCOL_TAG, k: 'mrHasWork', id: this.id, size: this.#queue.length });
          }
          // Let steal requests and cancellations in.
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
      for (const partial of this.#finish.partials) {
        const reduced = this.#reduce(this.#acc, partial);
        this.#acc = isThenable(reduced) ? await reduced : reduced;
      }
      return { value: this.#acc, nodes: this.#nodes, idleMs: this.#idleMs };
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Explores nodes for about SLICE_MS (or until the queue is empty or the task aborted). */
  async #slice(): Promise<void> {
    const until = performance.now() + SLICE_MS;
    const queue = this.#queue;
    do {
      const node = queue.pop();
      this.#nodes++;
      const step = this.#explore(node);
      if (step !== undefined) {
        await step;
        if (this.#context.aborted) return;
      }
    } while (queue.length > 0 && performance.now() < until);
  }

  /** postProcess, map, reduce, then children; synchronous unless a function returns a promise. */
  #explore(node: unknown): Step {
    if (this.#postProcess === undefined) return this.#mapped(node, node);
    const kept = this.#postProcess(node);
    if (isThenable(kept)) return Promise.resolve(kept).then((k) => this.#mapped(node, k));
    return this.#mapped(node, kept);
  }

  #mapped(node: unknown, kept: unknown): Step {
    // postProcess dropped it: its children are still explored (as Sage's post_process).
    if (kept === undefined) return this.#expand(node);
    const value = this.#map(kept);
    if (isThenable(value)) return Promise.resolve(value).then((v) => this.#reduced(node, v));
    return this.#reduced(node, value);
  }

  #reduced(node: unknown, value: unknown): Step {
    const acc = this.#reduce(this.#acc, value);
    if (isThenable(acc)) {
      return Promise.resolve(acc).then((a) => {
        this.#acc = a;
        return this.#expand(node);
      });
    }
    this.#acc = acc;
    return this.#expand(node);
  }

  #expand(node: unknown): Step {
    const children = this.#children(node);
    if (isThenable(children)) return Promise.resolve(children).then((c) => this.#push(c));
    this.#push(children);
    return undefined;
  }

  #push(children: unknown): void {
    if (children === undefined || children === null) return;
    if (typeof (children as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== 'function') {
      throw new TypeError(
        `Expected \`children(node)\` to return an iterable of nodes (or undefined), got ${describeKind(children)}`,
      );
    }
    for (const child of children as Iterable<unknown>) this.#queue.push(child);
  }

  #becomeIdle(): void {
    this.#idleSince = performance.now();
    this.#send({ cf: PROTOCOL_TAG, k: 'mrIdle', id: this.id, nodes: this.#nodes });
  }

  /** A steal request: the oldest half of the queue goes (none of a queue of one: it is next). */
  #giveOldestHalf(req: number): void {
    const count = Math.floor(this.#queue.length / 2);
    if (count === 0) this.#owesReport = true;
    const taken = count > 0 ? this.#queue.splice(0, count) : [];
    try {
      // Stolen nodes cross to another worker: one that cannot be copied
      // fails the search here, clearly, rather than in the channel.
      const safe = sendable(taken);
      if (!safe.ok) throw safe.error.cause ?? safe.error;
      this.#stolen(req, safe.value as unknown[]);
    } catch (error) {
      this.#failure = {
        error: new TypeError(
          `A node of the map-reduce cannot be sent to another worker (it was stolen): ${describeError(
            error,
          )}. Nodes must be structured-cloneable: plain data, arrays, Maps, Sets, typed arrays`,
          { cause: error },
        ),
      };
      this.#stolen(req, []);
      this.#wake?.();
    }
  }

  #stolen(req: number, nodes: unknown[]): void {
    this.#send({
      cf: PROTOCOL_TAG,
      k: 'mrStolen',
      id: this.id,
      req,
      nodes,
      left: this.#queue.length,
    });
  }
}

function describeKind(value: unknown): string {
  return value === null ? 'null' : typeof value;
}
