/**
 * The benchmark orchestrator: `npm run bench` (or `node dist/bench/run.js`).
 *
 * Runs every (workload, contestant) measurement in a fresh child process
 * (contestant.ts), interleaved: for each round, for each workload, every
 * contestant once, in an order rotated per round. Prints a markdown report
 * with one table per workload. It only reports; nothing is asserted.
 *
 *   --rounds <n>          rounds (default 5; 1 with --quick)
 *   --only <w,...>        workloads to run (tiny, map-chunked, map-large, startup, cpu, payload, payload-transfer)
 *   --contestants <c,...> contestants to run (default: all)
 *   --json <file>         also write raw results and the summary as JSON
 *   --quick               smoke variant: tiny sizes, 1 round, a few seconds
 *   --no-distributed      skip the distributed section (bench/distributed.ts)
 *   --distributed-only    run only the distributed section
 *   --no-map-reduce       skip the map-reduce section (bench/map-reduce.ts)
 *   --map-reduce-only     run only the map-reduce section
 *
 * The distributed section (DistributedExecutor against bare BullMQ) runs
 * after the tables when redis-server is installed; see bench/distributed.ts.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  CONTESTANTS,
  type ContestantInfo,
  FULL_SIZES,
  QUICK_SIZES,
  type Sizes,
  WORKERS,
  WORKLOAD_NAMES,
  WORKLOADS,
  type WorkloadName,
} from './config.js';
import { runDistributedSection } from './distributed.js';
import { runMapReduceSection } from './map-reduce.js';

const CONTESTANT_JS = fileURLToPath(new URL('./contestant.js', import.meta.url));
const ROOT = new URL('../../', import.meta.url);

interface Options {
  rounds: number;
  only: WorkloadName[];
  contestants: string[];
  json: string | undefined;
  quick: boolean;
  /** 'also': after the tables; 'only': nothing else; 'no': skipped. */
  distributed: 'also' | 'only' | 'no';
  /** The map-reduce section: 'also': after the tables; 'only': nothing else; 'no': skipped. */
  mapReduce: 'also' | 'only' | 'no';
}

const USAGE = `usage: node dist/bench/run.js [--rounds n] [--only w1,w2] [--contestants c1,c2] [--json file] [--quick] [--no-distributed | --distributed-only]
  workloads:   ${WORKLOAD_NAMES.join(', ')}
  contestants: ${CONTESTANTS.map((c) => c.name).join(', ')}`;

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  let rounds: number | undefined;
  let only: WorkloadName[] = [...WORKLOAD_NAMES];
  let contestants = CONTESTANTS.map((c) => c.name);
  let json: string | undefined;
  let quick = false;
  let distributed: Options['distributed'] = 'also';
  let mapReduce: Options['mapReduce'] = 'also';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) fail(`${arg} needs a value`);
      return v;
    };
    switch (arg) {
      case '--rounds': {
        const v = value();
        rounds = Number(v);
        if (!Number.isInteger(rounds) || rounds < 1)
          fail(`--rounds: expected a positive integer, got ${v}`);
        break;
      }
      case '--only':
        only = value()
          .split(',')
          .map((w) => {
            const found = WORKLOAD_NAMES.find((name) => name === w.trim());
            if (found === undefined) fail(`--only: unknown workload ${w}`);
            return found;
          });
        break;
      case '--contestants':
        contestants = value()
          .split(',')
          .map((c) => {
            const name = c.trim();
            if (!CONTESTANTS.some((info) => info.name === name)) {
              fail(`--contestants: unknown contestant ${name}`);
            }
            return name;
          });
        break;
      case '--json':
        json = value();
        break;
      case '--quick':
        quick = true;
        break;
      case '--no-distributed':
        distributed = 'no';
        break;
      case '--distributed-only':
        distributed = 'only';
        break;
      case '--no-map-reduce':
        mapReduce = 'no';
        break;
      case '--map-reduce-only':
        mapReduce = 'only';
        break;
      case '--help':
      case '-h':
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        fail(`unknown option ${String(arg)}`);
    }
  }
  return {
    rounds: rounds ?? (quick ? 1 : 5),
    only,
    contestants,
    json,
    quick,
    distributed,
    mapReduce,
  };
}

// ------------------------------------------------------------ measurements

interface RawResult {
  round: number;
  contestant: string;
  workload: WorkloadName;
  value?: number;
  extra?: Record<string, number>;
  error?: string;
  /** 1-minute load average just before the measurement. */
  load: number;
  wallMs: number;
}

/**
 * Runs `contestant.js` for one workload (or, in `--quick`, several in one
 * process) and collects one result per workload.
 */
function runContestant(
  contestant: string,
  workloads: WorkloadName[],
  options: Options,
  env: NodeJS.ProcessEnv,
  round: number,
): Promise<RawResult[]> {
  const timeoutMs = options.quick ? 60_000 : 300_000;
  const load = os.loadavg()[0] ?? 0;
  const t0 = performance.now();
  return new Promise((resolve) => {
    const args = [
      CONTESTANT_JS,
      contestant,
      workloads.join(','),
      ...(options.quick ? ['--quick'] : []),
    ];
    // Own process group, so a timeout can take the contestant's workers too.
    const child = spawn(process.execPath, args, {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr = (stderr + s).slice(-4000);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-(child.pid ?? 0), 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    let settled = false;
    const finish = (error: string | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const wallMs = performance.now() - t0;
      const printed = new Map<string, { value: number; extra: Record<string, number> }>();
      for (const line of stdout.split('\n')) {
        try {
          const parsed = JSON.parse(line) as {
            workload: string;
            value: number;
            extra: Record<string, number>;
          };
          if (typeof parsed.value === 'number' && Number.isFinite(parsed.value)) {
            printed.set(parsed.workload, parsed);
          }
        } catch {
          // Not a result line.
        }
      }
      resolve(
        workloads.map((workload): RawResult => {
          const base = { round, contestant, workload, load, wallMs };
          const result = printed.get(workload);
          if (result !== undefined) return { ...base, value: result.value, extra: result.extra };
          return { ...base, error: error ?? 'printed no result' };
        }),
      );
    };
    child.once('error', (error) => finish(error.message));
    child.once('close', (code, signal) => {
      if (code === 0) {
        finish(undefined);
        return;
      }
      const why = timedOut
        ? `timed out after ${timeoutMs / 1000} s`
        : `exited with ${String(code ?? signal)}`;
      // The error message, not the stack frames under it.
      const stderrLines = stderr.split('\n').map((l) => l.trim());
      const detail =
        stderrLines.find((l) => /^([\w.]*Error|Error)\b/.test(l) && !l.startsWith('at ')) ??
        stderrLines.filter((l) => l !== '').at(-1) ??
        '';
      finish(`${why}${detail ? `: ${detail}` : ''}`);
    });
  });
}

// ------------------------------------------------------------------ report

interface Row {
  contestant: string;
  kind: ContestantInfo['kind'];
  median?: number;
  min?: number;
  max?: number;
  runs: number;
  failures: number;
  vsBestPeer?: string;
  vsFloor?: string;
  notes: string[];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? Number.NaN)
    : ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2;
}

function fmt(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function fmtMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
}

function compare(value: number, reference: number, workload: WorkloadName): string {
  const info = WORKLOADS[workload];
  const factor = info.higherIsBetter ? value / reference : reference / value;
  const [better, worse] = workload === 'cpu' ? ['higher', 'lower'] : ['faster', 'slower'];
  if (Math.abs(factor - 1) < 0.005) return '1.00× (same)';
  return factor > 1 ? `${factor.toFixed(2)}× ${better}` : `${(1 / factor).toFixed(2)}× ${worse}`;
}

function summarize(
  workload: WorkloadName,
  results: RawResult[],
  contestants: ContestantInfo[],
  skipped: Map<string, string>,
): Row[] {
  const info = WORKLOADS[workload];
  const rows: Row[] = [];
  for (const c of contestants) {
    const skip =
      skipped.get(c.name) ??
      (typeof c.workloads[workload] === 'string' ? c.workloads[workload] : undefined);
    if (c.workloads[workload] === undefined) continue;
    const mine = results.filter((r) => r.workload === workload && r.contestant === c.name);
    if (skip !== undefined && mine.length === 0) {
      rows.push({ contestant: c.name, kind: c.kind, runs: 0, failures: 0, notes: [skip] });
      continue;
    }
    const values = mine.flatMap((r) => (r.value === undefined ? [] : [r.value]));
    const errors = mine.flatMap((r) => (r.error === undefined ? [] : [r.error]));
    const row: Row = {
      contestant: c.name,
      kind: c.kind,
      runs: mine.length,
      failures: errors.length,
      notes: [],
    };
    if (values.length > 0) {
      row.median = median(values);
      row.min = Math.min(...values);
      row.max = Math.max(...values);
    }
    const extra = (key: string): number[] =>
      mine.flatMap((r) => (r.extra?.[key] === undefined ? [] : [r.extra[key]]));
    if (workload === 'startup') {
      const importMs = extra('importMs');
      if (importMs.length > 0) {
        row.notes.push(`library import ${fmtMs(median(importMs))} before the clock starts`);
      }
    }
    if (workload === 'cpu') {
      const poolMs = extra('poolMs');
      const serialMs = extra('serialMs');
      if (poolMs.length > 0 && serialMs.length > 0) {
        row.notes.push(`pool ${fmtMs(median(poolMs))}, serial ${fmtMs(median(serialMs))}`);
      }
    }
    if (errors.length > 0) {
      row.notes.push(`${errors.length} of ${mine.length} runs failed: ${errors[0]}`);
    }
    rows.push(row);
  }
  const bestOf = (kind: ContestantInfo['kind']): Row | undefined => {
    let best: Row | undefined;
    for (const row of rows) {
      if (row.kind !== kind || row.median === undefined) continue;
      if (
        best?.median === undefined ||
        (info.higherIsBetter ? row.median > best.median : row.median < best.median)
      ) {
        best = row;
      }
    }
    return best;
  };
  const bestPeer = bestOf('peer');
  const floor = bestOf('floor');
  for (const row of rows) {
    if (row.median === undefined) continue;
    if (bestPeer?.median !== undefined) {
      row.vsBestPeer =
        row === bestPeer ? 'best peer' : compare(row.median, bestPeer.median, workload);
    }
    if (floor?.median !== undefined) {
      row.vsFloor = row === floor ? 'floor' : compare(row.median, floor.median, workload);
    }
  }
  return rows;
}

function table(workload: WorkloadName, rows: Row[], sizes: Sizes): string {
  const info = WORKLOADS[workload];
  const hasFloor = rows.some((r) => r.kind === 'floor');
  const lines = [
    `### ${info.title(sizes)} (${info.unit}, ${info.higherIsBetter ? 'higher' : 'lower'} is better)`,
    '',
    info.describe(sizes),
    '',
    `| contestant | median | min | max | unit | vs best peer |${hasFloor ? ' vs floor |' : ''} notes |`,
    `|---|--:|--:|--:|---|---|${hasFloor ? '---|' : ''}---|`,
  ];
  for (const row of rows) {
    const cells = [
      row.kind === 'ours' ? `**${row.contestant}**` : row.contestant,
      row.median === undefined ? '–' : fmt(row.median),
      row.min === undefined ? '–' : fmt(row.min),
      row.max === undefined ? '–' : fmt(row.max),
      row.median === undefined ? '' : info.unit,
      row.vsBestPeer ?? '',
      ...(hasFloor ? [row.vsFloor ?? ''] : []),
      row.notes.join('; ').replaceAll('|', '\\|'),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

// ------------------------------------------------------------ environment

function packageVersion(name: string): string {
  try {
    const url = new URL(name === '.' ? 'package.json' : `node_modules/${name}/package.json`, ROOT);
    return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

function pythonVersion(env: NodeJS.ProcessEnv): string | undefined {
  const probe = spawnSync(
    'python3',
    ['-c', 'import multiprocessing, sys; multiprocessing.Lock(); print(sys.version.split()[0])'],
    { env, encoding: 'utf8', timeout: 10_000 },
  );
  return probe.status === 0 ? probe.stdout.trim() : undefined;
}

/** The commit the library was built from, and whether lib/ has uncommitted changes. */
function gitRevision(): string {
  const cwd = fileURLToPath(ROOT);
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8' });
  if (head.status !== 0) return 'not a git checkout';
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'lib'], { cwd, encoding: 'utf8' });
  return `git ${head.stdout.trim()}${dirty.stdout.trim() === '' ? '' : ', lib/ with uncommitted changes'}`;
}

/** Median wall time of `node -e 0`, in ms. */
function nodeStartMs(env: NodeJS.ProcessEnv, samples: number): number {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    spawnSync(process.execPath, ['-e', '0'], { env, stdio: 'ignore' });
    times.push(performance.now() - t0);
  }
  return median(times);
}

// -------------------------------------------------------------------- main

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  if (options.mapReduce === 'only') {
    await mapReduceSection(options);
    return;
  }
  if (options.distributed === 'only') {
    await distributedSection(options);
    return;
  }
  const sizes = options.quick ? QUICK_SIZES : FULL_SIZES;
  const startedAt = new Date();

  // NODE_EXTRA_CA_CERTS costs every Node process start ~100 ms (the
  // certificates are loaded eagerly); it is removed for all contestants alike.
  const caCerts = process.env.NODE_EXTRA_CA_CERTS;
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;

  const python = options.contestants.includes('python-mp') ? pythonVersion(env) : undefined;
  const skippedEverywhere = new Map<string, string>();
  if (options.contestants.includes('python-mp') && python === undefined) {
    skippedEverywhere.set(
      'python-mp',
      'skipped: `python3` with a working multiprocessing not found',
    );
  }

  const contestants = CONTESTANTS.filter((c) => options.contestants.includes(c.name));
  let startNote: string | undefined;
  if (caCerts !== undefined) {
    startNote =
      `NODE_EXTRA_CA_CERTS was set (${caCerts}); it is unset for every contestant process and ` +
      'their workers alike.';
    if (!options.quick) {
      const samples = 7;
      const without = nodeStartMs(env, samples);
      const withCa = nodeStartMs({ ...env, NODE_EXTRA_CA_CERTS: caCerts }, samples);
      startNote +=
        ` \`node -e 0\` on this machine: ${withCa.toFixed(0)} ms with it, ` +
        `${without.toFixed(0)} ms without (median of ${samples}).`;
    }
  }

  // One job per process. A full run measures one workload per process, in
  // rounds; `--quick` gives each contestant one process for all its
  // workloads (each with a fresh pool), which saves most process starts.
  const plan: Array<{ round: number; contestant: string; workloads: WorkloadName[] }> = [];
  const runs = (c: ContestantInfo, workload: WorkloadName): boolean =>
    c.workloads[workload] === true && !skippedEverywhere.has(c.name);
  for (let round = 0; round < options.rounds; round++) {
    if (options.quick) {
      for (const c of contestants) {
        const workloads = options.only.filter((w) => runs(c, w));
        if (workloads.length > 0) plan.push({ round: round + 1, contestant: c.name, workloads });
      }
      continue;
    }
    for (const workload of options.only) {
      const runnable = contestants.filter((c) => runs(c, workload));
      // Rotate the order each round so no contestant always goes first or last.
      const shift = runnable.length === 0 ? 0 : round % runnable.length;
      for (const c of [...runnable.slice(shift), ...runnable.slice(0, shift)]) {
        plan.push({ round: round + 1, contestant: c.name, workloads: [workload] });
      }
    }
  }

  const loadStart = os.loadavg();
  const results: RawResult[] = [];
  let step = 0;
  for (const item of plan) {
    step++;
    const batch = await runContestant(item.contestant, item.workloads, options, env, item.round);
    results.push(...batch);
    for (const result of batch) {
      const shown =
        result.value === undefined
          ? `FAILED: ${result.error ?? ''}`
          : `${fmt(result.value)} ${WORKLOADS[result.workload].unit}`;
      console.error(
        `[${step}/${plan.length}] round ${item.round} ${result.workload} ${item.contestant}: ${shown}`,
      );
    }
  }
  const loadEnd = os.loadavg();

  const cpus = os.cpus();
  const lines: string[] = [
    `## concurrent-futures benchmark${options.quick ? ' (quick smoke run: tiny sizes, figures not meaningful)' : ''}`,
    '',
    `- date: ${startedAt.toISOString()}`,
    `- machine: ${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ` +
      `${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${os.type()} ${os.release()} ${os.arch()}; ` +
      `load average ${loadStart[0]?.toFixed(2)} at start, ${loadEnd[0]?.toFixed(2)} at end`,
    `- node ${process.version}, python ${python ?? 'not available'}; ` +
      `concurrent-futures ${packageVersion('.')} (${gitRevision()}), piscina ${packageVersion('piscina')}, ` +
      `workerpool ${packageVersion('workerpool')}`,
    `- ${options.rounds} round${options.rounds === 1 ? '' : 's'}; ` +
      (options.quick
        ? 'one process per contestant and round running all its workloads, each with a fresh pool; '
        : 'each measurement in a fresh process; per round every workload runs every contestant ' +
          'once, order rotated per round; ') +
      `${WORKERS} workers for every contestant (min = max where the library has both)`,
  ];
  if (startNote !== undefined) lines.push(`- ${startNote}`);
  lines.push('', 'Contestants:', '');
  for (const c of contestants) lines.push(`- \`${c.name}\`: ${c.setup}`);
  for (const workload of options.only) {
    const rows = summarize(workload, results, contestants, skippedEverywhere);
    lines.push('', table(workload, rows, sizes));
  }
  console.log(lines.join('\n'));

  if (options.json !== undefined) {
    const summary = Object.fromEntries(
      options.only.map((w) => [w, summarize(w, results, contestants, skippedEverywhere)]),
    );
    writeFileSync(
      options.json,
      `${JSON.stringify(
        {
          date: startedAt.toISOString(),
          node: process.version,
          python: python ?? null,
          cpus: cpus.length,
          cpuModel: cpus[0]?.model ?? null,
          loadStart,
          loadEnd,
          rounds: options.rounds,
          quick: options.quick,
          sizes,
          note: startNote ?? null,
          results,
          summary,
        },
        null,
        2,
      )}\n`,
    );
  }

  if (results.some((r) => r.error !== undefined)) process.exitCode = 1;
  if (options.mapReduce === 'also') await mapReduceSection(options);
  if (options.distributed === 'also') await distributedSection(options);
}

async function mapReduceSection(options: Options): Promise<void> {
  const section = await runMapReduceSection({ quick: options.quick, rounds: options.rounds });
  console.log(`\n${section.markdown}`);
  if (section.failed) process.exitCode = 1;
}

async function distributedSection(options: Options): Promise<void> {
  const section = await runDistributedSection({
    quick: options.quick,
    rounds: options.quick ? 1 : Math.min(options.rounds, 3),
  });
  console.log(`\n${section.markdown}`);
  if (section.failed) process.exitCode = 1;
}

await main();
