/**
 * Every way a worker process can fail to spawn is a failed start, counted by
 * the circuit breaker like an initializer that throws: a missing `cwd`, a
 * missing node binary, no file descriptors left (EMFILE; EAGAIN, a process
 * limit, takes the same path through `fork` but cannot be provoked by a test
 * running as root). `fork` reports these with an 'error' event and no 'exit',
 * so a worker used to stay "starting" forever: its tasks hung and
 * `shutdown()` never resolved.
 *
 * Each case runs in its own Node process (the EMFILE case starves its whole
 * process of descriptors; the node-binary case changes `process.execPath`),
 * bounded by a generous timeout: a hang shows as a killed run.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const FIXTURE = fileURLToPath(
  new URL('../../spec/fixtures/spawn/spawn-fails.mjs', import.meta.url),
);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Outcome {
  value?: unknown;
  name?: string;
  message?: string;
  cause: { name?: string; code?: string; message?: string };
}

interface Run {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 20_000, cwd: ROOT }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      resolve({ code, signal: error?.signal ?? null, stdout, stderr });
    });
  });
}

function report(result: Run): { outcomes: Outcome[]; spawned: number; spawnedAfter: number } {
  expect(
    result.code,
    `the run ended with code ${result.code}, signal ${result.signal} (a hang is killed after 20 s); stderr: ${result.stderr.slice(-2000)}`,
  ).to.equal(0);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!);
}

describe('spawn failures count as failed starts (ProcessPoolExecutor)', function () {
  this.timeout(60_000);

  const cases = [
    { mode: 'cwd', title: 'a cwd that does not exist', detail: /its cwd \S+ does not exist/ },
    {
      mode: 'node-binary',
      title: 'a node binary that does not exist',
      detail: /the node binary \S+ does not exist/,
    },
  ];
  for (const { mode, title, detail } of cases) {
    it(`fails the futures with BrokenExecutorError for ${title}, and shutdown() resolves`, async () => {
      const { outcomes, spawned, spawnedAfter } = report(
        await run(process.execPath, [FIXTURE, mode]),
      );
      expect(outcomes).to.have.length(3);
      for (const outcome of outcomes) {
        expect(outcome.name).to.equal('BrokenExecutorError');
        expect(outcome.cause.code).to.equal('ENOENT');
        expect(outcome.cause.message).to.match(detail);
      }
      // The breaker counted them: three failed starts (a fourth may have
      // been on its way beside the third, with maxWorkers 2), no respawn loop.
      expect(spawned).to.be.within(3, 4);
      expect(spawnedAfter).to.equal(spawned);
    });
  }

  it('fails the futures with BrokenExecutorError when no file descriptor is left (EMFILE), and shutdown() resolves', async () => {
    const result = await run('/bin/sh', [
      '-c',
      'ulimit -n 256 && exec "$0" "$@"',
      process.execPath,
      FIXTURE,
      'emfile',
    ]);
    const { outcomes, spawned } = report(result);
    for (const outcome of outcomes) {
      expect(outcome.name).to.equal('BrokenExecutorError');
      expect(outcome.cause.code).to.equal('EMFILE');
      expect(outcome.cause.message).to.match(/no file descriptor/);
    }
    expect(spawned).to.be.within(3, 4);
  });
});
