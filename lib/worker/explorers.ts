/**
 * Inside a worker: its map-reduce explorers (explorer.ts is the search of
 * one). A worker runs one task at a time, so at most one explorer is
 * active; messages for it are routed here, and a steal request for an
 * explorer that is not running (it finished, or has not started) gets an
 * empty answer, so that the parent's steal never waits forever.
 */
import {
  type ExplorerParentMessage,
  type ExplorerSpec,
  PROTOCOL_TAG,
  type WorkerMessage,
} from '../wire/protocol.js';
import type { Context } from './context.js';
import { Explorer, type ExplorerResult } from './explorer.js';
import type { FunctionCache, Resolved } from './functions.js';

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
