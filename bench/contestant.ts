/**
 * One measurement in a fresh process:
 *
 *   node dist/bench/contestant.js <contestant> <workload>[,<workload>...] [--quick]
 *
 * prints one JSON line `{ contestant, workload, value, extra }` per workload
 * on stdout. The orchestrator (run.ts) starts one of these per measurement
 * so that contestants never share a process, a heap or a JIT; only the
 * `--quick` smoke run passes several workloads at once (each still gets a
 * fresh pool) to save process starts.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  contestantInfo,
  FULL_SIZES,
  QUICK_SIZES,
  type Sizes,
  WORKERS,
  WORKLOAD_NAMES,
  type WorkloadName,
} from './config.js';

// NODE_EXTRA_CA_CERTS makes every Node process start ~100 ms slower; the
// orchestrator already unsets it, this covers a direct invocation. Children
// (workers, the bare fork) inherit process.env as it is now.
delete process.env.NODE_EXTRA_CA_CERTS;

const TASKS_URL = new URL('../../bench/tasks.mjs', import.meta.url);
const WORKERPOOL_SCRIPT = fileURLToPath(
  new URL('../../bench/workerpool-worker.mjs', import.meta.url),
);
const FORK_ECHO = fileURLToPath(new URL('../../bench/fork-echo.mjs', import.meta.url));
const FORK_ECHO_CJS = fileURLToPath(new URL('../../bench/fork-echo.cjs', import.meta.url));
const TRANSFER_TASKS_URL = new URL('../../bench/tasks-transfer.mjs', import.meta.url);
const PISCINA_TRANSFER_URL = new URL('../../bench/piscina-transfer.mjs', import.meta.url);
const PYTHON_SCRIPT = fileURLToPath(new URL('../../bench/python_pool.py', import.meta.url));

type FnName = 'noop' | 'double' | 'inc' | 'fib' | 'echo';

// Each contestant imports only its own library, and the import is timed
// (reported with the startup workload, where it is not part of the figure).
const importOurs = () => import('../lib/index.js');
const importPiscina = () => import('piscina');
const importWorkerpool = () => import('workerpool');
interface Libraries {
  ours?: Awaited<ReturnType<typeof importOurs>>;
  piscina?: Awaited<ReturnType<typeof importPiscina>>;
  workerpool?: Awaited<ReturnType<typeof importWorkerpool>>;
}
const libs: Libraries = {};

let firstImportMs: number | undefined;

/** Imports the contestant's library once; returns how long the first import took. */
async function loadLibrary(contestant: string): Promise<number> {
  if (firstImportMs !== undefined) return firstImportMs;
  const t0 = performance.now();
  if (contestant.startsWith('ours-')) libs.ours = await importOurs();
  else if (contestant === 'piscina') libs.piscina = await importPiscina();
  else if (contestant.startsWith('workerpool-')) libs.workerpool = await importWorkerpool();
  firstImportMs = performance.now() - t0;
  return firstImportMs;
}

function loaded<T>(lib: T | undefined): T {
  if (lib === undefined) throw new Error('library not loaded');
  return lib;
}

/** The little a workload needs from a pool. */
interface BenchPool {
  call(name: FnName, args: unknown[]): PromiseLike<unknown>;
  /** Sends `bytes` to a worker thread and gets them back, moved both ways (payload-transfer). */
  echoMoved?(bytes: Uint8Array): PromiseLike<Uint8Array>;
  map?(name: FnName, items: number[], chunksize: number): PromiseLike<unknown[]>;
  close(): Promise<void>;
}

interface Measurement {
  value: number;
  extra: Record<string, number>;
}

// Inline flavour of the task functions for our executors: self-contained
// source, sent to each worker once. `fibInline` refers to itself by name,
// which a named function expression allows.
function fibInline(n: number): number {
  return n < 2 ? n : fibInline(n - 1) + fibInline(n - 2);
}
const INLINE: Record<FnName, (...args: any[]) => unknown> = {
  noop: () => undefined,
  double: (x: number) => x * 2,
  inc: (x: number) => x + 1,
  fib: fibInline,
  // The same as bench/tasks.mjs `echo` (an inline function is sent as source: self-contained).
  echo: (bytes: Uint8Array) => {
    let sum = 0;
    for (let i = 0; i < bytes.length; i += 4096) sum = (sum + bytes[i]!) | 0;
    return [bytes.length, sum, bytes.slice()];
  },
};

function ours(
  kind: 'process' | 'thread',
  flavour: 'inline' | 'module',
  observed = false,
): BenchPool {
  const { ProcessPoolExecutor, ThreadPoolExecutor, task, transfer } = loaded(libs.ours);
  const options = { maxWorkers: WORKERS, minWorkers: WORKERS, env: process.env };
  const ex =
    kind === 'process' ? new ProcessPoolExecutor(options) : new ThreadPoolExecutor(options);
  // One function (or reference) for every call, as a user would hold it.
  const echoMove =
    flavour === 'inline'
      ? (b: Uint8Array) => transfer(b, [b.buffer])
      : task<(b: Uint8Array) => Uint8Array>(TRANSFER_TASKS_URL, 'echoMove');
  let poll: NodeJS.Timeout | undefined;
  if (observed) {
    // What a dashboard does: count every event, sample the statistics.
    const seen = { started: 0, finished: 0, failed: 0, samples: 0 };
    ex.on('taskStarted', () => seen.started++);
    ex.on('taskFinished', () => seen.finished++);
    ex.on('taskFailed', () => seen.failed++);
    poll = setInterval(() => {
      seen.samples += ex.stats().runTime.count > 0 ? 1 : 0;
    }, 10);
  }
  const refs = new Map<FnName, unknown>();
  const fnFor = (name: FnName): any => {
    if (flavour === 'inline') return INLINE[name];
    let ref = refs.get(name);
    if (ref === undefined) {
      ref = task(TASKS_URL, name);
      refs.set(name, ref);
    }
    return ref;
  };
  return {
    call: (name, args) => ex.submit(fnFor(name), args as any),
    map: (name, items, chunksize) => ex.map(fnFor(name), items, { chunksize }),
    echoMoved: (bytes) => ex.submit(echoMove, [bytes], { transfer: [bytes.buffer] }),
    close: () => {
      clearInterval(poll);
      return ex.shutdown();
    },
  };
}

function piscina(): BenchPool {
  const { Piscina } = loaded(libs.piscina);
  const pool = new Piscina({ filename: TASKS_URL.href, minThreads: WORKERS, maxThreads: WORKERS });
  return {
    call: (name, args) => pool.run(args[0], { name }),
    echoMoved: (bytes) =>
      pool.run(Piscina.move(bytes), { filename: PISCINA_TRANSFER_URL.href }) as Promise<Uint8Array>,
    close: () => pool.close(),
  };
}

function workerpoolPool(workerType: 'process' | 'thread'): BenchPool {
  const workerpool = loaded(libs.workerpool).default;
  const pool = workerpool.pool(WORKERPOOL_SCRIPT, {
    minWorkers: WORKERS,
    maxWorkers: WORKERS,
    workerType,
    forkOpts: { serialization: 'advanced', env: process.env },
  });
  return {
    call: (name, args) => pool.exec(name, args),
    close: async () => {
      await pool.terminate();
    },
  };
}

function makePool(contestant: string): BenchPool {
  switch (contestant) {
    case 'ours-process':
      return ours('process', 'inline');
    case 'ours-process/module':
      return ours('process', 'module');
    case 'ours-process/observed':
      return ours('process', 'inline', true);
    case 'ours-thread':
      return ours('thread', 'inline');
    case 'ours-thread/module':
      return ours('thread', 'module');
    case 'piscina':
      return piscina();
    case 'workerpool-process':
      return workerpoolPool('process');
    case 'workerpool-thread':
      return workerpoolPool('thread');
    default:
      throw new Error(`no pool for contestant ${contestant}`);
  }
}

const now = (): number => performance.now();

function times<T>(count: number, fn: (i: number) => T): T[] {
  return Array.from({ length: count }, (_, i) => fn(i));
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`wrong result: ${what}`);
}

/** A payload result: `[length, checksum, copy]` of `sent` (bench/tasks.mjs `echo`). */
function checkPayload(out: unknown, sent: Uint8Array): void {
  check(
    Array.isArray(out) &&
      out[0] === sent.byteLength &&
      out[2] instanceof Uint8Array &&
      out[2].byteLength === sent.byteLength &&
      out[2][4096] === sent[4096],
    'payload [length, checksum, copy]',
  );
}

function makeBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = i & 0xff;
  return bytes;
}

async function poolWorkload(
  contestant: string,
  workload: WorkloadName,
  sizes: Sizes,
): Promise<Measurement> {
  const importMs = await loadLibrary(contestant);
  if (workload === 'startup') {
    const t0 = now();
    const pool = makePool(contestant);
    const value = await pool.call('inc', [1]);
    const ms = now() - t0;
    await pool.close();
    check(value === 2, `inc(1) gave ${String(value)}`);
    return { value: ms, extra: { importMs } };
  }

  if (workload === 'cpu') {
    const { fib } = (await import(TASKS_URL.href)) as { fib: (n: number) => number };
    const k = sizes.cpuFibN;
    fib(k);
    let t0 = now();
    const serial = times(sizes.cpuTasks, () => fib(k));
    const serialMs = now() - t0;
    const pool = makePool(contestant);
    try {
      await Promise.all(times(WORKERS * 2, () => pool.call('fib', [k - 5])));
      t0 = now();
      const parallel = await Promise.all(times(sizes.cpuTasks, () => pool.call('fib', [k])));
      const poolMs = now() - t0;
      check(
        parallel.every((v, i) => v === serial[i]),
        'fib',
      );
      return { value: serialMs / poolMs, extra: { poolMs, serialMs } };
    } finally {
      await pool.close();
    }
  }

  const pool = makePool(contestant);
  try {
    if (workload === 'tiny') {
      await Promise.all(times(100, () => pool.call('noop', [])));
      const t0 = now();
      const pending: PromiseLike<unknown>[] = [];
      for (let i = 0; i < sizes.tinyTasks; i++) pending.push(pool.call('noop', []));
      await Promise.all(pending);
      const ms = now() - t0;
      return { value: sizes.tinyTasks / (ms / 1000), extra: { ms } };
    }

    if (workload === 'map-chunked' || workload === 'map-large') {
      const map = pool.map;
      if (map === undefined) throw new Error(`${contestant} has no chunked map`);
      const count = workload === 'map-large' ? sizes.mapItemsLarge : sizes.mapItems;
      const items = times(count, (i) => i);
      const chunksize = sizes.mapChunksize;
      await map('double', items.slice(0, chunksize * WORKERS * 2), chunksize);
      const t0 = now();
      const out = await map('double', items, chunksize);
      const ms = now() - t0;
      check(out.length === items.length && out.at(-1) === (items.length - 1) * 2, 'map');
      return { value: count / (ms / 1000), extra: { ms } };
    }

    if (workload === 'payload-transfer') {
      const echoMoved = pool.echoMoved;
      if (echoMoved === undefined) throw new Error(`${contestant} cannot move buffers`);
      const lanes = times(4 * WORKERS, () => makeBytes(sizes.payloadBytes));
      const roundTrip = async (bytes: Uint8Array): Promise<Uint8Array> => {
        const back = await echoMoved(bytes);
        check(back.byteLength === sizes.payloadBytes && bytes.byteLength === 0, 'moved echo');
        return back;
      };
      // Warm-up: one round trip per lane (each lane keeps the buffer it got back).
      for (let i = 0; i < lanes.length; i++) lanes[i] = await roundTrip(lanes[i]!);
      let left = sizes.payloadTasks;
      const t0 = now();
      await Promise.all(
        lanes.map(async (first) => {
          let bytes = first;
          while (left > 0) {
            left--;
            bytes = await roundTrip(bytes);
          }
        }),
      );
      const ms = now() - t0;
      const mib = (sizes.payloadTasks * sizes.payloadBytes * 2) / (1024 * 1024);
      return { value: mib / (ms / 1000), extra: { ms } };
    }

    // payload: a fresh input per task (one object sent in many tasks would
    // cross once per batch: structured clone writes an object once per
    // message), and the bytes come back nested in the result.
    const bytes = makeBytes(sizes.payloadBytes);
    const echo = (): PromiseLike<void> =>
      pool.call('echo', [bytes.slice()]).then((out) => checkPayload(out, bytes));
    await Promise.all(times(WORKERS, echo));
    const t0 = now();
    await Promise.all(times(sizes.payloadTasks, echo));
    const ms = now() - t0;
    const mib = (sizes.payloadTasks * sizes.payloadBytes * 2) / (1024 * 1024);
    return { value: mib / (ms / 1000), extra: { ms } };
  } finally {
    await pool.close();
  }
}

// ---------------------------------------------------------------- bare fork

let forkScript = FORK_ECHO;

function forkEcho(): ChildProcess {
  return fork(forkScript, [], {
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: process.env,
  });
}

function roundTrip(child: ChildProcess, message: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => {
      reject(new Error(`bare fork exited with ${String(code)}`));
    };
    child.once('exit', onExit);
    child.once('message', (reply) => {
      child.off('exit', onExit);
      resolve(reply);
    });
    child.send(message as any);
  });
}

async function closeChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.disconnect();
  await exited;
}

/** Each of `WORKERS` children does its share of `count` round trips, one at a time. */
async function sequentialRoundTrips(
  count: number,
  message: unknown,
  check: (reply: unknown) => void,
): Promise<number> {
  // A function makes a fresh message per round trip.
  const next = typeof message === 'function' ? (message as () => unknown) : () => message;
  const children = times(WORKERS, forkEcho);
  try {
    await Promise.all(children.map((c) => roundTrip(c, next())));
    const t0 = now();
    await Promise.all(
      children.map(async (child, w) => {
        for (let i = w; i < count; i += WORKERS) check(await roundTrip(child, next()));
      }),
    );
    return now() - t0;
  } finally {
    await Promise.all(children.map(closeChild));
  }
}

async function bareFork(workload: WorkloadName, sizes: Sizes): Promise<Measurement> {
  switch (workload) {
    case 'startup': {
      const t0 = now();
      const child = forkEcho();
      const reply = await roundTrip(child, 1);
      const ms = now() - t0;
      await closeChild(child);
      check(reply === 1, 'bare fork echo');
      return { value: ms, extra: {} };
    }
    case 'tiny': {
      const ms = await sequentialRoundTrips(sizes.tinyTasks, 0, (r) => check(r === 0, 'echo'));
      return { value: sizes.tinyTasks / (ms / 1000), extra: { ms } };
    }
    case 'payload': {
      const bytes = makeBytes(sizes.payloadBytes);
      const ms = await sequentialRoundTrips(
        sizes.payloadTasks,
        () => bytes.slice(),
        (r) => checkPayload(r, bytes),
      );
      const mib = (sizes.payloadTasks * sizes.payloadBytes * 2) / (1024 * 1024);
      return { value: mib / (ms / 1000), extra: { ms } };
    }
    default:
      throw new Error(`bare-fork does not run ${workload}`);
  }
}

// ------------------------------------------------------------------- python

function python(workload: WorkloadName, sizes: Sizes): Promise<Measurement> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', [PYTHON_SCRIPT, workload, JSON.stringify(sizes)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: process.env,
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
    });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code !== 0) {
        reject(new Error(`python3 exited with ${String(code ?? signal)}`));
        return;
      }
      try {
        const parsed = JSON.parse(out.trim().split('\n').at(-1) ?? '') as Measurement;
        resolve({ value: parsed.value, extra: parsed.extra ?? {} });
      } catch (error) {
        reject(new Error(`python3 printed no result: ${out}`, { cause: error }));
      }
    });
  });
}

// --------------------------------------------------------------------- main

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const [contestant, workloadArg] = args.filter((a) => !a.startsWith('--'));
  const info = contestant === undefined ? undefined : contestantInfo(contestant);
  const workloads = (workloadArg ?? '')
    .split(',')
    .map((arg) => WORKLOAD_NAMES.find((w) => w === arg));
  if (info === undefined || workloads.some((w) => w === undefined || info.workloads[w] !== true)) {
    console.error(
      'usage: node dist/bench/contestant.js <contestant> <workload>[,<workload>...] [--quick]\n' +
        `  workloads: ${WORKLOAD_NAMES.join(', ')} (those the contestant runs)`,
    );
    process.exitCode = 2;
    return;
  }
  const sizes = quick ? QUICK_SIZES : FULL_SIZES;
  for (const workload of workloads as WorkloadName[]) {
    let result: Measurement;
    if (info.name === 'bare-fork' || info.name === 'bare-fork-cjs') {
      if (info.name === 'bare-fork-cjs') forkScript = FORK_ECHO_CJS;
      result = await bareFork(workload, sizes);
    } else if (info.name === 'python-mp') result = await python(workload, sizes);
    else result = await poolWorkload(info.name, workload, sizes);
    process.stdout.write(
      `${JSON.stringify({ contestant: info.name, workload, value: result.value, extra: result.extra })}\n`,
    );
  }
}

main().then(
  () => {
    // A pool that keeps the process alive after shutdown would otherwise
    // show up as a timeout; the result is already printed.
    process.exit();
  },
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
