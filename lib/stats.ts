/**
 * What `stats()` reports: the public types of the executors' statistics.
 * The engine fills them (engine/scheduler.ts, engine/telemetry.ts).
 */

/** A summary of recent durations, in milliseconds. */
export interface Distribution {
  /** Samples in the window (at most 1,024: the most recent ones). */
  count: number;
  /** Mean of the window, or 0 without samples. */
  mean: number;
  /** Median of the window. */
  p50: number;
  /** 90th percentile of the window. */
  p90: number;
  /** 99th percentile of the window. */
  p99: number;
  /** Largest sample in the window. */
  max: number;
}

/** Task counters since the executor was made. */
export interface TaskCounters {
  /** Tasks submitted (a `map` chunk counts as one task). */
  submitted: number;
  /** Tasks that returned a value. */
  completed: number;
  /** Tasks that failed: threw, timed out, crashed their worker, or could not be sent. */
  failed: number;
  /** Tasks cancelled, pending or running. */
  cancelled: number;
  /** Failed tasks whose worker crashed under them (`WorkerCrashedError`); part of `failed`. */
  crashed: number;
  /** Re-runs of tasks after their worker crashed (`retries`). */
  retried: number;
  /** Failed tasks that exceeded their time limit (`TaskTimeoutError`); part of `failed`. */
  timedOut: number;
}

/** A snapshot of an executor's workers and tasks. */
export interface PoolCounts {
  /** Workers alive (starting, idle, busy or retiring). */
  workers: number;
  /** Workers ready and without a task. */
  idle: number;
  /** Workers with tasks. */
  busy: number;
  /** Workers started and not yet ready (running their initializer). */
  starting: number;
  /** Tasks waiting to start, including those already sent ahead to a worker. */
  queued: number;
  /** Tasks running now. */
  running: number;
}

/**
 * The former name of `PoolCounts`.
 * @deprecated Use `PoolCounts`.
 */
export type EngineCounts = PoolCounts;

/** One worker in `stats().perWorker`. */
export interface WorkerStats {
  /** Process id (thread id for ThreadPoolExecutor). */
  pid: number | undefined;
  /** `'retiring'`: asked to exit (idle, recycled, shutdown) or being killed. */
  state: 'starting' | 'idle' | 'busy' | 'retiring';
  /** Tasks it completed (any outcome). */
  tasksCompleted: number;
  /** Resident set size, bytes, as last reported (processes only). */
  rss: number | undefined;
  /** V8 heap in use, bytes, as last reported. */
  heapUsed: number | undefined;
  /** CPU time used, ms, user + system, as last reported (processes only). */
  cpuTime: number | undefined;
  /** How old those figures are, ms (reported at most once a second, while it works). */
  usageAge: number | undefined;
}

/**
 * Nested submission (`currentTask().executor`, docs/nested.md): tasks
 * submitted from inside tasks. They also count in every other figure.
 */
export interface NestedStats {
  /** Nested submissions so far, refused ones included. */
  submitted: number;
  /** Nested submissions refused by `maxNestingDepth` or `maxNestedTasks`. */
  refused: number;
  /** Nested tasks unfinished now (what `maxNestedTasks` bounds). */
  live: number;
  /** The most nested tasks unfinished at once so far. */
  peak: number;
  /** The deepest nesting so far (1: a task submitted by a top-level task). */
  deepest: number;
  /** Tasks awaiting their nested tasks now, out of their worker's line (they count as running). */
  parked: number;
}

/**
 * What `stats()` returns: workers and tasks now, counters since the
 * executor was made, time distributions over the last 1,024 tasks, and the
 * last reported resources of each worker. A `map` chunk counts as one task.
 */
export interface PoolStats extends PoolCounts, TaskCounters {
  /** Running time of recent tasks (worker-measured), ms. */
  runTime: Distribution;
  /** Time recent tasks waited from submit to start, ms. */
  waitTime: Distribution;
  /** Tasks submitted from inside tasks. */
  nested: NestedStats;
  /** Each live worker. */
  perWorker: WorkerStats[];
}
