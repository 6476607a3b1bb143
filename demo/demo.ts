/**
 * `npm start`: a short, real demonstration on built-in data, through the
 * command line tool a user would run.
 *
 * 1. Generates JSON Lines (ranges of numbers) in a temp directory and runs
 *    `concurrent-futures map dist/demo/tasks.js countPrimes` over them on
 *    two worker processes, with a progress bar on a terminal. One record
 *    kills its worker with SIGKILL and one hangs in an endless loop: the
 *    crash is isolated, the stuck task is killed at its time limit, and
 *    every other record is counted.
 * 2. A parallel search whose finder throws CancelAll, which stops every
 *    other worker.
 *
 * After each run it reads the CLI's output file and explains the records.
 *
 * Each command is printed as a reader can run it again from the repository
 * root (`npx concurrent-futures map dist/demo/tasks.js ...`), and it is
 * exactly what ran: the demo runs the CLI with the same arguments, from the
 * root, and keeps its input and output files in dist/demo/data/.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PrimeRange, SearchPart } from './tasks.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = fileURLToPath(new URL('../lib/cli/main.js', import.meta.url));
/** Paths as printed and passed to the CLI: relative to the repository root. */
const TASKS = 'dist/demo/tasks.js';
const DATA = 'dist/demo/data';

/** An output record of the CLI (docs/cli.md). */
interface OutRecord {
  index: number;
  line: number;
  status: string;
  result?: unknown;
  error?: { class: string; message: string; [key: string]: unknown };
}

// Every Node process start pays ~100 ms for NODE_EXTRA_CA_CERTS where it
// is set (docs/performance.md); the CLI and its workers need no CA bundle.
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;

/**
 * Prints the command as a reader runs it, then runs the CLI with exactly
 * those arguments from the repository root, with this terminal as its
 * stderr (so its progress bar shows), and returns the exit code.
 */
function cli(args: string[]): Promise<number | null> {
  console.log(`   $ npx concurrent-futures ${args.join(' ')}`);
  const child = spawn(process.execPath, [CLI, ...args], { stdio: 'inherit', env, cwd: ROOT });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  });
}

function readRecords(file: string): OutRecord[] {
  return readFileSync(join(ROOT, file), 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as OutRecord);
}

function writeJsonl(file: string, records: unknown[]): void {
  writeFileSync(join(ROOT, file), records.map((record) => `${JSON.stringify(record)}\n`).join(''));
}

const fmt = (n: number): string => n.toLocaleString('en-US');
const started = performance.now();
mkdirSync(join(ROOT, DATA), { recursive: true });
{
  // Part 1: primes below 3,000,000 in 300 ranges, plus two faulty records.
  const LIMIT = 3_000_000;
  const STEP = 10_000;
  const ranges: PrimeRange[] = [];
  for (let from = 0; from < LIMIT; from += STEP) ranges.push({ from, to: from + STEP });
  ranges.splice(100, 0, { from: 0, to: 1, fault: 'crash' });
  ranges.splice(200, 0, { from: 0, to: 1, fault: 'hang' });
  const input = `${DATA}/ranges.jsonl`;
  const output = `${DATA}/counts.jsonl`;
  writeJsonl(input, ranges);

  console.log(`1. Counting primes below ${fmt(LIMIT)} in ${ranges.length} JSON Lines records`);
  console.log('   (record 100 kills its own worker; record 200 loops forever):');
  const code = await cli([
    'map',
    TASKS,
    'countPrimes',
    '--workers',
    '2',
    '--timeout',
    '3000',
    '--input',
    input,
    '--output',
    output,
  ]);
  const records = readRecords(output);
  const ok = records.filter((r) => r.status === 'ok');
  const total = ok.reduce((sum, r) => sum + (r.result as number), 0);
  console.log(`\n   The output has ${records.length} records, one per input line, in input order.`);
  console.log(
    `   ${ok.length} ranges counted: ${fmt(total)} primes below ${fmt(LIMIT)} (expected 216,816).`,
  );
  for (const record of records.filter((r) => r.status !== 'ok')) {
    const error = record.error!;
    if (record.status === 'crashed') {
      console.log(
        `   Record ${record.index}: ${record.status}, ${error.class}: worker ${error.pid} was killed by ${error.signal};` +
          ' the pool replaced it and the other records went on.',
      );
    } else if (record.status === 'timeout') {
      console.log(
        `   Record ${record.index}: ${record.status}, ${error.class} after ${error.timeout} ms;` +
          ' its worker, stuck in while (true), was killed and replaced.',
      );
    } else {
      console.log(`   Record ${record.index}: ${record.status}, ${error.class}: ${error.message}`);
    }
  }
  console.log(`   Exit code ${code}: some records failed (0 would mean all succeeded).\n`);

  // Part 2: a search that stops every worker once one finds the answer.
  const TARGET = 777_777;
  const SIZE = 62_500;
  const parts: SearchPart[] = Array.from({ length: 16 }, (_, i) => ({
    from: i * SIZE,
    size: SIZE,
    target: TARGET,
  }));
  const searchInput = `${DATA}/parts.jsonl`;
  const searchOutput = `${DATA}/found.jsonl`;
  writeJsonl(searchInput, parts);
  console.log(
    `2. Searching 0..${fmt(16 * SIZE)} in 16 parts; the part that finds ${fmt(TARGET)} throws CancelAll:`,
  );
  const searchCode = await cli([
    'map',
    TASKS,
    'search',
    '--workers',
    '2',
    '--no-progress',
    '--input',
    searchInput,
    '--output',
    searchOutput,
  ]);
  const found = readRecords(searchOutput);
  const finder = found.find((r) => r.error?.class === 'CancelAll');
  const searched = found.filter((r) => r.status === 'ok').length;
  const cancelled = found.filter((r) => r.status === 'cancelled').length;
  console.log(
    `\n   Part ${finder?.index} found ${fmt(Number(finder?.error?.reason))}; ${searched} parts were searched in full before it,`,
  );
  const unread = parts.length - found.length;
  console.log(
    `   ${cancelled} were cancelled (the other running part was stopped, the pending ones never started)` +
      (unread > 0 ? `, and ${unread} were never even read.` : '.'),
  );
  console.log(`   Exit code ${searchCode}: the run was stopped early by CancelAll.\n`);
  console.log(
    `Done in ${((performance.now() - started) / 1000).toFixed(1)} s. The commands above run as printed from the`,
  );
  console.log(
    `repository root; their files stay in ${DATA}/. The CLI: docs/cli.md; the library: README.md.`,
  );
}
