/**
 * `executor.mapReduce`: the facade of Sage's map-reduce over a forest
 * explored lazily, with work stealing between workers. This module checks
 * the input (every field, before anything starts) and hands over to the
 * coordinator (engine/map-reduce/coordinator.ts), which runs one explorer
 * task per worker (worker/explorer.ts). docs/map-reduce.md tells the
 * protocol and the guarantees.
 */

import { describeError } from './describe.js';
import type { FnInfo, FunctionRegistry } from './engine/functions.js';
import { Coordinator } from './engine/map-reduce/coordinator.js';
import type { ExplorerOutcome } from './engine/map-reduce/explorers.js';
import { registerExplorer } from './engine/map-reduce/room.js';
import { ArgumentTypeError } from './errors.js';
import { Future } from './future.js';
import type { MapReduceOptions, MapReduceSpec, MapReduceStats } from './map-reduce-types.js';
import {
  typeError,
  validateInteger,
  validateOptions,
  validateSignal,
  validateTimeout,
} from './validate.js';
import type { ExplorerSpec, FnRef } from './wire/protocol.js';

/**
 * The future of a `mapReduce`: a `Future` of the reduced value that also
 * tells what the search did (`stats`) once it is over.
 */
export class MapReduceFuture<R> extends Future<R> {
  #stats: MapReduceStats | undefined;

  /**
   * Nodes per explorer, steals, idle time per explorer, messages and
   * elapsed time (see `MapReduceStats`); `undefined` until the search is
   * over. Set before the future settles when it finishes or fails, right
   * after when it is cancelled.
   */
  get stats(): MapReduceStats | undefined {
    return this.#stats;
  }

  /** @internal */
  _setStats(stats: MapReduceStats): void {
    this.#stats = stats;
  }
}

/** A checked `mapReduce` call, ready for the engine. */
export interface CheckedMapReduce {
  map: FnInfo;
  spec: ExplorerSpec;
  roots: unknown[];
  explorers: number;
  timeout: number | undefined;
  signal: AbortSignal | undefined;
}

const SPEC_FIELDS = new Set(['roots', 'children', 'map', 'reduce', 'init', 'postProcess']);

/**
 * Checks a `mapReduce` call: every field of `spec` and `options`. Throws
 * the ArgumentTypeError/ArgumentRangeError of the first problem (naming the
 * field, what was expected and what was given); nothing has started then.
 */
export function checkMapReduce(
  functions: FunctionRegistry,
  spec: unknown,
  options: MapReduceOptions | undefined,
  poolMaxWorkers: number,
  defaultTimeout: number | undefined,
): CheckedMapReduce {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    throw typeError('spec', 'an object { roots, children, map, reduce, init, postProcess? }', spec);
  }
  const given = spec as Partial<MapReduceSpec<unknown, unknown, unknown>>;
  for (const key of Object.keys(given)) {
    if (!SPEC_FIELDS.has(key)) {
      throw new ArgumentTypeError(
        `Unknown field \`${key}\` in the mapReduce spec; expected roots, children, map, reduce, init and postProcess`,
      );
    }
  }
  const roots = checkRoots(given.roots);
  const children = functions.lookup(given.children, 'children');
  const map = functions.lookup(given.map, 'map');
  const reduce = functions.lookup(given.reduce, 'reduce');
  const postProcess =
    given.postProcess === undefined
      ? undefined
      : functions.lookup(given.postProcess, 'postProcess');
  if (!('init' in given)) {
    throw new ArgumentTypeError(
      'Expected `init` (the neutral value of `reduce`, e.g. 0 for a sum) in the mapReduce spec, got no such field',
    );
  }
  checkCloneable('init', given.init);
  validateOptions('options', options);
  const explorers = validateInteger('maxWorkers', options?.maxWorkers, 1, poolMaxWorkers);
  const timeout =
    options?.timeout === undefined ? defaultTimeout : validateTimeout('timeout', options.timeout);
  const signal = validateSignal('signal', options?.signal);
  return {
    map,
    spec: {
      children: ref(children),
      reduce: ref(reduce),
      postProcess: postProcess && ref(postProcess),
      init: given.init,
    },
    roots,
    explorers: Math.min(explorers, poolMaxWorkers),
    timeout,
    signal,
  };
}

function checkRoots(roots: unknown): unknown[] {
  if (
    roots === null ||
    roots === undefined ||
    typeof (roots as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== 'function' ||
    typeof roots === 'string'
  ) {
    throw typeError('roots', 'an iterable of nodes (e.g. an array)', roots);
  }
  let list: unknown[];
  try {
    list = [...(roots as Iterable<unknown>)];
  } catch (error) {
    throw new ArgumentTypeError(`Iterating \`roots\` threw: ${describeError(error)}`, {
      cause: error,
    });
  }
  for (let i = 0; i < list.length; i++) checkCloneable(`roots[${i}]`, list[i]);
  return list;
}

/** Nodes and `init` travel to workers: refuse what cannot be copied now, not in a worker. */
function checkCloneable(name: string, value: unknown): void {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) {
    if (typeof value !== 'symbol') return;
  }
  try {
    structuredClone(value);
  } catch (error) {
    throw new ArgumentTypeError(
      `Expected \`${name}\` to be a structured-cloneable value (it is sent to the workers), got one that cannot be copied: ${describeError(error)}`,
      { cause: error },
    );
  }
}

function ref(info: FnInfo): FnRef {
  return { ...info };
}

/** Starts a checked map-reduce; `submitExplorer` submits one explorer task. Returns its future. */
export function startMapReduce<R>(
  submitExplorer: (map: FnInfo, spec: ExplorerSpec) => Future<ExplorerOutcome>,
  checked: CheckedMapReduce,
): MapReduceFuture<R> {
  const future = new MapReduceFuture<R>();
  const startedAt = performance.now();
  if (checked.signal?.aborted) {
    future._cancel(checked.signal.reason);
    future._setStats(emptyStats(performance.now() - startedAt));
    return future;
  }
  if (checked.roots.length === 0) {
    // An empty forest: the neutral value, without starting anything.
    future._setStats(emptyStats(performance.now() - startedAt));
    future.setResult(checked.spec.init as R);
    return future;
  }
  const coordinator = new Coordinator(future, {
    roots: checked.roots,
    explorers: checked.explorers,
    timeout: checked.timeout,
    signal: checked.signal,
    submit: () => submitExplorer(checked.map, checked.spec),
    register: registerExplorer,
    settled: (stats) => future._setStats(stats),
  });
  coordinator.start();
  return future;
}

function emptyStats(elapsed: number): MapReduceStats {
  return {
    elapsed,
    nodes: 0,
    steals: 0,
    stealRequests: 0,
    nodesStolen: 0,
    messages: 0,
    explorers: [],
  };
}
