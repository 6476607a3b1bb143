/**
 * The circuit breaker of docs/robustness.md, with real workers: a pool whose
 * workers cannot start at all fails its futures with BrokenExecutorError
 * (whose `cause` is the start error) after a bounded number of attempts,
 * instead of respawning forever, and still shuts down.
 *
 * "Bounded" is counted, never timed: every worker start is a
 * `workerSpawned` event. The engine declares the executor broken after
 * MAX_START_FAILURES (3) workers in a row failed to start; with
 * `maxWorkers` workers starting side by side, at most `maxWorkers - 1`
 * more may already be on their way by then. A respawn loop would show as
 * a count that goes on growing after the executor broke; the tests check
 * that later submissions fail at once and start nothing.
 */
import { join } from 'node:path';
import { expect } from 'chai';
import {
  BrokenExecutorError,
  type Future,
  ProcessPoolExecutor,
  type ProcessPoolOptions,
  ThreadPoolExecutor,
  WorkerCrashedError,
} from '../lib/index.js';
import { rejectionOf } from './support/futures.js';
import { readText, tempDir } from './support/handshake.js';

const MAX_START_FAILURES = 3;

type Pool = ProcessPoolExecutor | ThreadPoolExecutor;

const EXECUTORS: ReadonlyArray<{ name: string; make: (options: ProcessPoolOptions) => Pool }> = [
  { name: 'ProcessPoolExecutor', make: (o) => new ProcessPoolExecutor(o) },
  { name: 'ThreadPoolExecutor', make: (o) => new ThreadPoolExecutor(o) },
];

/** Counts the workers `pool` starts from now on. */
function countSpawns(pool: Pool): { readonly count: number } {
  const seen = { count: 0 };
  pool.on('workerSpawned', () => {
    seen.count++;
  });
  return seen;
}

/** Submits `n` trivial tasks. */
function submitMany(pool: Pool, n: number): Array<Future<number>> {
  return Array.from({ length: n }, (_, i) => pool.submit((x: number) => x, [i]));
}

for (const { name, make } of EXECUTORS) {
  describe(`start failures: the circuit breaker (${name})`, function () {
    this.timeout(60_000);
    let dir: { path: string; cleanup: () => void };
    beforeEach(() => {
      dir = tempDir('cf-start-');
    });
    afterEach(() => dir.cleanup());

    for (const maxWorkers of [1, 2]) {
      it(`breaks after repeated initializer errors with the error as the cause, starting at most ${
        MAX_START_FAILURES + maxWorkers - 1
      } workers (maxWorkers ${maxWorkers})`, async () => {
        const pool = make({
          maxWorkers,
          initializer: (d: string) => {
            const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
            fs.appendFileSync(`${d}/starts`, 'x');
            throw new EvalError('bad initializer');
          },
          initargs: [dir.path],
        });
        const spawned = countSpawns(pool);
        const bound = MAX_START_FAILURES + maxWorkers - 1;
        try {
          const errors = await Promise.all(submitMany(pool, 4).map((f) => rejectionOf(f)));
          for (const error of errors) {
            expect(error).to.be.instanceOf(BrokenExecutorError);
            expect((error as BrokenExecutorError).cause).to.be.instanceOf(EvalError);
            expect(((error as BrokenExecutorError).cause as Error).message).to.equal(
              'bad initializer',
            );
          }
          expect(spawned.count).to.be.within(MAX_START_FAILURES, bound);
          expect(readText(join(dir.path, 'starts')).length).to.be.at.most(bound);

          // Broken for good: later submissions fail at once and start nothing.
          const afterCount = spawned.count;
          const later = submitMany(pool, 3);
          for (const future of later) expect(future.done()).to.equal(true);
          for (const future of later) {
            expect(await rejectionOf(future)).to.be.instanceOf(BrokenExecutorError);
          }
          expect(spawned.count).to.equal(afterCount);
        } finally {
          await pool.shutdown();
        }
        expect(pool.workerIds()).to.deep.equal([]);
        expect(spawned.count).to.be.at.most(bound);
      });
    }

    it('breaks when the initializer ends its worker with process.exit(), with the crash as the cause', async () => {
      const pool = make({ maxWorkers: 1, initializer: () => process.exit(5) });
      const spawned = countSpawns(pool);
      try {
        const error = (await rejectionOf(pool.submit(() => 1))) as BrokenExecutorError;
        expect(error).to.be.instanceOf(BrokenExecutorError);
        expect(error.cause).to.be.instanceOf(WorkerCrashedError);
        expect((error.cause as WorkerCrashedError).exitCode).to.equal(5);
        expect(spawned.count).to.equal(MAX_START_FAILURES);
      } finally {
        await pool.shutdown();
      }
      expect(spawned.count).to.equal(MAX_START_FAILURES);
    });

    it('a worker that fails to start once is replaced, and the pool works once a start succeeds', async () => {
      // The breaker counts failures in a row: one bad start is not a broken pool.
      const pool = make({
        maxWorkers: 1,
        initializer: (d: string) => {
          const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
          fs.appendFileSync(`${d}/starts`, 'x');
          if (fs.readFileSync(`${d}/starts`, 'utf8').length === 1) {
            throw new EvalError('first start fails');
          }
        },
        initargs: [dir.path],
      });
      const spawned = countSpawns(pool);
      try {
        expect(await pool.submit((a: number, b: number) => a + b, [40, 2])).to.equal(42);
        expect(spawned.count).to.equal(2);
        expect(readText(join(dir.path, 'starts'))).to.equal('xx');
      } finally {
        await pool.shutdown();
      }
    });
  });
}

describe('start failures: a worker process whose Node start-up fails (ProcessPoolExecutor)', function () {
  this.timeout(60_000);

  it('fails the futures with BrokenExecutorError after a bounded number of spawns, and shuts down', async () => {
    // `node --require <missing file>` exits with code 1 before the worker
    // entry runs: no initializer, no IPC message, just an early exit.
    // stdio 'pipe' keeps node's start-up error off the test output.
    const pool = new ProcessPoolExecutor({
      maxWorkers: 1,
      execArgv: ['--require', '/nonexistent/concurrent-futures-preload.cjs'],
      stdio: 'pipe',
    });
    pool.stderr?.resume();
    const spawned = countSpawns(pool);
    try {
      const errors = await Promise.all(submitMany(pool, 3).map((f) => rejectionOf(f)));
      for (const error of errors) {
        expect(error).to.be.instanceOf(BrokenExecutorError);
        const cause = (error as BrokenExecutorError).cause as WorkerCrashedError;
        expect(cause).to.be.instanceOf(WorkerCrashedError);
        expect(cause.exitCode).to.equal(1);
        expect(cause.stderr).to.match(/Cannot find module/);
        expect(cause.stderr).to.include('concurrent-futures-preload.cjs');
      }
      expect(spawned.count).to.equal(MAX_START_FAILURES);

      const later = pool.submit(() => 'never');
      expect(later.done()).to.equal(true);
      expect(await rejectionOf(later)).to.be.instanceOf(BrokenExecutorError);
      expect(spawned.count).to.equal(MAX_START_FAILURES);
    } finally {
      await pool.shutdown();
    }
    expect(pool.workerIds()).to.deep.equal([]);
    expect(spawned.count).to.equal(MAX_START_FAILURES);
  });

  it('breaks the same way with two workers starting side by side', async () => {
    const pool = new ProcessPoolExecutor({
      maxWorkers: 2,
      execArgv: ['--require', '/nonexistent/concurrent-futures-preload.cjs'],
      stdio: 'pipe',
    });
    pool.stderr?.resume();
    const spawned = countSpawns(pool);
    try {
      const errors = await Promise.all(submitMany(pool, 4).map((f) => rejectionOf(f)));
      for (const error of errors) expect(error).to.be.instanceOf(BrokenExecutorError);
      expect(spawned.count).to.be.within(MAX_START_FAILURES, MAX_START_FAILURES + 1);
    } finally {
      await pool.shutdown();
    }
    expect(spawned.count).to.be.at.most(MAX_START_FAILURES + 1);
  });
});
