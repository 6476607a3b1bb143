/**
 * A worker that never gets ready (an initializer that never resolves, or
 * spins) must hold nothing forever:
 *
 * - `shutdown({ cancelFutures: true })` kills a worker that is still
 *   starting once it holds no live task (the tasks sent ahead to it were
 *   cancelled), instead of waiting for a start that never ends;
 * - `initializerTimeout` bounds every start: a worker not ready by then is
 *   killed and counts as a failed start, so the circuit breaker ends in
 *   `BrokenExecutorError` (whose cause is a `TimeoutError`). A task's own
 *   `timeout` counts its running time only; this is what bounds its wait
 *   for a worker that cannot get ready.
 *
 * Sequenced by files the initializers write; the only deadlines bound hangs.
 */
import { join } from 'node:path';
import { expect } from 'chai';
import {
  BrokenExecutorError,
  CancelledError,
  ProcessPoolExecutor,
  TimeoutError,
} from '../lib/index.js';
import { EXECUTORS } from './support/executors.js';
import { rejectionOf, track } from './support/futures.js';
import { filesStartingWith, readText, tempDir, waitUntil } from './support/handshake.js';

/** An initializer that records its start in `dir`, then never resolves. */
function neverReady(dir: string): Promise<never> {
  const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
  fs.writeFileSync(`${dir}/init-${process.pid}-${Math.random()}`, '');
  return new Promise<never>(() => {});
}

/** An initializer that records its start in `dir`, then spins: its worker cannot even read a message. */
function spins(dir: string): void {
  const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
  fs.writeFileSync(`${dir}/init-${process.pid}-${Math.random()}`, '');
  for (;;) {
    // Never returns.
  }
}

/** Resolves with `promise`, or fails the test once `ms` passed (a hang). */
async function within<T>(promise: Promise<T>, what: string, ms = 20_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, hang]);
  } finally {
    clearTimeout(timer);
  }
}

for (const { name, make } of EXECUTORS) {
  describe(`a worker that never gets ready (${name})`, function () {
    this.timeout(60_000);
    let dir: { path: string; cleanup: () => void };
    beforeEach(() => {
      dir = tempDir('cf-init-');
    });
    afterEach(() => dir.cleanup());

    it('shutdown({ cancelFutures: true }) kills it once the tasks sent ahead to it are cancelled', async () => {
      const pool = make({
        maxWorkers: 1,
        initializer: neverReady,
        initargs: [dir.path],
        initializerTimeout: Number.POSITIVE_INFINITY,
      });
      const future = pool.submit(() => 'never runs');
      await waitUntil(() => filesStartingWith(dir.path, 'init-').length > 0, 'the initializer');
      await within(pool.shutdown({ cancelFutures: true }), 'shutdown({ cancelFutures: true })');
      expect(future.cancelled()).to.equal(true);
      expect(await rejectionOf(future)).to.be.instanceOf(CancelledError);
      expect(pool.workerIds()).to.deep.equal([]);
    });

    for (const [kind, initializer] of [
      ['never resolves', neverReady],
      ['spins', spins],
    ] as const) {
      it(`initializerTimeout kills a worker whose initializer ${kind}; three such starts break the executor`, async () => {
        const pool = make({
          maxWorkers: 1,
          initializer,
          initargs: [dir.path],
          initializerTimeout: 500,
        });
        let spawned = 0;
        pool.on('workerSpawned', () => {
          spawned++;
        });
        const reasons: string[] = [];
        pool.on('workerExited', ({ reason }) => {
          reasons.push(reason);
        });
        try {
          // The task's own time limit counts its running time only, which never begins.
          const future = pool.submit(() => 'never runs', [], { timeout: 100 });
          const error = (await within(rejectionOf(future), 'the failure')) as BrokenExecutorError;
          expect(error).to.be.instanceOf(BrokenExecutorError);
          expect(error.cause).to.be.instanceOf(TimeoutError);
          expect((error.cause as Error).message).to.match(/initializerTimeout \(500 ms\)/);
          expect(spawned).to.equal(3);
          expect(reasons).to.deep.equal([
            'initializer-timeout',
            'initializer-timeout',
            'initializer-timeout',
          ]);
        } finally {
          await within(pool.shutdown(), 'shutdown()');
        }
        expect(pool.workerIds()).to.deep.equal([]);
      });
    }

    it('a start that timed out once is replaced, and the task runs on the next worker', async () => {
      const pool = make({
        maxWorkers: 1,
        initializer: (d: string) => {
          const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
          fs.appendFileSync(`${d}/starts`, 'x');
          if (fs.readFileSync(`${d}/starts`, 'utf8').length === 1) return new Promise(() => {});
          return undefined;
        },
        initargs: [dir.path],
        // Long enough for a second start on a loaded machine (a start takes
        // about 100 ms on a quiet one); the first start waits all of it.
        initializerTimeout: 2_500,
      });
      try {
        expect(
          await within(Promise.resolve(pool.submit((a: number) => a * 2, [21])), 'the result'),
        ).to.equal(42);
        expect(readText(join(dir.path, 'starts'))).to.equal('xx');
      } finally {
        await pool.shutdown();
      }
    });

    it('shutdown() without cancelFutures still ends: the start times out and the breaker fails the task', async () => {
      const pool = make({
        maxWorkers: 1,
        initializer: neverReady,
        initargs: [dir.path],
        initializerTimeout: 300,
      });
      const future = pool.submit(() => 'never runs');
      const outcome = track(future);
      // On a loaded machine a worker may not even reach its initializer
      // within 300 ms: then the breaker fails the task before any start
      // shows, which is the same ending.
      await waitUntil(
        () => filesStartingWith(dir.path, 'init-').length > 0 || future.done(),
        'the initializer or the failed task',
      );
      await within(pool.shutdown(), 'shutdown()');
      await outcome.promise;
      expect(outcome.reason).to.be.instanceOf(BrokenExecutorError);
      expect(pool.workerIds()).to.deep.equal([]);
    });
  });
}

describe('a worker that never gets ready and ignores SIGTERM (ProcessPoolExecutor)', function () {
  this.timeout(60_000);

  it('is killed with SIGKILL after shutdownGrace; the executor breaks and shuts down', async () => {
    const pool = new ProcessPoolExecutor({
      maxWorkers: 1,
      // Node takes SIGTERM for the JavaScript handler, which never runs while the initializer spins.
      initializer: () => {
        process.on('SIGTERM', () => {});
        for (;;) {
          // Never returns.
        }
      },
      // Long enough for the initializer to install its handler on a loaded machine.
      initializerTimeout: 2_000,
      shutdownGrace: 300,
    });
    const signals: Array<string | null> = [];
    pool.on('workerExited', ({ signal }) => {
      signals.push(signal);
    });
    try {
      const error = await within(rejectionOf(pool.submit(() => 'never runs')), 'the failure');
      expect(error).to.be.instanceOf(BrokenExecutorError);
      expect(signals).to.deep.equal(['SIGKILL', 'SIGKILL', 'SIGKILL']);
    } finally {
      await within(pool.shutdown(), 'shutdown()');
    }
  });
});
