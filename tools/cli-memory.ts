/**
 * Memory check of the CLI: pipes generated JSON Lines through
 * `concurrent-futures map` with a cheap function and reports the CLI's peak
 * RSS (and its workers'), read from /proc (VmHWM) while it runs. Every
 * output record is checked: status ok, in input order.
 *
 *   npm run build && node dist/tools/cli-memory.js [--lines 10000000] [--chunksize 1000]
 *     [--workers 2] [--unordered]
 *
 * Peak RSS staying flat as --lines grows is the point: input is read lazily,
 * at most a window of records is in flight, and output waits for 'drain'.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { childPids } from './processes.js';

const { values } = parseArgs({
  options: {
    lines: { type: 'string', default: '10000000' },
    chunksize: { type: 'string', default: '1000' },
    workers: { type: 'string', default: '2' },
    unordered: { type: 'boolean', default: false },
  },
});
const lines = Number(values.lines);
const CLI = fileURLToPath(new URL('../lib/cli/main.js', import.meta.url));

const dir = mkdtempSync(join(tmpdir(), 'cf-cli-memory-'));
const taskModule = join(dir, 'task.mjs');
writeFileSync(taskModule, 'export const double = (record) => record.n * 2;\n');

/** Peak resident set size of a process in bytes (VmHWM), or 0 once it is gone. */
function peakRss(pid: number): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? 0 : Number(match[1]) * 1024;
  } catch {
    return 0;
  }
}

const env = { ...process.env };
// Each worker start pays ~100 ms for it (docs/performance.md); it measures nothing here.
delete env.NODE_EXTRA_CA_CERTS;
const args = [
  CLI,
  'map',
  taskModule,
  'double',
  '--chunksize',
  values.chunksize,
  '--workers',
  values.workers,
  '--no-progress',
];
if (values.unordered) args.push('--unordered');
const started = performance.now();
const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'], env });
const cliPid = child.pid!;

let cliPeak = 0;
const workerPeaks = new Map<number, number>();
const sampler = setInterval(() => {
  cliPeak = Math.max(cliPeak, peakRss(cliPid));
  for (const pid of childPids(cliPid)) {
    workerPeaks.set(pid, Math.max(workerPeaks.get(pid) ?? 0, peakRss(pid)));
  }
}, 200);

// Writes the input in blocks, waiting for 'drain' like any well-behaved producer.
async function feed(): Promise<void> {
  const stdin = child.stdin!;
  const BLOCK = 10_000;
  for (let from = 0; from < lines; from += BLOCK) {
    let text = '';
    for (let n = from; n < Math.min(lines, from + BLOCK); n++) text += `{"n":${n}}\n`;
    if (!stdin.write(text)) await new Promise((resolve) => stdin.once('drain', resolve));
  }
  stdin.end();
}

let records = 0;
let bad = 0;
let indexSum = 0;
async function drain(): Promise<void> {
  for await (const line of createInterface({ input: child.stdout! })) {
    const index = Number(/^\{"index":(\d+),/.exec(line)?.[1] ?? -1);
    const expected = `"status":"ok","result":${index * 2}}`;
    if (!line.endsWith(expected)) bad++;
    // In completion order, the count and the sum of the indexes check that each came once.
    if (!values.unordered && index !== records) bad++;
    indexSum += index;
    records++;
  }
}

const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
await Promise.all([feed(), drain()]);
const code = await exited;
clearInterval(sampler);
rmSync(dir, { recursive: true, force: true });
const seconds = (performance.now() - started) / 1000;
const mib = (bytes: number): number => Math.round(bytes / 1024 / 1024);
console.log(
  JSON.stringify(
    {
      lines,
      chunksize: Number(values.chunksize),
      workers: Number(values.workers),
      ordered: !values.unordered,
      exitCode: code,
      records,
      badRecords: bad,
      indexesComplete: indexSum === (lines * (lines - 1)) / 2,
      seconds: Number(seconds.toFixed(1)),
      recordsPerSecond: Math.round(records / seconds),
      cliPeakRssMiB: mib(cliPeak),
      workerPeakRssMiB: [...workerPeaks.values()].map(mib),
      node: process.version,
    },
    null,
    2,
  ),
);
process.exitCode =
  code === 0 && bad === 0 && records === lines && indexSum === (lines * (lines - 1)) / 2 ? 0 : 1;
