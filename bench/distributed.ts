/**
 * The distributed section of `npm run bench` (skipped when redis-server is
 * not installed): DistributedExecutor against bare BullMQ on a throwaway
 * local redis-server.
 *
 * - tiny: no-op tasks, one submit each, through our executor and one worker
 *   node, against a bare BullMQ Queue (`add` per job, completions counted
 *   with QueueEvents) and one bare BullMQ Worker running the same no-op in
 *   process, with the same concurrency. The per-task overhead goal: within
 *   10% of bare BullMQ. Three more bare contestants say what that reference
 *   leaves out: one that awaits each job's own result (a promise per job,
 *   resolved by its 'completed' event, as our futures are) and has finished
 *   jobs removed (as ours does), one whose Worker runs each job in a local
 *   ProcessPoolExecutor (the process hop our nodes make for crash
 *   isolation), and one with BullMQ's own sandboxed processors.
 * - map: our `map` with chunks against bare BullMQ with one job per item.
 *   Goal: at least 10 times bare BullMQ's per-item rate.
 * - scaling: 20 ms tasks (timers, like I/O-bound work) over 1, 2 and 3
 *   worker nodes of concurrency 4.
 *
 * The submitting side runs in this process; nodes and the bare worker are
 * child processes; every measurement gets a fresh queue and fresh nodes,
 * warmed up first. Rounds interleave the contestants.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents } from 'bullmq';
import { DistributedExecutor, task } from '../lib/distributed/index.js';
import { findRedisServer, RedisServer } from '../spec/support/redis.js';

const CLI = fileURLToPath(new URL('../lib/cli/main.js', import.meta.url));
const BENCH_DIR = fileURLToPath(new URL('../../bench/', import.meta.url));
const BARE_WORKER = fileURLToPath(new URL('../../bench/bullmq-worker.mjs', import.meta.url));

/** Jobs a node (or the bare worker) takes at once. */
const CONCURRENCY = 8;
/** Worker processes of our node (the machine's cores). */
const NODE_WORKERS = Math.min(2, os.availableParallelism());

interface Sizes {
  tiny: number;
  mapItems: number;
  mapChunksize: number;
  bareMapItems: number;
  scaleTasks: number;
}

const FULL: Sizes = {
  tiny: 5_000,
  mapItems: 100_000,
  mapChunksize: 1_000,
  bareMapItems: 5_000,
  scaleTasks: 600,
};
const QUICK: Sizes = {
  tiny: 200,
  mapItems: 2_000,
  mapChunksize: 100,
  bareMapItems: 200,
  scaleTasks: 40,
};

/** Children still running, killed if the bench exits early (^C, an error). */
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
// An interrupted bench exits through 'exit', so its redis-server and nodes go too.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => process.exit(signal === 'SIGINT' ? 130 : 143));
}

/** A child process that prints a ready line. */
async function startChild(args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (/ready/.test(output)) {
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        child.stderr?.resume();
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('exit', (code) =>
      reject(new Error(`exited with ${code} before ready: ${output.slice(-400)}`)),
    );
  });
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/**
 * CPU time, which a shared machine disturbs less than throughput: per
 * process, from /proc (Linux; elsewhere nothing is reported). Clock ticks
 * of 10 ms (USER_HZ 100).
 */
interface Cpu {
  submitter: number;
  worker: number;
  redis: number;
}
let lastCpu: Cpu | undefined;
let redisPid: number | undefined;

function procCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

/** `pid` and its descendants. */
function processTree(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
    } catch {
      // Gone meanwhile.
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    out.push(p);
    for (const child of parents.get(p) ?? []) walk(child);
  };
  walk(pid);
  return out;
}

/** Runs `fn`, recording in `lastCpu` the CPU ms used meanwhile by this process, `workers` (with their children) and redis. */
async function withCpu<T>(workers: ChildProcess[], fn: () => Promise<T>): Promise<T> {
  lastCpu = undefined;
  const linux = process.platform === 'linux';
  const pids = linux ? workers.flatMap((w) => (w.pid === undefined ? [] : processTree(w.pid))) : [];
  const sum = (): number => pids.reduce((total, pid) => total + procCpuMs(pid), 0);
  const before = {
    self: process.cpuUsage(),
    worker: sum(),
    redis: redisPid ? procCpuMs(redisPid) : 0,
  };
  const result = await fn();
  const self = process.cpuUsage(before.self);
  if (linux) {
    lastCpu = {
      submitter: (self.user + self.system) / 1000,
      worker: sum() - before.worker,
      redis: (redisPid ? procCpuMs(redisPid) : 0) - before.redis,
    };
  }
  return result;
}

let queueCount = 0;
const freshQueue = (what: string): string => `bench-${what}-${process.pid}-${++queueCount}`;

function startNodes(
  url: string,
  queue: string,
  count: number,
  concurrency: number,
  workers: number,
): Promise<ChildProcess[]> {
  const args = [CLI, 'worker', '--redis', url, '--queue', queue, '--root', BENCH_DIR];
  const more = ['--concurrency', String(concurrency), '--workers', String(workers)];
  return Promise.all(Array.from({ length: count }, () => startChild([...args, ...more])));
}

const noop = task<() => void>('./distributed-tasks.mjs', 'noop');
const double = task<(x: number) => number>('./distributed-tasks.mjs', 'double');
const wait20 = task<() => Promise<void>>('./distributed-tasks.mjs', 'wait20');

/** Tasks (or items) per second through our executor and `nodeCount` fresh nodes. */
async function ours(
  url: string,
  nodeCount: number,
  concurrency: number,
  run: (ex: DistributedExecutor) => Promise<number>,
  workers = NODE_WORKERS,
): Promise<number> {
  const queue = freshQueue('ours');
  const nodes = await startNodes(url, queue, nodeCount, concurrency, workers);
  const ex = new DistributedExecutor({ connection: url, queue });
  try {
    await ex.ready();
    await Promise.all(Array.from({ length: 100 }, () => ex.submit(noop, [])));
    return await withCpu(nodes, () => run(ex));
  } finally {
    await ex.shutdown();
    await Promise.all(nodes.map(stopChild));
  }
}

/**
 * How a bare contestant runs and awaits its jobs:
 * - `counted`: completions counted from QueueEvents' 'completed' events (the
 *   reference; finished jobs stay in Redis, BullMQ's default);
 * - `awaited`: a promise per job, resolved with the job's return value by its
 *   own 'completed' event, and `removeOnComplete` (what our futures and our
 *   removal of finished jobs do, done with BullMQ's own means);
 * And where its Worker runs the job: `in-process`, `pool` (a local
 * ProcessPoolExecutor of NODE_WORKERS processes, the hop our nodes make) or
 * `sandboxed` (BullMQ's processor file in its child processes).
 */
interface BareMode {
  wait: 'counted' | 'awaited';
  run: 'in-process' | 'pool' | 'sandboxed';
}

/** Jobs per second through bare BullMQ: `jobs` no-op (or double) jobs. */
async function bare(
  url: string,
  name: 'noop' | 'double',
  jobs: number,
  bulk: boolean,
  mode: BareMode = { wait: 'counted', run: 'in-process' },
): Promise<number> {
  const queue = freshQueue('bare');
  const worker = await startChild([
    BARE_WORKER,
    url,
    queue,
    String(CONCURRENCY),
    mode.run,
    String(NODE_WORKERS),
  ]);
  const connection = { url, maxRetriesPerRequest: null };
  const awaited = mode.wait === 'awaited';
  // Awaited jobs have no fallback for events the stream dropped (their jobs
  // are removed): a stream long enough for every event of the run.
  const producer = new Queue(queue, {
    connection,
    ...(awaited ? { streams: { events: { maxLen: 100_000 } } } : {}),
  });
  // From the stream's start (the queue is fresh): no event may be missed
  // between creating the reader and its first XREAD.
  const events = new QueueEvents(queue, { connection, lastEventId: '0-0' });
  let batch = 0;
  try {
    await events.waitUntilReady();
    const countCompletions = async (count: number, add: () => Promise<unknown>): Promise<void> => {
      let done = 0;
      let finish!: () => void;
      const all = new Promise<void>((resolve) => {
        finish = resolve;
      });
      const onCompleted = (): void => {
        if (++done === count) finish();
      };
      events.on('completed', onCompleted);
      // QueueEvents loses events when its reader falls behind the stream's
      // MAXLEN (~10,000 events, ~2,000 jobs): also count completions in Redis.
      const before = await producer.getCompletedCount();
      const poll = setInterval(() => {
        producer.getCompletedCount().then(
          (n) => {
            if (n - before >= count) finish();
          },
          () => {},
        );
      }, 250);
      await add();
      await all;
      clearInterval(poll);
      events.off('completed', onCompleted);
    };
    const awaitEach = async (count: number): Promise<void> => {
      const prefix = `${++batch}.`;
      const waiters = new Map<string, (value: unknown) => void>();
      const onCompleted = ({
        jobId,
        returnvalue,
      }: {
        jobId: string;
        returnvalue: unknown;
      }): void => {
        const resolve = waiters.get(jobId);
        if (resolve === undefined) return;
        waiters.delete(jobId);
        resolve(returnvalue);
      };
      events.on('completed', onCompleted);
      await Promise.all(
        Array.from({ length: count }, (_, x) => {
          const jobId = `${prefix}${x}`;
          // Listening before adding: the event may come before add() resolves.
          const result = new Promise((resolve) => waiters.set(jobId, resolve));
          return producer.add(name, { x }, { jobId, removeOnComplete: true }).then(() => result);
        }),
      );
      events.off('completed', onCompleted);
    };
    const measure = async (count: number): Promise<number> => {
      const t0 = performance.now();
      if (awaited) {
        await awaitEach(count);
      } else {
        await countCompletions(count, async () => {
          if (bulk) {
            for (let i = 0; i < count; i += 1000) {
              const slice = Array.from({ length: Math.min(1000, count - i) }, (_, j) => ({
                name,
                data: { x: i + j },
              }));
              await producer.addBulk(slice);
            }
          } else {
            await Promise.all(Array.from({ length: count }, (_, x) => producer.add(name, { x })));
          }
        });
      }
      return (count / (performance.now() - t0)) * 1000;
    };
    await measure(100);
    return await withCpu([worker], () => measure(jobs));
  } finally {
    await events.close();
    await producer.obliterate({ force: true }).catch(() => {});
    await producer.close();
    await stopChild(worker);
  }
}

interface Series {
  label: string;
  unit: string;
  values: number[];
  note: string;
  /** CPU µs per task of each run, when measured. */
  cpu?: Cpu[];
}

function cpuTable(title: string, rows: Series[]): string {
  const lines = [
    `### ${title}`,
    '',
    '| contestant | submitting process | worker side (with its child processes) | redis-server | total |',
    '|---|--:|--:|--:|--:|',
  ];
  for (const row of rows) {
    const cpu = row.cpu ?? [];
    if (cpu.length === 0) continue;
    const m = (key: keyof Cpu): number => median(cpu.map((c) => c[key]));
    const total = median(cpu.map((c) => c.submitter + c.worker + c.redis));
    lines.push(
      `| ${row.label} | ${fmt(m('submitter'))} | ${fmt(m('worker'))} | ${fmt(m('redis'))} | ${fmt(total)} |`,
    );
  }
  return lines.join('\n');
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const fmt = (value: number): string => Math.round(value).toLocaleString('en-US');

function table(
  title: string,
  rows: Series[],
  reference?: Series,
  goal?: (ratio: number) => string,
): string {
  const lines = [
    `### ${title}`,
    '',
    '| contestant | median | min | max | unit | vs bare BullMQ | notes |',
    '|---|--:|--:|--:|---|---|---|',
  ];
  for (const row of rows) {
    if (row.values.length === 0) {
      lines.push(`| ${row.label} | – | – | – | ${row.unit} |  | ${row.note} |`);
      continue;
    }
    const m = median(row.values);
    const ratio =
      reference !== undefined && reference !== row && reference.values.length > 0
        ? m / median(reference.values)
        : undefined;
    const vs =
      ratio === undefined
        ? row === reference
          ? 'reference'
          : ''
        : `${ratio.toFixed(2)}×${goal ? ` (${goal(ratio)})` : ''}`;
    lines.push(
      `| ${row.label} | ${fmt(m)} | ${fmt(Math.min(...row.values))} | ${fmt(Math.max(...row.values))} | ${row.unit} | ${vs} | ${row.note} |`,
    );
  }
  return lines.join('\n');
}

/** Runs the section; returns its markdown (and whether a measurement failed). */
export async function runDistributedSection(options: {
  quick: boolean;
  rounds: number;
}): Promise<{ markdown: string; failed: boolean }> {
  const heading = '## Distributed: DistributedExecutor against bare BullMQ';
  if (findRedisServer() === undefined) {
    return {
      markdown: `${heading}\n\nskipped: redis-server not found (apt-get install redis-server)`,
      failed: false,
    };
  }
  const sizes = options.quick ? QUICK : FULL;
  const redis = await RedisServer.start();
  redisPid = redis.pid;
  const tinyOurs: Series = {
    label: '**ours**',
    unit: 'tasks/s',
    values: [],
    note: `1 node, concurrency ${CONCURRENCY}, ${NODE_WORKERS} worker processes`,
  };
  const tinyBare: Series = {
    label: 'bare BullMQ',
    unit: 'tasks/s',
    values: [],
    note: `1 Worker, concurrency ${CONCURRENCY}, processor in process; \`add\` per job`,
  };
  const tinyAwaited: Series = {
    label: 'bare BullMQ, each job awaited and removed',
    unit: 'tasks/s',
    values: [],
    note: `as above, but a promise per job resolved by its own 'completed' event, and \`removeOnComplete\` (what our futures and removal do)`,
  };
  const tinyPool: Series = {
    label: 'bare BullMQ + local process pool',
    unit: 'tasks/s',
    values: [],
    note: `as the reference, but the processor runs each job in a ProcessPoolExecutor of ${NODE_WORKERS} processes (the hop our nodes make)`,
  };
  const tinySandboxed: Series = {
    label: 'bare BullMQ, sandboxed',
    unit: 'tasks/s',
    values: [],
    note: `1 Worker, concurrency ${CONCURRENCY}, processor file in BullMQ's child processes (its process isolation)`,
  };
  const mapOurs: Series = {
    label: '**ours**',
    unit: 'items/s',
    values: [],
    note: `map of ${fmt(sizes.mapItems)} items, chunksize ${fmt(sizes.mapChunksize)}`,
  };
  const mapBare: Series = {
    label: 'bare BullMQ',
    unit: 'items/s',
    values: [],
    note: `${fmt(sizes.bareMapItems)} items, one job each (\`addBulk\` by 1,000)`,
  };
  const scaling: Series[] = [1, 2, 3].map((n) => ({
    label: `**ours**, ${n} node${n > 1 ? 's' : ''}`,
    unit: 'tasks/s',
    values: [],
    note: 'concurrency 4 and 4 worker processes per node',
  }));
  let failed = false;
  const attempt = async (
    series: Series,
    what: () => Promise<number>,
    tasks?: number,
  ): Promise<void> => {
    try {
      series.values.push(await what());
      if (tasks !== undefined && lastCpu !== undefined) {
        const perTask = (ms: number): number => (ms * 1000) / tasks;
        series.cpu ??= [];
        series.cpu.push({
          submitter: perTask(lastCpu.submitter),
          worker: perTask(lastCpu.worker),
          redis: perTask(lastCpu.redis),
        });
      }
      process.stderr.write(
        `[distributed] ${series.label} ${series.note}: ${fmt(series.values.at(-1)!)} ${series.unit}\n`,
      );
    } catch (error) {
      failed = true;
      series.note += `; a run failed: ${error instanceof Error ? error.message : String(error)}`;
    }
  };
  const loadStart = os.loadavg()[0] ?? 0;
  try {
    for (let round = 0; round < options.rounds; round++) {
      const tiny = [
        () =>
          attempt(
            tinyOurs,
            () =>
              ours(redis.url, 1, CONCURRENCY, async (ex) => {
                const t0 = performance.now();
                await Promise.all(Array.from({ length: sizes.tiny }, () => ex.submit(noop, [])));
                return (sizes.tiny / (performance.now() - t0)) * 1000;
              }),
            sizes.tiny,
          ),
        () => attempt(tinyBare, () => bare(redis.url, 'noop', sizes.tiny, false), sizes.tiny),
        () =>
          attempt(
            tinyAwaited,
            () =>
              bare(redis.url, 'noop', sizes.tiny, false, { wait: 'awaited', run: 'in-process' }),
            sizes.tiny,
          ),
        () =>
          attempt(
            tinyPool,
            () => bare(redis.url, 'noop', sizes.tiny, false, { wait: 'counted', run: 'pool' }),
            sizes.tiny,
          ),
        () =>
          attempt(
            tinySandboxed,
            () => bare(redis.url, 'noop', sizes.tiny, false, { wait: 'counted', run: 'sandboxed' }),
            sizes.tiny,
          ),
      ];
      // Alternate which goes first, round by round.
      for (const run of round % 2 === 0 ? tiny : tiny.reverse()) await run();
      await attempt(mapOurs, () =>
        ours(redis.url, 1, CONCURRENCY, async (ex) => {
          const items = Array.from({ length: sizes.mapItems }, (_, i) => i);
          const t0 = performance.now();
          await ex.map(double, items, { chunksize: sizes.mapChunksize });
          return (sizes.mapItems / (performance.now() - t0)) * 1000;
        }),
      );
      await attempt(mapBare, () => bare(redis.url, 'double', sizes.bareMapItems, true));
      for (let n = 1; n <= 3; n++) {
        await attempt(scaling[n - 1]!, () =>
          ours(
            redis.url,
            n,
            4,
            async (ex) => {
              const t0 = performance.now();
              await Promise.all(
                Array.from({ length: sizes.scaleTasks }, () => ex.submit(wait20, [])),
              );
              return (sizes.scaleTasks / (performance.now() - t0)) * 1000;
            },
            4,
          ),
        );
      }
    }
  } finally {
    await redis.stop();
  }
  const loadEnd = os.loadavg()[0] ?? 0;
  const markdown = [
    heading,
    '',
    `A throwaway local redis-server (persistence off); the submitting side in this process, ` +
      `nodes and the bare worker as child processes on the same ${os.availableParallelism()}-core machine; ` +
      `${options.rounds} round${options.rounds === 1 ? '' : 's'}, contestants interleaved; ` +
      `load average ${loadStart.toFixed(2)} at start, ${loadEnd.toFixed(2)} at end.`,
    '',
    table(
      `tiny: ${fmt(sizes.tiny)} no-op tasks, one submit each (tasks/s, higher is better)`,
      [tinyOurs, tinyBare, tinyAwaited, tinyPool, tinySandboxed],
      tinyBare,
      (r) => (r >= 0.9 ? 'goal met: within 10%' : 'goal missed: more than 10% slower'),
    ),
    '',
    cpuTable('tiny: CPU time per task (µs, median; lower is better)', [
      tinyOurs,
      tinyBare,
      tinyAwaited,
      tinyPool,
      tinySandboxed,
    ]),
    '',
    table(
      'map: chunked map against one job per item (items/s, higher is better)',
      [mapOurs, mapBare],
      mapBare,
      (r) => (r >= 10 ? 'goal met: >= 10×' : 'goal missed: < 10×'),
    ),
    '',
    table(`scaling: ${fmt(sizes.scaleTasks)} tasks of 20 ms (tasks/s, higher is better)`, scaling),
  ].join('\n');
  return { markdown, failed };
}
