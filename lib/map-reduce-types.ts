/**
 * The public shapes of `executor.mapReduce` (map-reduce.ts): what it takes,
 * its options and the statistics it reports.
 */
import type { Callable } from './executor.js';

/**
 * A map-reduce over a forest known only as it is explored (Sage's
 * `RESetMapReduce`). Each function is a `task()` reference or a
 * self-contained inline function (its source is sent to the workers: it
 * cannot use variables of the scope it was written in). Each may return a
 * promise.
 */
export interface MapReduceSpec<N, V, R = V> {
  /** The roots of the forest (structured-cloneable values). */
  roots: Iterable<N>;
  /** The children of a node: an iterable (or `undefined`/`null` for none). */
  children: Callable<(node: N) => Iterable<N> | null | undefined | PromiseLike<Iterable<N>>>;
  /** The value of a node kept by `postProcess` (of every node without it). */
  map: Callable<(node: any) => V | PromiseLike<V>>;
  /**
   * Combines two values: the accumulator and a mapped value, or two partial
   * reductions. Should be associative and commutative: the order of the
   * nodes, and how they are grouped, depends on who stole what.
   */
  reduce: Callable<(a: R, b: any) => R | PromiseLike<R>>;
  /** The neutral value of `reduce`: the result of an empty forest. */
  init: R;
  /**
   * Before a node is mapped: return the node (or a transformed value) to
   * map it, or `undefined` to skip it. Its children are explored either way.
   */
  postProcess?: Callable<(node: N) => unknown> | undefined;
}

/** Options of `executor.mapReduce`. */
export interface MapReduceOptions {
  /**
   * Stop the whole search after this many milliseconds: the future rejects
   * with `TaskTimeoutError` and the explorers are stopped. Default: the
   * executor's `taskTimeout`, or none.
   */
  timeout?: number | undefined;
  /** Cancel the search when this signal aborts: the future ends cancelled. */
  signal?: AbortSignal | undefined;
  /** How many workers explore (at most the executor's `maxWorkers`, its default). */
  maxWorkers?: number | undefined;
}

/** One explorer's part of a map-reduce (one per worker that took part). */
export interface ExplorerStats {
  /** The id of the explorer's task (as in task events). */
  taskId: number;
  /** The worker's pid (thread id for ThreadPoolExecutor), `undefined` if it never started. */
  pid: number | undefined;
  /** Nodes it explored (the last count it reported, if the search failed). */
  nodes: number;
  /**
   * Milliseconds it waited for work after it started, the wait for the end
   * of the search included (`undefined` if it did not report).
   */
  idleTime: number | undefined;
  /** Steals that took nodes from it. */
  stolenFrom: number;
  /** Steals that gave it nodes. */
  stolenBy: number;
}

/** What a map-reduce did, as Sage's `print_communication_statistics` tells. */
export interface MapReduceStats {
  /** Milliseconds from the call to the end. */
  elapsed: number;
  /** Nodes explored in all (the last counts reported, if the search failed). */
  nodes: number;
  /** Steals that moved nodes from a busy explorer to an idle one. */
  steals: number;
  /** Steal requests sent, including the refused ones (the victim had nothing to share). */
  stealRequests: number;
  /** Nodes moved by steals. */
  nodesStolen: number;
  /**
   * Messages between the parent and the explorers (steals, work, idle and
   * finish notices), apart from starting and ending the explorer tasks.
   * Grows with the number of steals, not with the number of nodes.
   */
  messages: number;
  /** Per explorer, in the order they started. */
  explorers: ExplorerStats[];
}
