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
 *
 * explorers.ts holds the explorers of a worker and starts each; this file
 * is the search itself.
 */
import { describeError, isThenable } from '../describe.js';
import {
  type ExplorerParentMessage,
  LOW_WATER,
  PROTOCOL_TAG,
  type WorkerMessage,
} from '../wire/protocol.js';
import type { Context } from './context.js';
import type { TaskFunction } from './functions.js';
import { sendable } from './sendable.js';

/** Work between two looks at the channel (ms): a steal request waits at most this (plus one node). */
export const SLICE_MS = 1;

/** The most nodes explored between two clock reads (see nextStride). */
const MAX_STRIDE = 256;

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

/** One explorer: the search loop of one map-reduce task (made by explorers.ts). */
export class Explorer {
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
  /** Nodes between two clock reads, adapted to their cost (nextStride). */
  #stride = 1;
  #idleMs = 0;
  #idleSince = 0;
  /** A steal was refused: say so once the queue has nodes to share again. */
  #owesReport = false;
  /** `mrWork` messages received (the parent tells out-of-date notices by it). */
  #got = 0;
  /** Work came since the last `mrLow`: say when the queue falls to LOW_WATER (once per batch). */
  #lowArmed = false;
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
        this.#take(message.nodes);
        break;
      case 'mrSteal':
        this.#giveOldestHalf(message.req, message.low === true);
        return;
      case 'mrFinish':
        // The wait for this message is idle time too (the end of the search).
        if (this.#queue.length === 0 && this.#wake !== undefined) {
          this.#idleMs += performance.now() - this.#idleSince;
        }
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

  /**
   * Explores nodes for about SLICE_MS (or until the queue is empty or the
   * task aborted). The synchronous path (#grind) runs until a function
   * returns a promise; that node is finished here, then grinding goes on.
   */
  async #slice(): Promise<void> {
    const until = performance.now() + SLICE_MS;
    for (;;) {
      const step = this.#grind(until);
      if (step === undefined) return;
      await step;
      if (this.#context.aborted) return;
      this.#checkLow();
      if (this.#queue.length === 0 || performance.now() >= until) return;
    }
  }

  /**
   * The hot loop: explores nodes until the clock passes `until`, the queue
   * is empty, or a function returns a promise (then the rest of that node
   * is returned as a promise). It is one flat loop over local variables,
   * shaped like a plain depth-first loop, so that V8 compiles it as well
   * as the user's own serial loop; the clock is read every #stride nodes,
   * not per node (a clock read costs about 1% of a 10 µs node).
   */
  #grind(until: number): Step {
    const queue = this.#queue;
    const map = this.#map;
    const reduce = this.#reduce;
    const children = this.#children;
    const postProcess = this.#postProcess;
    let acc = this.#acc;
    let explored = 0;
    let stride = this.#stride;
    let countdown = stride;
    let checked = performance.now();
    let armed = this.#lowArmed;
    // No try/finally here: it would make V8 compile the inlined user
    // functions worse (measured: 20% slower per node). Each way out saves
    // the locals; a throw fails the whole search, so nothing is lost.
    while (queue.length > 0) {
      const node = queue.pop();
      explored++;
      let kept: unknown = node;
      if (postProcess !== undefined) {
        kept = postProcess(node);
        if (isThenable(kept)) {
          this.#save(acc, explored, stride);
          return Promise.resolve(kept).then((k) => this.#mapped(node, k));
        }
      }
      if (kept !== undefined) {
        const value = map(kept);
        if (isThenable(value)) {
          this.#save(acc, explored, stride);
          return Promise.resolve(value).then((v) => this.#reduced(node, v));
        }
        const next = reduce(acc, value);
        if (isThenable(next)) {
          this.#save(acc, explored, stride);
          return Promise.resolve(next).then((a) => {
            this.#acc = a;
            return this.#expand(node);
          });
        }
        acc = next;
      }
      const kids = children(node);
      if (isThenable(kids)) {
        this.#save(acc, explored, stride);
        return Promise.resolve(kids).then((c) => this.#push(c));
      }
      if (kids !== undefined && kids !== null) {
        if (typeof (kids as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== 'function') {
          throw notIterable(kids);
        }
        const first = queue.length;
        for (const child of kids as Iterable<unknown>) queue.push(child);
        reverseFrom(queue, first);
      }
      if (armed && queue.length <= LOW_WATER && queue.length > 0) {
        armed = false;
        this.#low();
      }
      if (--countdown === 0) {
        const now = performance.now();
        stride = nextStride(stride, now - checked);
        if (now >= until) break;
        countdown = stride;
        checked = now;
      }
    }
    this.#save(acc, explored, stride);
    return undefined;
  }

  #save(acc: unknown, explored: number, stride: number): void {
    this.#acc = acc;
    this.#nodes += explored;
    this.#stride = stride;
  }

  // The rest of a node once a function returned a promise (the same steps as #grind).

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
      throw notIterable(children);
    }
    const queue = this.#queue;
    const first = queue.length;
    for (const child of children as Iterable<unknown>) queue.push(child);
    reverseFrom(queue, first);
  }

  /**
   * Nodes from the parent (roots or stolen). A busy explorer (it asked
   * while low) puts them at the old end of its queue: it finishes the node
   * it is on depth-first, and they are the first a thief would take.
   */
  #take(nodes: unknown[]): void {
    const queue = this.#queue;
    if (queue.length === 0) {
      for (const node of nodes) queue.push(node);
    } else {
      queue.unshift(...nodes);
    }
    this.#got++;
    this.#lowArmed = true;
  }

  #checkLow(): void {
    const size = this.#queue.length;
    if (this.#lowArmed && size <= LOW_WATER && size > 0) this.#low();
  }

  #low(): void {
    this.#lowArmed = false;
    this.#send({ cf: PROTOCOL_TAG, k: 'mrLow', id: this.id, got: this.#got });
  }

  #becomeIdle(): void {
    this.#idleSince = performance.now();
    this.#send({ cf: PROTOCOL_TAG, k: 'mrIdle', id: this.id, nodes: this.#nodes, got: this.#got });
  }

  /**
   * A steal request: the oldest half of the queue goes (none of a queue of
   * one: it is next). For a thief that is only low (it still has a node or
   * so), the victim keeps enough not to be low itself, else two explorers
   * could hand the same nodes back and forth. After a refusal, it says
   * once when it has nodes to share again.
   */
  #giveOldestHalf(req: number, low: boolean): void {
    const size = this.#queue.length;
    const count = low
      ? Math.max(0, Math.min(Math.floor(size / 2), size - (LOW_WATER + 1)))
      : Math.floor(size / 2);
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

/**
 * Reverses `queue[first..]` in place: the children were pushed in the
 * order `children()` gave them; reversed, the first child is explored
 * first (as a recursive search would), and the later siblings wait at the
 * old end, where thieves take from.
 */
function reverseFrom(queue: unknown[], first: number): void {
  for (let i = first, j = queue.length - 1; i < j; i++, j--) {
    const swap = queue[i];
    queue[i] = queue[j];
    queue[j] = swap;
  }
}

function notIterable(children: unknown): TypeError {
  const kind = children === null ? 'null' : typeof children;
  return new TypeError(
    `Expected \`children(node)\` to return an iterable of nodes (or undefined), got ${kind}`,
  );
}

/**
 * Nodes between two clock reads: a quarter of a slice's worth at the cost
 * per node just measured (`ms` for `stride` nodes). It shrinks at once when
 * nodes get dearer, and at most doubles when they get cheaper, so that a
 * steal request or a cancellation waits about a slice, plus at most
 * MAX_STRIDE nodes if they suddenly cost much more than the ones before.
 */
function nextStride(stride: number, ms: number): number {
  const fit = ms > 0 ? Math.floor((stride * SLICE_MS) / (4 * ms)) : 2 * stride;
  return Math.max(1, Math.min(fit, 2 * stride, MAX_STRIDE));
}
