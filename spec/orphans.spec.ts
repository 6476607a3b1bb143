/**
 * Workers never outlive their parent. Each test runs a separate parent
 * program (spec/fixtures/robust/orphan-parent.mjs) whose workers spin in
 * `while (true) {}`, ends that parent in some way, and checks that every
 * recorded worker pid is gone.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { ProcessPoolExecutor, TaskTimeoutError } from '../lib/index.js';
import { spawnReaper } from '../lib/transport/reaper.js';
import { childPids, isAlive } from '../tools/processes.js';
import { rejectionOf } from './support/futures.js';
import { tempDir, waitUntil } from './support/handshake.js';

const PARENT = new URL('../../spec/fixtures/robust/orphan-parent.mjs', import.meta.url);
const TREE_PARENT = new URL('../../spec/fixtures/trust/grandchildren-parent.mjs', import.meta.url);
const ENTRY = new URL('../lib/index.js', import.meta.url).href;

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startParent(
  mode: string,
  dir: string,
  detached = false,
  program = PARENT,
  workers = 2,
): Run {
  const child = spawn(process.execPath, [program.pathname, mode, dir, ENTRY, String(workers)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached,
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function readyPids(run: Run, dir: string): Promise<number[]> {
  await waitUntil(
    () => run.stdout().includes('ready') || run.child.exitCode !== null,
    'the parent program to be ready',
  );
  const file = join(dir, 'pids.json');
  expect(existsSync(file), `pids.json missing; stderr: ${run.stderr()}`).to.equal(true);
  return JSON.parse(readFileSync(file, 'utf8')) as number[];
}

async function expectAllGone(pids: number[]): Promise<number> {
  const started = Date.now();
  await waitUntil(
    () => pids.every((pid) => !isAlive(pid)),
    `workers ${pids.join(', ')} to exit`,
    15_000,
  );
  return Date.now() - started;
}

/** The reaper (lib/transport/reaper.ts) among the children of `parent`, found by its name in its command line. */
function reaperOf(parent: number): number | undefined {
  return childPids(parent).find((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('concurrent-futures-reaper');
    } catch {
      return false;
    }
  });
}

describe('no orphan workers', function () {
  this.timeout(60_000);
  let dir: { path: string; cleanup: () => void };
  beforeEach(() => {
    dir = tempDir('cf-orphans-');
  });
  afterEach(() => dir.cleanup());

  for (const signal of ['SIGKILL', 'SIGTERM', 'SIGINT'] as const) {
    it(`workers spinning in an endless loop exit after the parent is killed with ${signal}`, async () => {
      const run = startParent('spin', dir.path);
      const pids = await readyPids(run, dir.path);
      expect(pids).to.have.length(2);
      for (const pid of pids) expect(isAlive(pid)).to.equal(true);
      run.child.kill(signal);
      const ended = await run.exited;
      expect(ended.signal).to.equal(signal);
      await expectAllGone(pids);
    });
  }

  for (const mode of ['idle', 'spin'] as const) {
    it(`processes started by tasks die with the ${mode === 'idle' ? 'idle' : 'spinning'} workers when the parent is killed with SIGKILL, also those in a process group of their own`, async () => {
      const run = startParent(mode, dir.path, false, TREE_PARENT);
      const pids = await readyPids(run, dir.path);
      // Two workers (or one, idle) and two grandchildren per task.
      expect(pids.length).to.be.at.least(5);
      try {
        for (const pid of pids) expect(isAlive(pid), `pid ${pid}`).to.equal(true);
        run.child.kill('SIGKILL');
        await run.exited;
        // Generous: the deadline only bounds a hang (docs/robustness.md
        // states the measured time).
        await expectAllGone(pids);
      } finally {
        // Grandchildren outlive a failed run otherwise: they are not children of this process.
        for (const pid of pids) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // Gone, as it should be.
          }
        }
      }
    });
  }

  it('spinning workers still die with the parent after their reaper process was killed', async function () {
    if (!existsSync('/proc')) this.skip();
    const run = startParent('spin', dir.path);
    const pids = await readyPids(run, dir.path);
    const parent = run.child.pid!;
    let first: number | undefined;
    await waitUntil(() => {
      first = reaperOf(parent);
      return first !== undefined;
    }, 'the reaper to start');
    process.kill(first!, 'SIGKILL');
    // The parent starts another one with the live workers.
    let second: number | undefined;
    await waitUntil(() => {
      second = reaperOf(parent);
      return second !== undefined && second !== first;
    }, 'a new reaper');
    run.child.kill('SIGKILL');
    await run.exited;
    await expectAllGone(pids);
    await waitUntil(() => !isAlive(second!), 'the reaper to end');
  });

  it('a finished shutdown() leaves no process behind, the reaper included', async function () {
    if (!existsSync('/proc')) this.skip();
    // Several rounds: the reaper used to end after shutdown() had resolved
    // (it reads its "quit" line asynchronously), so a check right after
    // could see it; one round did not always show it.
    for (let round = 0; round < 5; round++) {
      const pool = new ProcessPoolExecutor({ maxWorkers: 2 });
      try {
        const pids = await Promise.all([0, 1].map(() => pool.submit(() => process.pid).result()));
        expect(reaperOf(process.pid), 'a reaper while workers live').to.be.a('number');
        expect(pids.every((pid) => isAlive(pid))).to.equal(true);
      } finally {
        await pool.shutdown();
      }
      expect(childPids(process.pid), `round ${round}`).to.deep.equal([]);
    }
  });

  it('a reaper kills the workers it was started with even if its parent dies before writing a line to it', async function () {
    if (!existsSync('/proc')) this.skip();
    // What a parent killed right after starting a new reaper leaves: a
    // reaper whose pipe closes with nothing written. Two spinning processes
    // stand in for workers.
    const spinners = [0, 1].map(() =>
      spawn(process.execPath, ['-e', 'while (true) {}'], { stdio: 'ignore', detached: true }),
    );
    const pids = spinners.map((child) => child.pid!);
    try {
      const reaper = spawnReaper(pids);
      reaper.stdin?.end();
      await expectAllGone(pids);
      await waitUntil(
        () => reaper.exitCode !== null || reaper.signalCode !== null,
        'the reaper to end',
      );
    } finally {
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Gone, as it should be.
        }
      }
    }
  });

  it('a pool of many spinning workers leaves none behind when the parent is killed with SIGKILL', async () => {
    const run = startParent('spin', dir.path, false, PARENT, 6);
    const pids = await readyPids(run, dir.path);
    expect(pids).to.have.length(6);
    for (const pid of pids) expect(isAlive(pid)).to.equal(true);
    run.child.kill('SIGKILL');
    await run.exited;
    await expectAllGone(pids);
  });

  it('a worker killed for its time limit takes the processes its task started with it, also one in a group of its own', async () => {
    const pool = new ProcessPoolExecutor({ maxWorkers: 1, cancelGrace: 100 });
    let pids: number[] = [];
    try {
      const stuck = pool.submit(
        (d: string) => {
          const { spawn: start } = process.getBuiltinModule(
            'node:child_process',
          ) as typeof import('node:child_process');
          const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
          const inGroup = start('sleep', ['1000'], { stdio: 'ignore' });
          const ownGroup = start('sleep', ['1000'], { stdio: 'ignore', detached: true });
          fs.writeFileSync(`${d}/pids.json`, JSON.stringify([inGroup.pid, ownGroup.pid]));
          while (true) {}
        },
        [dir.path],
        { timeout: 300 },
      );
      // The file may be seen while the worker is still writing it: wait
      // until it holds the whole list.
      await waitUntil(() => {
        const file = join(dir.path, 'pids.json');
        if (!existsSync(file)) return false;
        try {
          pids = JSON.parse(readFileSync(file, 'utf8')) as number[];
          return true;
        } catch {
          return false;
        }
      }, 'the task to start its processes');
      expect(await rejectionOf(stuck)).to.be.instanceOf(TaskTimeoutError);
      await expectAllGone(pids);
    } finally {
      await pool.shutdown();
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Gone, as it should be.
        }
      }
    }
  });

  it('workers exit when the parent ends normally without calling shutdown()', async () => {
    const run = startParent('idle', dir.path);
    const pids = await readyPids(run, dir.path);
    const ended = await run.exited;
    expect(ended.code).to.equal(0);
    await expectAllGone(pids);
  });

  it('spinning workers are killed when the parent calls process.exit() without shutdown()', async () => {
    const run = startParent('exit', dir.path);
    const pids = await readyPids(run, dir.path);
    const ended = await run.exited;
    expect(ended.code).to.equal(0);
    await expectAllGone(pids);
  });

  it('a terminal Ctrl-C reaches only the parent, which cancels its tasks and shuts down cleanly', async () => {
    // The parent leads its own process group, like a shell's foreground job;
    // SIGINT goes to the whole group, as a terminal's Ctrl-C does.
    const run = startParent('sigint', dir.path, true);
    const pids = await readyPids(run, dir.path);
    process.kill(-run.child.pid!, 'SIGINT');
    const ended = await run.exited;
    expect(ended.code, run.stderr()).to.equal(130);
    expect(JSON.parse(run.stdout().split('\n').filter(Boolean).at(-1)!)).to.deep.equal([
      'CancelledError:CancelAll',
      'CancelledError:CancelAll',
    ]);
    expect(run.stderr()).to.not.match(/WorkerCrashedError|SIGINT/);
    await expectAllGone(pids);
  });
});
