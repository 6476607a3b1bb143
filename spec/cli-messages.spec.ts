/**
 * The CLI's messages that say what to do, and `--fail-fast` on invalid
 * input (issue 11), with the built CLI as a child process as a user runs
 * it (spec/cli.spec.ts holds the rest of docs/cli.md).
 *
 * Sequencing: the fixture tasks write `started-<n>` and wait for
 * `release-<n>`; no sleeps.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
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
/** As a user types them: relative to the working directory (ROOT). */
const TASKS = 'spec/fixtures/cli/tasks.mjs';
const OBJECT_EXPORTS = 'spec/fixtures/messages/object-exports.cjs';
const TS_TASKS = 'spec/fixtures/messages/tasks.ts';

// Every Node start pays ~100 ms for it here (docs/performance.md).
const ENV = { ...process.env };
delete ENV.NODE_EXTRA_CA_CERTS;
delete ENV.NODE_OPTIONS;

interface OutRecord {
  index: number;
  line: number;
  status: string;
  result?: unknown;
  error?: { class: string; message: string; [key: string]: unknown };
}

interface Cli {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

const running = new Set<ChildProcess>();

function startCli(args: string[], stdin = ''): Cli {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: ENV });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  child.stdin.on('error', () => {});
  child.stdin.end(stdin);
  running.add(child);
  const exited = new Promise<number | null>((resolve) => {
    child.once('close', (code) => {
      running.delete(child);
      resolve(code);
    });
  });
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function runCli(
  args: string[],
  stdin = '1\n',
): Promise<{ code: number | null; stderr: string }> {
  const cli = startCli(args, stdin);
  const code = await cli.exited;
  return { code, stderr: cli.stderr() };
}

function parseRecords(text: string): OutRecord[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as OutRecord);
}

describe('CLI messages that say what to do', function () {
  this.timeout(60_000);

  afterEach(async () => {
    for (const child of running) {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('close', resolve));
    }
  });

  it('an unknown option gets a "did you mean" with the option it resembles', async () => {
    for (const [typed, meant] of [
      ['--worker', '--workers'],
      ['--fail_fast', '--fail-fast'],
      ['--timout', '--timeout'],
      ['--progress', '--no-progress'],
      ['--Quiet', '--quiet'],
    ] as const) {
      const { code, stderr } = await runCli(['map', TASKS, 'double', typed]);
      expect(code, typed).to.equal(2);
      expect(stderr).to.equal(
        `concurrent-futures: unknown option '${typed}'; did you mean '${meant}'?\nRun 'concurrent-futures map --help' for usage.\n`,
      );
    }
  });

  it('an unknown option that resembles none gets no guess', async () => {
    const { code, stderr } = await runCli(['map', TASKS, 'double', '--frobnicate']);
    expect(code).to.equal(2);
    expect(stderr).to.match(/^concurrent-futures: unknown option '--frobnicate'\n/);
  });

  it('the default export of a CommonJS module.exports object: "an object", its functions, and the command to type', async () => {
    const { code, stderr } = await runCli(['map', OBJECT_EXPORTS]);
    expect(code).to.equal(2);
    expect(stderr.split('\n')[0]).to.equal(
      `concurrent-futures: expected <module> '${OBJECT_EXPORTS}' to export a function named 'default', got an object (for a CommonJS module, module.exports); its function exports are: double, square; name one after the module: concurrent-futures map ${OBJECT_EXPORTS} double`,
    );
    expect(stderr).to.not.include('a object');
  });

  it('a mistyped export of a CommonJS module.exports object gets a "did you mean"', async () => {
    const { code, stderr } = await runCli(['map', OBJECT_EXPORTS, 'sqare']);
    expect(code).to.equal(2);
    expect(stderr.split('\n')[0]).to.equal(
      `concurrent-futures: expected <module> '${OBJECT_EXPORTS}' to export a function named 'sqare', got no such export; its function exports are: double, square; did you mean 'square'?`,
    );
  });

  it('a TypeScript module without a loader gets the loader hint, not "Unknown file extension"', async () => {
    const { code, stderr } = await runCli(['map', TS_TASKS, 'half']);
    expect(code).to.equal(2);
    expect(stderr.split('\n')[0]).to.equal(
      `concurrent-futures: cannot load <module> '${TS_TASKS}': no TypeScript loader is active. Run the command with one; its workers inherit it: NODE_OPTIONS='--import tsx' npx concurrent-futures map ${TS_TASKS} half`,
    );
  });

  it('the loader hint works: with NODE_OPTIONS=--import tsx the TypeScript module runs', async () => {
    const cli = spawn(process.execPath, [CLI, 'map', TS_TASKS, 'half'], {
      cwd: ROOT,
      env: { ...ENV, NODE_OPTIONS: '--import tsx' },
    });
    running.add(cli);
    let out = '';
    cli.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    cli.stderr.resume();
    cli.stdin.end('8\n');
    const code = await new Promise<number | null>((resolve) => cli.once('close', resolve));
    running.delete(cli);
    expect(code).to.equal(0);
    expect(parseRecords(out)).to.deep.equal([{ index: 0, line: 1, status: 'ok', result: 4 }]);
  });
});

describe('--fail-fast and a line that is not JSON', function () {
  this.timeout(60_000);
  let dir: string;
  let cleanup: () => void;

  beforeEach(() => {
    ({ path: dir, cleanup } = tempDir('cf-cli-invalid-'));
  });

  afterEach(async () => {
    for (const child of running) {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('close', resolve));
    }
    const pids = filesStartingWith(dir, 'pid-').map((name) => Number(name.slice(4)));
    try {
      await waitUntil(
        () => pids.every((pid) => !isAlive(pid)),
        `workers ${pids.join(', ')} to exit`,
      );
    } finally {
      cleanup();
    }
  });

  for (const chunksize of [1, 2]) {
    it(`stops reading at the bad line; the records before it, already running, finish (--chunksize ${chunksize})`, async () => {
      const lines = [
        JSON.stringify({ n: 0, dir, do: 'wait' }),
        JSON.stringify({ n: 1, dir, do: 'wait' }),
        // With chunks of 2 this one waits for its chunk to fill when the bad line comes.
        JSON.stringify({ n: 2, dir }),
        '{oops',
        JSON.stringify({ n: 4, dir }),
      ];
      const input = join(dir, 'input.jsonl');
      writeFileSync(input, `${lines.join('\n')}\n`);
      const cli = startCli([
        'map',
        TASKS,
        'act',
        '-w',
        '2',
        '-c',
        String(chunksize),
        '--fail-fast',
        '--unordered',
        '--no-progress',
        '-i',
        input,
      ]);
      // The invalid record is written once its line was read, which is when the run stopped.
      await waitUntil(
        () => parseRecords(cli.stdout()).some((record) => record.status === 'invalid'),
        'the invalid record',
      );
      // In a chunk, items run one after another: record 1 starts once 0 is released.
      await waitForFile(join(dir, 'started-0'));
      touch(join(dir, 'release-0'));
      await waitForFile(join(dir, 'started-1'));
      touch(join(dir, 'release-1'));
      const code = await cli.exited;
      expect(code).to.equal(1);
      const out = parseRecords(cli.stdout()).sort((a, b) => a.index - b.index);
      expect(out.map(({ index, status }) => ({ index, status }))).to.deep.equal([
        { index: 0, status: 'ok' },
        { index: 1, status: 'ok' },
        { index: 2, status: 'ok' },
        { index: 3, status: 'invalid' },
      ]);
      expect(out.map((record) => record.result)).to.deep.equal([0, 2, 4, undefined]);
      expect(out[3]?.line).to.equal(4);
      expect(existsSync(join(dir, 'started-4')), 'the record after the bad line').to.equal(false);
      expect(cli.stderr()).to.match(/stopped by --fail-fast\n$/);
      expect(readText(join(dir, 'started-0'))).to.match(/^\d+$/);
    });
  }
});
