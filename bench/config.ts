/**
 * What the benchmark runs: workloads, their sizes, and the contestants.
 * Shared by the orchestrator (run.ts) and the measuring child (contestant.ts).
 */

export type WorkloadName =
  | 'tiny'
  | 'map-chunked'
  | 'map-large'
  | 'startup'
  | 'cpu'
  | 'payload'
  | 'payload-transfer';

export const WORKLOAD_NAMES: readonly WorkloadName[] = [
  'tiny',
  'map-chunked',
  'map-large',
  'startup',
  'cpu',
  'payload',
  'payload-transfer',
];

/** Every contestant runs with this many workers. */
export const WORKERS = 2;

/** Problem sizes; `--quick` uses the small set. */
export interface Sizes {
  tinyTasks: number;
  mapItems: number;
  /** Items of the `map-large` workload (same chunksize). */
  mapItemsLarge: number;
  mapChunksize: number;
  cpuTasks: number;
  cpuFibN: number;
  payloadTasks: number;
  payloadBytes: number;
}

export const FULL_SIZES: Sizes = {
  tinyTasks: 20_000,
  mapItems: 200_000,
  mapItemsLarge: 2_000_000,
  mapChunksize: 1_000,
  cpuTasks: 40,
  cpuFibN: 30,
  payloadTasks: 300,
  payloadBytes: 1024 * 1024,
};

export const QUICK_SIZES: Sizes = {
  tinyTasks: 200,
  mapItems: 2_000,
  mapItemsLarge: 20_000,
  mapChunksize: 100,
  cpuTasks: 4,
  cpuFibN: 20,
  payloadTasks: 8,
  payloadBytes: 64 * 1024,
};

export interface WorkloadInfo {
  name: WorkloadName;
  unit: string;
  higherIsBetter: boolean;
  /** Heading of the workload's table. */
  title(sizes: Sizes): string;
  /** What is measured, printed under the heading. */
  describe(sizes: Sizes): string;
}

const n = (value: number): string => value.toLocaleString('en-US');

function bytes(value: number): string {
  return value >= 1024 * 1024 ? `${value / (1024 * 1024)} MiB` : `${value / 1024} KiB`;
}

export const WORKLOADS: Record<WorkloadName, WorkloadInfo> = {
  tiny: {
    name: 'tiny',
    unit: 'tasks/s',
    higherIsBetter: true,
    title: (s) => `tiny: ${n(s.tinyTasks)} noop tasks, one submit each`,
    describe: (s) =>
      `${n(s.tinyTasks)} no-op tasks submitted one by one with each contestant's single-task API ` +
      '(our `submit`, piscina `run`, workerpool `exec`, Python `apply_async`), all awaited. ' +
      'Measures the per-task overhead of the pool: dispatch, IPC, bookkeeping. ' +
      'Pool started and warmed up (100 tasks) before timing. Floor: two bare forked children ' +
      'echoing IPC messages, each doing its half of the round trips one at a time.',
  },
  'map-chunked': {
    name: 'map-chunked',
    unit: 'items/s',
    higherIsBetter: true,
    title: (s) => `map-chunked: ${n(s.mapItems)} items, chunksize ${n(s.mapChunksize)}`,
    describe: (s) =>
      `\`map(x => x * 2)\` over ${n(s.mapItems)} numbers in chunks of ${n(s.mapChunksize)} ` +
      '(our `map` with `chunksize`, Python `Pool.map(chunksize=...)`), result awaited as an array. ' +
      'Measures batching: per-item cost once per-message overhead is amortised. ' +
      'Pool warmed up with a small map before timing.',
  },
  'map-large': {
    name: 'map-large',
    unit: 'items/s',
    higherIsBetter: true,
    title: (s) => `map-large: ${n(s.mapItemsLarge)} items, chunksize ${n(s.mapChunksize)}`,
    describe: (s) =>
      `The same map as \`map-chunked\` over ${n(s.mapItemsLarge)} numbers: long enough that ` +
      'the figure is close to steady state rather than dominated by cold code.',
  },
  startup: {
    name: 'startup',
    unit: 'ms',
    higherIsBetter: false,
    title: () => 'startup: construct the pool, get the first result',
    describe: () =>
      'Milliseconds from constructing the pool to the first result of a trivial task ' +
      '(`x => x + 1`), measured inside a fresh process after the library was imported. ' +
      'Floor: `child_process.fork` of a one-line script plus one IPC round trip.',
  },
  cpu: {
    name: 'cpu',
    unit: '× speedup',
    higherIsBetter: true,
    title: (s) => `cpu: ${s.cpuTasks} × fib(${s.cpuFibN}), speedup over serial`,
    describe: (s) =>
      `${s.cpuTasks} calls of a recursive fib(${s.cpuFibN}) on the pool, against the same ` +
      `${s.cpuTasks} calls run serially in the same process in the same run (after a warm-up ` +
      `call); value = serial time / pool time. With ${WORKERS} workers the ceiling is ` +
      `${WORKERS}×. Pool warmed up with a few smaller fib calls first. Python's speedup is ` +
      "relative to Python's own serial time.",
  },
  payload: {
    name: 'payload',
    unit: 'MiB/s',
    higherIsBetter: true,
    title: (s) => `payload: ${n(s.payloadTasks)} tasks × ${bytes(s.payloadBytes)} in and out`,
    describe: (s) =>
      `${n(s.payloadTasks)} tasks, each sending a fresh ${bytes(s.payloadBytes)} Uint8Array ` +
      '(a copy made at submit; Python: a bytearray) to a worker that returns ' +
      '`[length, checksum, copy]`: the bytes come back nested in an array, as users return ' +
      'them. MiB/s counts both directions. All submitted at once, all results kept, copied ' +
      '(no transfer lists). Floor: two bare forked children with ' +
      "`serialization: 'advanced'` answering the same way, each doing its half of the round " +
      'trips one at a time.',
  },
  'payload-transfer': {
    name: 'payload-transfer',
    unit: 'MiB/s',
    higherIsBetter: true,
    title: (s) =>
      `payload-transfer: ${n(s.payloadTasks)} × ${bytes(s.payloadBytes)} moved in and out (threads)`,
    describe: (s) =>
      `The payload round trips with transfer lists: ${n(s.payloadTasks)} tasks, each moving a ` +
      `${bytes(s.payloadBytes)} Uint8Array to a worker thread and back without copying (our ` +
      '`submit(..., { transfer })` and `transfer()` result, piscina `Piscina.move`), ' +
      `${4 * WORKERS} buffers in flight, each re-sent when it comes back. Thread pools only: ` +
      'between processes every byte is copied (see `payload`).',
  },
};

export type ContestantKind = 'ours' | 'peer' | 'floor';

export interface ContestantInfo {
  name: string;
  kind: ContestantKind;
  /** How it is set up, for the notes. */
  setup: string;
  /** Workloads it runs; a string value means "skipped", with that note. Absent: no row. */
  workloads: Partial<Record<WorkloadName, true | string>>;
}

const ALL = {
  tiny: true,
  'map-chunked': true,
  'map-large': true,
  startup: true,
  cpu: true,
  payload: true,
} as const;
const THREADS = { ...ALL, 'payload-transfer': true } as const;
const NO_MAP = (who: string) => ({
  ...ALL,
  'map-chunked': `skipped: ${who} has no chunked map (one call per item is what \`tiny\` measures)`,
  'map-large': `skipped: ${who} has no chunked map`,
});

export const CONTESTANTS: readonly ContestantInfo[] = [
  {
    name: 'ours-process',
    kind: 'ours',
    setup: 'ProcessPoolExecutor, inline functions (source sent once per worker)',
    workloads: ALL,
  },
  {
    name: 'ours-process/module',
    kind: 'ours',
    setup: "ProcessPoolExecutor, `task(new URL('tasks.mjs'), name)` references",
    workloads: ALL,
  },
  {
    name: 'ours-process/observed',
    kind: 'ours',
    setup:
      'ProcessPoolExecutor, inline functions, observed: listeners on taskStarted, taskFinished ' +
      'and taskFailed, and `stats()` every 10 ms (the cost of watching a pool)',
    workloads: { tiny: true, 'map-chunked': true, 'map-large': true },
  },
  {
    name: 'ours-thread',
    kind: 'ours',
    setup: 'ThreadPoolExecutor, inline functions',
    workloads: THREADS,
  },
  {
    name: 'ours-thread/module',
    kind: 'ours',
    setup: 'ThreadPoolExecutor, `task()` references',
    workloads: THREADS,
  },
  {
    name: 'piscina',
    kind: 'peer',
    setup: 'piscina (worker threads), `filename` = tasks.mjs, `run(arg, { name })`',
    workloads: { ...NO_MAP('piscina'), 'payload-transfer': true },
  },
  {
    name: 'workerpool-process',
    kind: 'peer',
    setup:
      "workerpool, workerType 'process', worker script, `exec(name, [arg])`; " +
      "forkOpts `serialization: 'advanced'` so Uint8Array crosses as bytes (the default JSON would not)",
    workloads: NO_MAP('workerpool'),
  },
  {
    name: 'workerpool-thread',
    kind: 'peer',
    setup: "workerpool, workerType 'thread', worker script, `exec(name, [arg])`",
    workloads: NO_MAP('workerpool'),
  },
  {
    name: 'python-mp',
    kind: 'peer',
    setup: "Python multiprocessing.Pool(2) (Linux default 'fork' start method), `apply_async`",
    workloads: ALL,
  },
  {
    name: 'bare-fork',
    kind: 'floor',
    setup:
      "child_process.fork of a one-line echo script, `serialization: 'advanced'`, no pool logic",
    workloads: { tiny: true, startup: true, payload: true },
  },
  {
    name: 'bare-fork-cjs',
    kind: 'floor',
    setup:
      'the same bare fork with a CommonJS echo script: no ES module loader, as our worker ' +
      'bundle (the stricter start-up floor)',
    workloads: { startup: true },
  },
];

export function contestantInfo(name: string): ContestantInfo | undefined {
  return CONTESTANTS.find((c) => c.name === name);
}
