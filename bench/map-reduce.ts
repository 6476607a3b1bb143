/**
 * The map-reduce section of `npm run bench`: `executor.mapReduce` on a
 * deliberately unbalanced tree (each node gives 95% of its subtree to its
 * first child; a few microseconds of CPU per node), on 2 workers, against:
 *
 * - serial: the same functions in a plain depth-first loop in this process;
 * - naive: the parent expands the tree to depth `k` and submits one task per
 *   subtree there (each explores its subtree serially), then sums. On an
 *   unbalanced tree one subtree holds most of the work: the pool idles
 *   while one worker grinds;
 * - halves: two tasks of half the nodes each (two trees of N/2), no
 *   communication at all: what 2 workers can do on this machine at this
 *   load, the ceiling of any split.
 *
 * Interleaved: each round runs every contestant once, order rotated per
 * round; each measurement gets a fresh, warmed pool (workers started and
 * the functions loaded), so start-up is not measured. Reports min, median
 * and max of the times, of the speedup over the serial run of the same
 * round, and the steals, with the load average.
 */
import os from 'node:os';
import { type PoolExecutor, ProcessPoolExecutor, ThreadPoolExecutor, task } from '../lib/index.js';

const TASKS = new URL('../../bench/map-reduce-tasks.mjs', import.meta.url);
const tasks = (await import(TASKS.href)) as {
  children(size: number): number[];
  map(size: number): number;
  reduce(a: number, b: number): number;
  subtree(root: number): number;
};

const WORKERS = 2;
/** Depth at which the naive contestant cuts the tree into tasks. */
const NAIVE_DEPTH = 6;

interface Sizes {
  nodes: number;
  rounds: number;
}

const FULL: Sizes = { nodes: 150_000, rounds: 5 };
const QUICK: Sizes = { nodes: 5_000, rounds: 1 };

type Contestant =
  | 'serial'
  | 'mapReduce-process'
  | 'mapReduce-thread'
  | 'naive-process'
  | 'halves-process';
const CONTESTANTS: Contestant[] = [
  'serial',
  'mapReduce-process',
  'mapReduce-thread',
  'naive-process',
  'halves-process',
];

interface Measurement {
  ms: number;
  steals?: number;
  stealRequests?: number;
  messages?: number;
}

const spec = (size: number) => ({
  roots: [size],
  children: task(TASKS, 'children'),
  map: task(TASKS, 'map'),
  reduce: task(TASKS, 'reduce'),
  init: 0,
});

function serial(size: number): Measurement {
  const started = performance.now();
  const total = tasks.subtree(size);
  const ms = performance.now() - started;
  if (total !== size) throw new Error(`serial counted ${total} nodes, expected ${size}`);
  return { ms };
}

async function withPool<T>(
  make: () => PoolExecutor,
  run: (pool: PoolExecutor) => Promise<T>,
): Promise<T> {
  const pool = make();
  try {
    return await run(pool);
  } finally {
    await pool.shutdown();
  }
}

async function ours(make: () => PoolExecutor, size: number): Promise<Measurement> {
  return withPool(make, async (pool) => {
    // Warm-up: every worker started, every function loaded.
    await pool.mapReduce(spec(2_000));
    const started = performance.now();
    const future = pool.mapReduce(spec(size));
    const total = await future;
    const ms = performance.now() - started;
    if (total !== size) throw new Error(`mapReduce counted ${total} nodes, expected ${size}`);
    const stats = future.stats!;
    return {
      ms,
      steals: stats.steals,
      stealRequests: stats.stealRequests,
      messages: stats.messages,
    };
  });
}

async function naive(size: number): Promise<Measurement> {
  return withPool(
    () => new ProcessPoolExecutor({ maxWorkers: WORKERS }),
    async (pool) => {
      const subtree = task(TASKS, 'subtree');
      await Promise.all([pool.submit(subtree, [10]), pool.submit(subtree, [10])]);
      const started = performance.now();
      // The parent expands the top of the tree itself (map and reduce included).
      let total = 0;
      let level = [size];
      for (let depth = 0; depth < NAIVE_DEPTH; depth++) {
        const next: number[] = [];
        for (const node of level) {
          total = tasks.reduce(total, tasks.map(node));
          next.push(...tasks.children(node));
        }
        level = next;
      }
      const partials = await Promise.all(level.map((root) => pool.submit(subtree, [root])));
      for (const partial of partials) total = tasks.reduce(total, partial as number);
      const ms = performance.now() - started;
      if (total !== size) throw new Error(`naive counted ${total} nodes, expected ${size}`);
      return { ms };
    },
  );
}

async function halves(size: number): Promise<Measurement> {
  return withPool(
    () => new ProcessPoolExecutor({ maxWorkers: WORKERS }),
    async (pool) => {
      const subtree = task(TASKS, 'subtree');
      await Promise.all([pool.submit(subtree, [10]), pool.submit(subtree, [10])]);
      const half = Math.floor(size / 2);
      const started = performance.now();
      const counts = await Promise.all([
        pool.submit(subtree, [half]),
        pool.submit(subtree, [size - half]),
      ]);
      const ms = performance.now() - started;
      const total = (counts[0] as number) + (counts[1] as number);
      if (total !== size) throw new Error(`halves counted ${total} nodes, expected ${size}`);
      return { ms };
    },
  );
}

function measure(contestant: Contestant, size: number): Promise<Measurement> | Measurement {
  switch (contestant) {
    case 'serial':
      return serial(size);
    case 'mapReduce-process':
      return ours(() => new ProcessPoolExecutor({ maxWorkers: WORKERS }), size);
    case 'mapReduce-thread':
      return ours(() => new ThreadPoolExecutor({ maxWorkers: WORKERS }), size);
    case 'naive-process':
      return naive(size);
    case 'halves-process':
      return halves(size);
  }
}

function quantiles(values: number[]): { min: number; median: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { min: sorted[0]!, median, max: sorted[sorted.length - 1]! };
}

const f0 = (n: number) => n.toFixed(0);
const f2 = (n: number) => n.toFixed(2);

/** Runs the section; returns its markdown. */
export async function runMapReduceSection(options: {
  quick: boolean;
  rounds?: number;
  log?: (line: string) => void;
}): Promise<{ markdown: string; failed: boolean }> {
  const sizes = options.quick ? QUICK : { ...FULL, rounds: options.rounds ?? FULL.rounds };
  const log = options.log ?? ((line: string) => console.error(line));
  const results = new Map<Contestant, Measurement[]>(CONTESTANTS.map((c) => [c, []]));
  const speedups = new Map<Contestant, number[]>(CONTESTANTS.map((c) => [c, []]));
  const loads: number[] = [];
  let failed = false;
  for (let round = 0; round < sizes.rounds; round++) {
    const shift = round % CONTESTANTS.length;
    const order = [...CONTESTANTS.slice(shift), ...CONTESTANTS.slice(0, shift)];
    const thisRound = new Map<Contestant, Measurement>();
    for (const contestant of order) {
      loads.push(os.loadavg()[0]!);
      try {
        const m = await measure(contestant, sizes.nodes);
        thisRound.set(contestant, m);
        results.get(contestant)!.push(m);
        log(
          `[map-reduce] round ${round + 1} ${contestant}: ${f0(m.ms)} ms${m.steals === undefined ? '' : `, ${m.steals} steals`}`,
        );
      } catch (error) {
        failed = true;
        log(`[map-reduce] round ${round + 1} ${contestant}: FAILED ${String(error)}`);
      }
    }
    const serialMs = thisRound.get('serial')?.ms;
    if (serialMs !== undefined) {
      for (const [contestant, m] of thisRound) speedups.get(contestant)!.push(serialMs / m.ms);
    }
  }
  const load = quantiles(loads);
  const lines = [
    `## Map-reduce: an unbalanced tree of ${sizes.nodes.toLocaleString('en-US')} nodes on ${WORKERS} workers`,
    '',
    `- ${sizes.rounds} round${sizes.rounds === 1 ? '' : 's'}, interleaved (order rotated per round); fresh warmed pool per measurement; ` +
      `${os.cpus().length} CPUs; load average (1 min) during the section: min ${f2(load.min)}, median ${f2(load.median)}, max ${f2(load.max)}`,
    `- naive: the parent expands the tree to depth ${NAIVE_DEPTH}, then one task per subtree there; ` +
      'halves: two tasks of two trees of half the size, no communication (the ceiling of any split on this machine now)',
    '',
    '| contestant | time ms (min / median / max) | speedup vs serial of the same round (min / median / max) | steals (median) | steal requests (median) | parent messages (median) |',
    '|---|---|---|---|---|---|',
  ];
  for (const contestant of CONTESTANTS) {
    const ms = results.get(contestant)!.map((m) => m.ms);
    if (ms.length === 0) {
      lines.push(`| ${contestant} | failed | | | | |`);
      continue;
    }
    const t = quantiles(ms);
    const s = speedups.get(contestant)!;
    const sq = s.length > 0 ? quantiles(s) : undefined;
    const median = (key: 'steals' | 'stealRequests' | 'messages') => {
      const values = results
        .get(contestant)!
        .flatMap((m) => (m[key] === undefined ? [] : [m[key]!]));
      return values.length === 0 ? '' : f0(quantiles(values).median);
    };
    lines.push(
      `| ${contestant} | ${f0(t.min)} / ${f0(t.median)} / ${f0(t.max)} | ${
        sq === undefined ? '' : `${f2(sq.min)} / ${f2(sq.median)} / ${f2(sq.max)}`
      } | ${median('steals')} | ${median('stealRequests')} | ${median('messages')} |`,
    );
  }
  return { markdown: lines.join('\n'), failed };
}
