/**
 * The `concurrent-futures` command line (docs/cli.md), driven as a user
 * drives it: the built CLI runs as a child process on real input files and
 * fixture task modules (spec/fixtures/cli/). Tests sequence with files the
 * tasks write (`started-<n>`) or wait for (`release-<n>`), never with sleeps.
 * Every worker pid the tasks recorded must be gone after each test.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { isAlive } from '../tools/processes.js';
import {
  filesStartingWith,
  readText,
  tempDir,
  touch,
  waitForFile,
  waitUntil,
} from './support/handshake.js';

const CLI = fileURLToPath(new URL('../lib/cli/main.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = join(ROOT, 'spec', 'fixtures', 'cli');
/** As a user types it: relative to the working directory (ROOT). */
const TASKS = 'spec/fixtures/cli/tasks.mjs';

// Every Node start pays ~100 ms for it here (docs/performance.md); the CLI
// passes its environment on to its workers.
const ENV = { ...process.env };
delete ENV.NODE_EXTRA_CA_CERTS;

interface OutRecord {
  index: number;
  line: number;
  status: 'ok' | 'failed' | 'crashed' | 'timeout' | 'cancelled' | 'invalid';
  result?: unknown;
  error?: {
    class: string;
    message: string;
    code?: string | number;
    cause?: OutRecord['error'];
    [key: string]: unknown;
  };
  attempts?: number;
}

interface Cli {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** CLIs a test started; one that a failed test left running is killed after it. */
const started = new Set<ChildProcess>();

/** Starts the CLI. `stdin`: text to send and close, or `'open'` to keep the pipe open. */
function startCli(
  args: string[],
  options: { stdin?: string; cwd?: string; detached?: boolean } = {},
): Cli {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? ROOT,
    env: ENV,
    stdio: ['pipe', 'pipe', 'pipe'],
    // Its own process group, as a shell gives a foreground job.
    detached: options.detached === true,
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  // A CLI that exits without reading all of its input closes the pipe.
  child.stdin?.on('error', () => {});
  if (options.stdin !== 'open') child.stdin?.end(options.stdin ?? '');
  started.add(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => {
      started.delete(child);
      resolve({ code, signal });
    });
  });
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function runCli(
  args: string[],
  options: { stdin?: string; cwd?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = startCli(args, options);
  const { code } = await cli.exited;
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

function parseRecords(text: string): OutRecord[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as OutRecord);
}

function jsonl(values: unknown[]): string {
  return values.map((value) => `${JSON.stringify(value)}\n`).join('');
}

/** Pids of every worker that ran a task of this test (the fixture writes pid-<pid>). */
function recordedPids(dir: string): number[] {
  return filesStartingWith(dir, 'pid-').map((name) => Number(name.slice('pid-'.length)));
}

function startedPid(dir: string, n: number): number {
  return Number(readText(join(dir, `started-${n}`)));
}

describe('concurrent-futures CLI', function () {
  this.timeout(60_000);
  let dir: string;
  let cleanup: () => void;
  /** Writes the records to input.jsonl in the test's directory and returns its path. */
  let inputFile: (records: unknown[]) => string;

  beforeEach(() => {
    ({ path: dir, cleanup } = tempDir('cf-cli-'));
    inputFile = (records) => {
      const file = join(dir, 'input.jsonl');
      writeFileSync(file, jsonl(records));
      return file;
    };
  });

  afterEach(async () => {
    // After a failed test its CLI may still run; its workers follow it (they
    // watch their parent), so one failure does not spill into the next test.
    for (const child of started) {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('close', resolve));
    }
    // The CLI's workers are its children, not the test runner's: the root
    // hooks cannot see them, so check every pid the tasks recorded.
    const pids = recordedPids(dir);
    try {
      await waitUntil(
        () => pids.every((pid) => !isAlive(pid)),
        `workers ${pids.join(', ')} to exit`,
      );
    } finally {
      cleanup();
    }
  });

  describe('records', () => {
    it('writes one record per input record, in input order, with index, line number and result', async () => {
      // Record 0 holds back the others until they all started: they finish
      // first, yet must be written after it.
      const records = [{ n: 0, dir, do: 'wait' }, ...[1, 2, 3, 4, 5].map((n) => ({ n, dir }))];
      const cli = startCli(['map', TASKS, 'act', '-w', '2', '-i', inputFile(records)]);
      await waitForFile(join(dir, 'started-5'));
      expect(cli.stdout(), 'nothing may be written before record 0').to.equal('');
      touch(join(dir, 'release-0'));
      const { code } = await cli.exited;
      expect(code).to.equal(0);
      const out = parseRecords(cli.stdout());
      expect(out.map((r) => r.index)).to.deep.equal([0, 1, 2, 3, 4, 5]);
      expect(out.map((r) => r.line)).to.deep.equal([1, 2, 3, 4, 5, 6]);
      expect(out.every((r) => r.status === 'ok')).to.equal(true);
      expect(out.map((r) => r.result)).to.deep.equal([0, 2, 4, 6, 8, 10]);
    });

    it('--unordered writes records as they finish, every index exactly once', async () => {
      const records = [{ n: 0, dir, do: 'wait' }, ...[1, 2, 3, 4, 5].map((n) => ({ n, dir }))];
      const cli = startCli([
        'map',
        TASKS,
        'act',
        '-w',
        '2',
        '--unordered',
        '-i',
        inputFile(records),
      ]);
      await waitUntil(() => parseRecords(cli.stdout()).length === 5, 'records 1 to 5');
      touch(join(dir, 'release-0'));
      const { code } = await cli.exited;
      expect(code).to.equal(0);
      const out = parseRecords(cli.stdout());
      expect(out.at(-1)?.index, 'record 0 finished last').to.equal(0);
      expect(out.map((r) => r.index).sort()).to.deep.equal([0, 1, 2, 3, 4, 5]);
      for (const record of out) expect(record.result).to.equal(record.index * 2);
    });

    it('passes each line as the single argument, and skips blank lines while counting them', async () => {
      const { code, stdout } = await runCli(['map', TASKS, 'double'], {
        stdin: '1\n\n   \n20\r\n300\n',
      });
      expect(code).to.equal(0);
      expect(parseRecords(stdout)).to.deep.equal([
        { index: 0, line: 1, status: 'ok', result: 2 },
        { index: 1, line: 4, status: 'ok', result: 40 },
        { index: 2, line: 5, status: 'ok', result: 600 },
      ]);
    });

    it('records what a task threw: class, message, code and own properties; the others succeed; exit 1', async () => {
      const records = [
        { n: 0, dir },
        { n: 1, dir, do: 'throw' },
        { n: 2, dir, do: 'throw-value' },
        { n: 3, dir, do: 'bigint' },
        { n: 4, dir },
      ];
      const { code, stdout, stderr } = await runCli([
        'map',
        TASKS,
        'act',
        '-w',
        '2',
        '-i',
        inputFile(records),
      ]);
      expect(code).to.equal(1);
      const out = parseRecords(stdout);
      expect(out.map((r) => r.status)).to.deep.equal(['ok', 'failed', 'failed', 'failed', 'ok']);
      expect(out[1]?.error).to.deep.equal({
        class: 'TypeError',
        message: 'record 1 is bad',
        code: 'E_BAD_RECORD',
        detail: 1,
      });
      expect(out[2]?.error).to.deep.equal({
        class: 'string',
        message: 'plain 2',
        value: 'plain 2',
      });
      expect(out[3]?.error?.class).to.equal('TypeError');
      expect(out[3]?.error?.message).to.match(/^the result cannot be written as JSON: .*BigInt/);
      expect(stderr).to.match(/5 records in [\d.]+ s .*: 2 ok, 3 failed\n$/);
    });

    for (const chunksize of ['1', '3']) {
      it(`errors named after Object.prototype members, also from a crash, and an impostor CancelAll are records like any other (--chunksize ${chunksize})`, async () => {
        const records = [
          { n: 0 },
          { n: 1, name: 'toString' },
          { n: 2, name: 'constructor' },
          { n: 3, name: 'hasOwnProperty' },
          { n: 4, impostor: true },
          { n: 5 },
          // Last and, with --chunksize 3, alone in its chunk: a crash fails its whole chunk.
          { n: 6, late: 'valueOf' },
        ];
        const { code, stdout } = await runCli([
          'map',
          'spec/fixtures/cli/odd-errors.mjs',
          'act',
          '-w',
          '1',
          '--chunksize',
          chunksize,
          '-i',
          inputFile(records),
        ]);
        expect(code).to.equal(1);
        const out = parseRecords(stdout);
        expect(out.map((r) => r.index)).to.deep.equal([0, 1, 2, 3, 4, 5, 6]);
        expect(out.map((r) => r.status)).to.deep.equal([
          'ok',
          'failed',
          'failed',
          'failed',
          'failed',
          'ok',
          'crashed',
        ]);
        for (const [i, name] of [
          [1, 'toString'],
          [2, 'constructor'],
          [3, 'hasOwnProperty'],
        ] as const) {
          expect(out[i]?.error).to.include({ class: name, message: `record ${i}` });
        }
        expect(out[4]?.error).to.include({ class: 'CancelAll', message: 'impostor 4' });
        expect(out[4]?.error?.code).to.equal(undefined);
        expect(out[5]?.result).to.equal(5);
        expect(out[6]?.error?.cause).to.include({ class: 'valueOf', message: 'late 6' });
      });
    }

    it('reports malformed lines as invalid records with their line number and goes on', async () => {
      const text = '{"n":0}\n\n{oops\n[1,\n{"n":1}\n';
      const { code, stdout, stderr } = await runCli(['map', TASKS, 'act'], { stdin: text });
      expect(code).to.equal(1);
      const out = parseRecords(stdout);
      expect(out.map((r) => [r.index, r.line, r.status])).to.deep.equal([
        [0, 1, 'ok'],
        [1, 3, 'invalid'],
        [2, 4, 'invalid'],
        [3, 5, 'ok'],
      ]);
      expect(out[1]?.error?.class).to.equal('SyntaxError');
      expect(out[1]?.error?.message).to.match(/^line 3 is not valid JSON: /);
      expect(out[1]?.error?.input).to.equal('{oops');
      expect(stderr).to.match(/2 ok, 2 invalid/);
    });

    it('sends what task code prints on stdout to stderr, so the records stay valid JSON Lines', async () => {
      const records = [0, 1, 2].map((n) => ({ n, dir, do: 'log' }));
      const { code, stdout, stderr } = await runCli([
        'map',
        TASKS,
        'act',
        '-i',
        inputFile(records),
      ]);
      expect(code).to.equal(0);
      expect(parseRecords(stdout).map((r) => r.result)).to.deep.equal([0, 2, 4]);
      expect(stderr).to.include('noise from record 1');
    });

    it('sends what subprocesses of task code print to stderr too, tagged with the worker pid', async () => {
      const records = [0, 1].map((n) => ({ n, dir, do: 'subprocess-log' }));
      const { code, stdout, stderr } = await runCli([
        'map',
        TASKS,
        'act',
        '-i',
        inputFile(records),
      ]);
      expect(code).to.equal(0);
      expect(parseRecords(stdout).map((r) => r.result)).to.deep.equal([0, 2]);
      expect(stderr).to.match(/^\[\d+\] subprocess noise 1$/m);
    });

    it('reads stdin and writes stdout when given -, and writes a file with --output', async () => {
      const piped = await runCli(['map', TASKS, 'double', '--input', '-', '--output', '-'], {
        stdin: '5\n6\n',
      });
      expect(piped.code).to.equal(0);
      expect(parseRecords(piped.stdout).map((r) => r.result)).to.deep.equal([10, 12]);

      const output = join(dir, 'out.jsonl');
      const filed = await runCli(['map', TASKS, 'double', '-o', output], { stdin: '7\n' });
      expect(filed.code).to.equal(0);
      expect(filed.stdout).to.equal('');
      expect(parseRecords(readText(output))).to.deep.equal([
        { index: 0, line: 1, status: 'ok', result: 14 },
      ]);
    });

    it('resolves the module path against the current directory and loads CommonJS modules', async () => {
      const { code, stdout } = await runCli(['map', './tasks.cjs', 'triple'], {
        cwd: FIXTURES,
        stdin: '1\n2\n',
      });
      expect(code).to.equal(0);
      expect(parseRecords(stdout).map((r) => r.result)).to.deep.equal([3, 6]);
    });
  });

  describe('usage errors (exit 2)', () => {
    const cases: Array<{ title: string; args: string[]; message: RegExp }> = [
      { title: 'no command', args: [], message: /missing command: expected 'map' or 'worker'/ },
      {
        title: 'an unknown command',
        args: ['reduce', TASKS],
        message: /unknown command 'reduce': expected 'map'/,
      },
      { title: 'no module', args: ['map'], message: /missing <module>/ },
      {
        title: 'an extra argument',
        args: ['map', TASKS, 'act', 'more'],
        message: /unexpected argument 'more'/,
      },
      {
        title: 'an unknown option',
        args: ['map', TASKS, '--frobnicate'],
        message: /unknown option '--frobnicate'/,
      },
      {
        title: 'a workers count that is not a number',
        args: ['map', TASKS, '--workers', 'many'],
        message: /--workers expects an integer >= 1, got 'many'/,
      },
      {
        title: 'zero workers',
        args: ['map', TASKS, '-w', '0'],
        message: /--workers expects an integer >= 1, got '0'/,
      },
      {
        title: 'a fractional retries count',
        args: ['map', TASKS, '--retries', '1.5'],
        message: /--retries expects an integer >= 0, got '1.5'/,
      },
      {
        title: 'a missing option value',
        args: ['map', TASKS, '--chunksize'],
        message: /--chunksize expects an integer >= 1, got nothing/,
      },
      {
        title: 'a negative timeout',
        args: ['map', TASKS, '--timeout', '-5'],
        message: /--timeout expects an integer number of milliseconds >= 1, got the option '-5'/,
      },
      {
        title: 'a value for a flag',
        args: ['map', TASKS, '--unordered=yes'],
        message: /--unordered takes no value/,
      },
    ];
    for (const { title, args, message } of cases) {
      it(`refuses ${title}, saying what was expected and what was given`, async () => {
        const { code, stdout, stderr } = await runCli(args);
        expect(code).to.equal(2);
        expect(stdout).to.equal('');
        expect(stderr).to.match(message);
        const help =
          args[0] === 'map' ? 'concurrent-futures map --help' : 'concurrent-futures --help';
        expect(stderr).to.include(`Run '${help}' for usage.`);
      });
    }

    // The input pipe stays open: an exit proves the CLI did not wait to read it.
    it('refuses a module that does not exist before reading any input', async () => {
      const cli = startCli(['map', 'spec/fixtures/cli/missing.mjs', 'act'], { stdin: 'open' });
      const { code } = await cli.exited;
      expect(code).to.equal(2);
      expect(cli.stderr()).to.match(
        /expected <module> to be a file, got 'spec\/fixtures\/cli\/missing.mjs', which does not exist/,
      );
    });

    it('refuses a missing export before reading any input, listing the function exports', async () => {
      const cli = startCli(['map', TASKS, 'nope'], { stdin: 'open' });
      const { code } = await cli.exited;
      expect(code).to.equal(2);
      expect(cli.stderr()).to.include(
        `expected <module> '${TASKS}' to export a function named 'nope', got no such export; its function exports are: act, double`,
      );
    });

    it('refuses an export that is not a function', async () => {
      const { code, stderr } = await runCli(['map', TASKS, 'notAFunction']);
      expect(code).to.equal(2);
      expect(stderr).to.match(/named 'notAFunction', got a number/);
    });

    it('refuses a module that throws or exits while loading', async () => {
      const thrown = await runCli(['map', 'spec/fixtures/cli/throws-on-load.mjs'], {
        stdin: 'open',
      });
      expect(thrown.code).to.equal(2);
      expect(thrown.stderr).to.match(/cannot load <module> .*: this module refuses to load/);
      const exited = await runCli(['map', 'spec/fixtures/cli/exits-on-load.mjs'], {
        stdin: 'open',
      });
      expect(exited.code).to.equal(2);
      expect(exited.stderr).to.match(/crashed its worker while loading .*code 9/);
    });

    it('refuses an input file that cannot be read and an output that is the input', async () => {
      const missing = await runCli(['map', TASKS, '-i', join(dir, 'none.jsonl')]);
      expect(missing.code).to.equal(2);
      expect(missing.stderr).to.match(
        /--input expects a readable file, got '.*none.jsonl' \(ENOENT\)/,
      );
      const input = inputFile([1]);
      const same = await runCli(['map', TASKS, 'double', '-i', input, '-o', input]);
      expect(same.code).to.equal(2);
      expect(same.stderr).to.match(/--output expects a file other than the input/);
      expect(readText(input), 'the input is intact').to.equal('1\n');
    });
  });

  describe('help and version', () => {
    it('--help lists both commands, one line each, on stdout and exits 0', async () => {
      for (const args of [['--help'], ['-h']]) {
        const { code, stdout, stderr } = await runCli(args);
        expect(code, args[0]).to.equal(0);
        expect(stderr).to.equal('');
        expect(stdout).to.match(/^Usage: concurrent-futures <command> \[options\]\n/);
        const commands = stdout
          .split('\n')
          .filter((line) => /^ {2}[a-z]/.test(line))
          .map((line) => line.trim().split(/\s+/)[0]);
        expect(commands, args[0]).to.deep.equal(['map', 'worker']);
        expect(stdout).to.match(/^ {2}map <module> \[export\] +\S.*JSON Lines/m);
        expect(stdout).to.match(/^ {2}worker +\S.*Redis/m);
        expect(stdout).to.include("'concurrent-futures <command> --help'");
        expect(stdout).to.include('--version');
      }
    });

    it('map --help prints the usage of map with every option on stdout and exits 0', async () => {
      const { code, stdout } = await runCli(['map', '--help']);
      expect(code).to.equal(0);
      expect(stdout).to.match(/^Usage: concurrent-futures map <module> \[export\] \[options\]/);
      const flags = [
        '--input',
        '--output',
        '--workers',
        '--timeout',
        '--retries',
        '--chunksize',
        '--unordered',
      ];
      flags.push(
        '--fail-fast',
        '--no-progress',
        '--progress-interval',
        '--quiet',
        '--help',
        '--version',
      );
      for (const flag of flags) expect(stdout).to.include(flag);
      expect(stdout).to.match(/130 interrupted/);
    });

    it('--version prints the version of package.json', async () => {
      const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
        version: string;
      };
      const { code, stdout } = await runCli(['--version']);
      expect(code).to.equal(0);
      expect(stdout).to.equal(`concurrent-futures ${pkg.version}\n`);
    });
  });

  describe('chunks', () => {
    it('--chunksize isolates errors per item inside a chunk', async () => {
      const records = [0, 1, 2, 3, 4, 5, 6].map((n) => ({
        n,
        dir,
        ...(n === 1 ? { do: 'throw' } : n === 4 ? { do: 'throw-value' } : {}),
      }));
      const input = inputFile(records);
      const chunked = await runCli(['map', TASKS, 'act', '-w', '2', '-c', '3', '-i', input]);
      expect(chunked.code).to.equal(1);
      const out = parseRecords(chunked.stdout);
      expect(out.map((r) => r.status)).to.deep.equal([
        'ok',
        'failed',
        'ok',
        'ok',
        'failed',
        'ok',
        'ok',
      ]);
      // The same input one item per task gives the same records.
      const single = await runCli(['map', TASKS, 'act', '-w', '2', '-i', input]);
      expect(out).to.deep.equal(parseRecords(single.stdout));
    });

    it('with --chunksize, a crash fails every item of its chunk and the other chunks succeed', async () => {
      const records = [0, 1, 2, 3, 4, 5].map((n) => ({
        n,
        dir,
        ...(n === 1 ? { do: 'exit' } : {}),
      }));
      const { code, stdout } = await runCli([
        'map',
        TASKS,
        'act',
        '-w',
        '1',
        '-c',
        '3',
        '-i',
        inputFile(records),
      ]);
      expect(code).to.equal(1);
      const out = parseRecords(stdout);
      expect(out.map((r) => r.status)).to.deep.equal([
        'crashed',
        'crashed',
        'crashed',
        'ok',
        'ok',
        'ok',
      ]);
      expect(out[0]?.error).to.include({
        class: 'WorkerCrashedError',
        exitCode: 3,
        reason: 'exit',
      });
    });

    it('with --chunksize, a time limit applies to the whole chunk', async () => {
      const records = [
        { n: 0, dir },
        { n: 1, dir, do: 'hang' },
        { n: 2, dir },
        { n: 3, dir },
      ];
      const args = [
        'map',
        TASKS,
        'act',
        '-w',
        '1',
        '-c',
        '2',
        '--timeout',
        '1000',
        '-i',
        inputFile(records),
      ];
      const { code, stdout } = await runCli(args);
      expect(code).to.equal(1);
      expect(parseRecords(stdout).map((r) => r.status)).to.deep.equal([
        'timeout',
        'timeout',
        'ok',
        'ok',
      ]);
    });

    it('a CancelAll inside a chunk cancels the rest of the chunk and the run', async () => {
      const records = [0, 1, 2, 3, 4, 5].map((n) => ({
        n,
        dir,
        ...(n === 1 ? { do: 'cancel-all' } : {}),
      }));
      const { code, stdout, stderr } = await runCli([
        'map',
        TASKS,
        'act',
        '-w',
        '1',
        '-c',
        '3',
        '-i',
        inputFile(records),
      ]);
      expect(code).to.equal(1);
      const out = parseRecords(stdout);
      expect(out.slice(0, 3).map((r) => r.status)).to.deep.equal(['ok', 'failed', 'cancelled']);
      expect(out[1]?.error).to.include({ class: 'CancelAll', reason: 'found 1' });
      expect(out[2]?.error?.message).to.match(/an earlier item of its chunk threw CancelAll/);
      for (const record of out.slice(3)) expect(record.status).to.equal('cancelled');
      expect(existsSync(join(dir, 'started-2')), 'the item after the CancelAll never ran').to.equal(
        false,
      );
      expect(stderr).to.match(/stopped by CancelAll/);
    });
  });

  describe('robustness', () => {
    it('a record that crashes its worker gets a crashed record and the others succeed', async () => {
      const records = [
        { n: 0, dir },
        { n: 1, dir, do: 'exit', code: 7 },
        { n: 2, dir, do: 'kill' },
        { n: 3, dir },
      ];
      const { code, stdout, stderr } = await runCli([
        'map',
        TASKS,
        'act',
        '-w',
        '2',
        '-i',
        inputFile(records),
      ]);
      expect(code).to.equal(1);
      const out = parseRecords(stdout);
      expect(out.map((r) => r.status)).to.deep.equal(['ok', 'crashed', 'crashed', 'ok']);
      expect(out[1]?.error).to.include({
        class: 'WorkerCrashedError',
        code: 'ERR_WORKER_CRASHED',
        exitCode: 7,
        signal: null,
        reason: 'exit',
        pid: startedPid(dir, 1),
      });
      expect(out[2]?.error).to.include({ exitCode: null, signal: 'SIGKILL', reason: 'signal' });
      expect(stderr).to.match(/2 ok, 2 crashed; 2 worker crashes\n$/);
    });

    it('--timeout fails a stuck record and kills its worker; the run goes on', async () => {
      const records = [
        { n: 0, dir },
        { n: 1, dir, do: 'hang' },
        { n: 2, dir },
      ];
      // The stuck record waits the whole limit; the others finish in a few
      // ms of running time (their module's import included).
      const args = ['map', TASKS, 'act', '-w', '2', '--timeout', '1000', '-i', inputFile(records)];
      const { code, stdout } = await runCli(args);
      expect(code).to.equal(1);
      const out = parseRecords(stdout);
      expect(out.map((r) => r.status)).to.deep.equal(['ok', 'timeout', 'ok']);
      expect(out[1]?.error).to.deep.equal({
        class: 'TaskTimeoutError',
        message: out[1]?.error?.message,
        code: 'ERR_TASK_TIMEOUT',
        timeout: 1000,
      });
      expect(isAlive(startedPid(dir, 1)), 'the stuck worker was killed').to.equal(false);
    });

    it('--retries re-runs a record whose worker crashed and counts the retries', async () => {
      const records = [
        { n: 0, dir, do: 'crash-once' },
        { n: 1, dir, do: 'exit' },
        { n: 2, dir },
      ];
      const args = ['map', TASKS, 'act', '-w', '2', '--retries', '1', '-i', inputFile(records)];
      const { code, stdout, stderr } = await runCli(args);
      expect(code).to.equal(1);
      expect(parseRecords(stdout)).to.deep.include.members([
        { index: 0, line: 1, status: 'ok', result: 0, attempts: 2 },
        { index: 2, line: 3, status: 'ok', result: 4 },
      ]);
      const crashed = parseRecords(stdout)[1];
      expect(crashed).to.include({ status: 'crashed', attempts: 2 });
      expect(stderr).to.match(/2 ok, 1 crashed; 3 worker crashes, 2 retries\n$/);
    });

    it('--fail-fast cancels the rest after the first failure; pending records never start', async () => {
      // One worker; every record takes long enough to be sent to it alone.
      const records = [
        { n: 0, dir, ms: 20 },
        { n: 1, dir, ms: 20, do: 'throw' },
        ...[2, 3, 4, 5, 6, 7].map((n) => ({ n, dir, ms: 20 })),
      ];
      const args = ['map', TASKS, 'act', '-w', '1', '--fail-fast', '-i', inputFile(records)];
      const { code, stdout, stderr } = await runCli(args);
      expect(code).to.equal(1);
      const out = parseRecords(stdout);
      expect(out.map((r) => r.index)).to.deep.equal(out.map((_, i) => i));
      expect(out.slice(0, 2).map((r) => r.status)).to.deep.equal(['ok', 'failed']);
      // The window is 4 records per worker, and record 0 had left it: at most 5 were read.
      expect(out.length, 'records beyond the window were never read').to.be.at.most(5);
      for (const record of out.slice(2)) {
        expect(record.status).to.equal('cancelled');
        expect(record.error?.cause).to.include({ class: 'CancelAll' });
        expect(record.error?.cause?.message).to.match(/--fail-fast: record 1 \(line 2\) failed/);
      }
      // Record 2 may have been handed to the worker as record 1 failed; none after it started.
      for (const n of [3, 4, 5, 6, 7])
        expect(existsSync(join(dir, `started-${n}`)), `record ${n}`).to.equal(false);
      expect(stderr).to.match(/stopped by --fail-fast\n$/);
    });

    it('a CancelAll thrown by the function stops the run like --fail-fast', async () => {
      const records = [0, 1, 2, 3, 4, 5].map((n) => ({
        n,
        dir,
        ms: 20,
        ...(n === 1 ? { do: 'cancel-all' } : {}),
      }));
      const { code, stdout, stderr } = await runCli([
        'map',
        TASKS,
        'act',
        '-w',
        '1',
        '-i',
        inputFile(records),
      ]);
      expect(code).to.equal(1);
      const out = parseRecords(stdout);
      expect(out.slice(0, 2).map((r) => r.status)).to.deep.equal(['ok', 'failed']);
      expect(out[1]?.error).to.include({
        class: 'CancelAll',
        code: 'ERR_CANCEL_ALL',
        reason: 'found 1',
      });
      for (const record of out.slice(2)) expect(record.status).to.equal('cancelled');
      expect(stderr).to.match(/stopped by CancelAll\n$/);
    });
  });

  describe('interrupts', () => {
    /** Input whose first records finish and whose record 3 and 4 wait until cancelled. */
    function interruptible(): string {
      return inputFile([
        ...[0, 1, 2].map((n) => ({ n, dir })),
        { n: 3, dir, do: 'wait' },
        { n: 4, dir, do: 'wait' },
        ...[5, 6, 7, 8, 9].map((n) => ({ n, dir })),
      ]);
    }

    for (const [signal, exitCode] of [
      ['SIGINT', 130],
      ['SIGTERM', 143],
    ] as const) {
      it(`on ${signal} to its process group (as from a terminal) it cancels running tasks, writes the finished records, leaves no worker and exits ${exitCode}`, async () => {
        const cli = startCli(['map', TASKS, 'act', '-w', '2', '-i', interruptible()], {
          detached: true,
        });
        await waitUntil(
          () => parseRecords(cli.stdout()).length === 3 && existsSync(join(dir, 'started-3')),
          'three records written and record 3 running',
        );
        const running = startedPid(dir, 3);
        // The workers lead groups of their own: only the CLI gets the signal, so
        // the running records end cancelled by the CLI, not crashed by it.
        process.kill(-cli.child.pid!, signal);
        const { code } = await cli.exited;
        expect(code).to.equal(exitCode);
        const out = parseRecords(cli.stdout());
        expect(out.slice(0, 3).map((r) => [r.index, r.status, r.result])).to.deep.equal([
          [0, 'ok', 0],
          [1, 'ok', 2],
          [2, 'ok', 4],
        ]);
        expect(out.map((r) => r.index)).to.deep.equal(out.map((_, i) => i));
        // Record 3 was running: it ends cancelled. Later records may have
        // finished before the signal (their results are kept) or end
        // cancelled; none crashed, as a worker hit by the signal would have.
        expect(out[3]?.status).to.equal('cancelled');
        for (const record of out.slice(3)) {
          expect(record.status).to.be.oneOf(['ok', 'cancelled']);
          if (record.status === 'cancelled') {
            expect(record.error?.cause?.message).to.include(`interrupted by ${signal}`);
          }
        }
        expect(cli.stderr()).to.match(/; interrupted\n$/);
        expect(isAlive(running), 'the worker of the running task').to.equal(false);
        for (const pid of recordedPids(dir)) expect(isAlive(pid), `worker ${pid}`).to.equal(false);
      });
    }

    it('on SIGINT while waiting for more input on an open pipe, it exits 130 with the records so far', async () => {
      const cli = startCli(['map', TASKS, 'double'], { stdin: 'open' });
      cli.child.stdin?.write('1\n2\n');
      await waitUntil(() => parseRecords(cli.stdout()).length === 2, 'two records written');
      cli.child.kill('SIGINT');
      const { code } = await cli.exited;
      expect(code).to.equal(130);
      expect(parseRecords(cli.stdout()).map((r) => r.result)).to.deep.equal([2, 4]);
      expect(cli.stderr()).to.match(/2 records in [\d.]+ s .*: 2 ok; interrupted\n$/);
    });

    it('a second SIGINT exits at once, still leaving no worker', async () => {
      // This task ignores its signal and SIGTERM: a graceful stop would wait
      // for the grace periods (1 s, then 5 s) before SIGKILL.
      const cli = startCli([
        'map',
        TASKS,
        'act',
        '-w',
        '1',
        '-i',
        inputFile([{ n: 0, dir, do: 'hang-hard' }]),
      ]);
      await waitForFile(join(dir, 'started-0'));
      const stuck = startedPid(dir, 0);
      cli.child.kill('SIGINT');
      await waitUntil(
        () => cli.stderr().includes('SIGINT again exits at once'),
        'the first SIGINT handled',
      );
      cli.child.kill('SIGINT');
      const { code } = await cli.exited;
      expect(code).to.equal(130);
      expect(cli.stderr()).to.include('SIGINT again: exiting at once');
      await waitUntil(() => !isAlive(stuck), `the stuck worker ${stuck} to be gone`);
    });
  });

  describe('progress on stderr', () => {
    it('prints periodic progress lines and a final summary when stderr is not a terminal', async () => {
      const records = [
        { n: 0, dir, do: 'wait' },
        { n: 1, dir },
      ];
      const args = [
        'map',
        TASKS,
        'act',
        '-w',
        '2',
        '--progress-interval',
        '50',
        '-i',
        inputFile(records),
      ];
      const cli = startCli(args);
      await waitUntil(
        () =>
          /^concurrent-futures: 1\/2 \(50%\) .*\| failed 0 \| crashes 0 \| timed out 0 \| retries 0$/m.test(
            cli.stderr(),
          ),
        'a progress line with record 1 done',
      );
      touch(join(dir, 'release-0'));
      const { code } = await cli.exited;
      expect(code).to.equal(0);
      expect(cli.stderr()).to.match(
        /\nconcurrent-futures: 2 records in [\d.]+ s \([\d.]+\/s\): 2 ok\n$/,
      );
    });

    it('--no-progress keeps only the summary and --quiet prints nothing', async () => {
      // The busy record outlasts many 1 ms progress intervals.
      const input = inputFile([{ n: 0, dir, ms: 300 }]);
      const quietish = await runCli([
        'map',
        TASKS,
        'act',
        '--no-progress',
        '--progress-interval',
        '1',
        '-i',
        input,
      ]);
      expect(quietish.code).to.equal(0);
      expect(quietish.stderr).to.match(/^concurrent-futures: 1 record in [\d.]+ s .*: 1 ok\n$/);
      const quiet = await runCli([
        'map',
        TASKS,
        'act',
        '--quiet',
        '--progress-interval',
        '1',
        '-i',
        input,
      ]);
      expect(quiet.code).to.equal(0);
      expect(quiet.stderr).to.equal('');
      expect(parseRecords(quiet.stdout)).to.have.length(1);
    });

    it('draws a progress bar when stderr is a terminal', function () {
      // util-linux `script` runs the CLI on a pseudo-terminal.
      const probe = spawnSync('script', ['--version'], { encoding: 'utf8' });
      if (probe.error !== undefined) this.skip();
      const output = join(dir, 'out.jsonl');
      const input = inputFile([0, 1, 2, 3, 4].map((n) => ({ n, dir })));
      const quote = (text: string): string => `'${text.replaceAll("'", "'\\''")}'`;
      const command = [
        process.execPath,
        CLI,
        'map',
        TASKS,
        'act',
        '-w',
        '2',
        '-i',
        input,
        '-o',
        output,
      ]
        .map(quote)
        .join(' ');
      const result = spawnSync('script', ['-qfec', command, '/dev/null'], {
        cwd: ROOT,
        env: ENV,
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(result.status).to.equal(0);
      const screen = result.stdout;
      expect(screen).to.include('\x1b[?25l'); // the cursor hidden while the bar is drawn
      expect(screen).to.match(
        /\[#{24}\] 5\/5 \(100%\) \| (rate \?|[\d.]+\/s) .*\| failed 0 \| crashes 0/,
      );
      expect(screen).to.match(/concurrent-futures: 5 records in [\d.]+ s .*: 5 ok/);
      expect(parseRecords(readText(output))).to.have.length(5);
    });
  });
  describe('npm start', () => {
    it('the demo isolates a crash, kills a stuck task, counts every other range and stops a search with CancelAll', async () => {
      const demo = spawn(process.execPath, [join(ROOT, 'dist', 'demo', 'demo.js')], {
        cwd: ROOT,
        env: ENV,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      demo.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      demo.stderr?.resume();
      const code = await new Promise<number | null>((resolve) => demo.once('close', resolve));
      expect(code).to.equal(0);
      expect(out).to.include(
        '300 ranges counted: 216,816 primes below 3,000,000 (expected 216,816)',
      );
      expect(out).to.match(
        /Record 100: crashed, WorkerCrashedError: worker \d+ was killed by SIGKILL/,
      );
      expect(out).to.match(/Record 200: timeout, TaskTimeoutError after 3000 ms/);
      expect(out).to.match(/Part 12 found 777,777/);

      // Each command is printed as a reader can run it from the repository
      // root; run the (quick) search again exactly as printed, through npx.
      const commands = out
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line.startsWith('$ '))
        .map((line) => line.slice(2));
      expect(commands).to.have.length(2);
      for (const command of commands) {
        expect(command).to.match(/^npx concurrent-futures map dist\/demo\/tasks\.js \w+ /);
        for (const file of command.match(/dist\/demo\/\S+\.jsonl/g) ?? []) {
          expect(existsSync(join(ROOT, file)), file).to.equal(true);
        }
      }
      const search = commands[1]!;
      rmSync(join(ROOT, 'dist', 'demo', 'data', 'found.jsonl'));
      const again = spawnSync('sh', ['-c', search], {
        cwd: ROOT,
        env: ENV,
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(again.status, `${search}\n${again.stderr}`).to.equal(1);
      expect(again.stderr).to.match(/stopped by CancelAll\n$/);
      const found = parseRecords(readText(join(ROOT, 'dist', 'demo', 'data', 'found.jsonl')));
      expect(found.some((record) => record.error?.class === 'CancelAll')).to.equal(true);
    });
  });
});
