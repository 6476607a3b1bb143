/**
 * TypeScript loader inheritance (docs/typescript.md, "Running TypeScript
 * task modules"): a parent program run with a loader, and no `execArgv`
 * option on its executor, gets `.ts` task modules loaded in its worker
 * processes, because the workers start with the parent's `process.execArgv`
 * (`node --import tsx`) or environment (`NODE_OPTIONS='--import tsx'`).
 *
 * This holds for ProcessPoolExecutor only. On Node 20, loaders registered
 * with `--import` do not run inside `worker_threads`, so a
 * ThreadPoolExecutor cannot load `.ts` task modules, whatever the parent
 * was started with; docs/typescript.md ("Worker threads") says so, and the
 * last test holds the documented failure on Node 20.
 *
 * Each test starts spec/fixtures/ts-loader-parent.mjs as a real program
 * (`process.execPath`, cwd the repository root so that `tsx` resolves from
 * node_modules), reads the one JSON line it prints, and checks that the
 * workers it reported are gone once it exited.
 */

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { isAlive } from '../tools/processes.js';
import { waitUntil } from './support/handshake.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PARENT = fileURLToPath(new URL('../../spec/fixtures/ts-loader-parent.mjs', import.meta.url));

/** What the fixture prints. */
interface Report {
  parentExecArgv: string[];
  value?: number;
  error?: { name: string; message: string };
  workers: number[];
  worker?: { execArgv: string[]; nodeOptions: string | null };
  workersAfterShutdown: number[];
}

/** The environment of this process without NODE_OPTIONS, plus `extra`. */
function environment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (!('NODE_OPTIONS' in extra)) delete env.NODE_OPTIONS;
  return env;
}

/**
 * Runs the fixture to its end; the timeout only turns a hang into a failure.
 * Returns its report once its workers are gone.
 */
async function runParent(
  nodeArgs: string[],
  executor: 'process' | 'thread',
  env: NodeJS.ProcessEnv,
): Promise<Report> {
  const { stdout } = await promisify(execFile)(process.execPath, [...nodeArgs, PARENT, executor], {
    cwd: REPO_ROOT,
    env,
    timeout: 60_000,
  });
  const lines = stdout.trim().split('\n');
  const report = JSON.parse(lines.at(-1) ?? '') as Report;
  expect(report.workersAfterShutdown).to.deep.equal([]);
  if (executor === 'process') {
    expect(report.workers).to.have.length(1);
    for (const pid of report.workers) {
      await waitUntil(() => !isAlive(pid), `worker ${pid} of the finished parent to be gone`);
    }
  }
  return report;
}

describe('TypeScript loader inheritance (real parent programs)', function () {
  this.timeout(90_000);

  it('runs a .ts task module in the workers of a parent started with `node --import tsx`, with no execArgv option (ProcessPoolExecutor)', async () => {
    const report = await runParent(['--import', 'tsx'], 'process', environment());
    expect(report.error).to.equal(undefined);
    expect(report.value).to.equal(7);
    expect(report.parentExecArgv).to.deep.equal(['--import', 'tsx']);
    // The loader reached the worker through its execArgv.
    expect(report.worker?.execArgv).to.deep.equal(['--import', 'tsx']);
    expect(report.worker?.nodeOptions).to.equal(null);
  });

  it("runs a .ts task module in the workers of a parent started with NODE_OPTIONS='--import tsx' (ProcessPoolExecutor)", async () => {
    const report = await runParent([], 'process', environment({ NODE_OPTIONS: '--import tsx' }));
    expect(report.error).to.equal(undefined);
    expect(report.value).to.equal(7);
    expect(report.parentExecArgv).to.deep.equal([]);
    // The loader reached the worker through the environment it inherited.
    expect(report.worker?.execArgv).to.deep.equal([]);
    expect(report.worker?.nodeOptions).to.equal('--import tsx');
  });

  it('fails the .ts task with a TypeError naming the missing loader when the parent has none (ProcessPoolExecutor)', async () => {
    // The control for the two tests above: without a loader in the parent,
    // nothing else would make the .ts module load.
    const report = await runParent([], 'process', environment());
    expect(report.value).to.equal(undefined);
    expect(report.error?.name).to.equal('TypeError');
    expect(report.error?.message).to.include('no TypeScript loader is active');
    expect(report.error?.message).to.include('--import tsx');
  });

  if (Number(process.versions.node.split('.')[0]) < 22) {
    it('on Node 20 a ThreadPoolExecutor cannot load a .ts task module even in a parent started with `node --import tsx`, and says so', async () => {
      const report = await runParent(['--import', 'tsx'], 'thread', environment());
      expect(report.value).to.equal(undefined);
      expect(report.error?.name).to.equal('TypeError');
      // Not "no TypeScript loader is active": the parent has one, it just does not reach threads.
      expect(report.error?.message).to.not.include('no TypeScript loader is active');
      expect(report.error?.message).to.include(
        'loaders such as `--import tsx` do not run in worker threads',
      );
      expect(report.error?.message).to.include('Use ProcessPoolExecutor');
    });
  }
});
