/**
 * The robustness promises of docs/robustness.md, held for ThreadPoolExecutor
 * with real worker threads: the rows spec/robustness.spec.ts proves for
 * processes (CancelAll, retries after a crash, the bounded queue, an
 * unhandled rejection, a crash while shutting down) hold for threads too.
 * The start-failure circuit breaker of both executors is in
 * spec/start-failures.spec.ts.
 *
 * Sequencing uses handshakes: task code writes `started-*` files into a
 * per-test temp dir and waits for a `go` file the test writes once it has
 * seen what it waits for. Absent `started-*` files prove that a task never
 * ran. Deadlines in the polling helpers only bound a hang; no test asserts
 * elapsed time.
 */
import { join } from 'node:path';
import { expect } from 'chai';
import {
  CancelAll,
  CancelledError,
  QueueFullError,
  ThreadPoolExecutor,
  WorkerCrashedError,
} from '../lib/index.js';
import { rejectionOf } from './support/futures.js';
import {
  filesStartingWith,
  readText,
  tempDir,
  touch,
  waitForFile,
  waitUntil,
} from './support/handshake.js';

/**
 * Inline task functions are compiled in the worker, where `currentTask` and
 * `CancelAll` are provided by name; this declares the former for the compiler.
 */
declare function currentTask(): { id: number; signal: AbortSignal };

/** Writes `started-<name>` in `d`, then waits until `d/go` exists; returns `name`. */
const blockUntilGo = async (d: string, name: string): Promise<string> => {
  const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
  fs.writeFileSync(`${d}/started-${name}`, '');
  while (!fs.existsSync(`${d}/go`)) await new Promise((r) => setTimeout(r, 5));
  return name;
};

/** Writes `started-<name>` in `d` and returns `name`: proof that the task ran. */
const mark = (d: string, name: string): string => {
  const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
  fs.writeFileSync(`${d}/started-${name}`, '');
  return name;
};

describe('ThreadPoolExecutor robustness (real worker threads)', function () {
  this.timeout(60_000);
  let dir: { path: string; cleanup: () => void };
  beforeEach(() => {
    dir = tempDir('cf-threads-');
  });
  afterEach(() => dir.cleanup());

  describe('CancelAll', () => {
    it('a CancelAll thrown in one thread cancels every sibling: pending ones never start, running ones are aborted', async () => {
      // cancelGrace is long so that the running sibling is stopped by its
      // signal, which is what it proves, never by a terminate.
      const pool = new ThreadPoolExecutor({ maxWorkers: 2, cancelGrace: 10_000 });
      try {
        const finder = pool.submit(
          async (d: string) => {
            const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
            fs.writeFileSync(`${d}/started-finder`, '');
            while (!fs.existsSync(`${d}/go`)) await new Promise((r) => setTimeout(r, 5));
            throw new CancelAll('found it');
          },
          [dir.path],
        );
        const runner = pool.submit(
          async (d: string) => {
            const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
            fs.writeFileSync(`${d}/started-runner`, '');
            const { signal } = currentTask();
            await new Promise((resolve) => signal.addEventListener('abort', resolve));
            fs.writeFileSync(`${d}/aborted-runner`, String(signal.reason?.name));
          },
          [dir.path],
        );
        const pending = [1, 2, 3, 4].map((n) => pool.submit(mark, [dir.path, `pending-${n}`]));
        await waitForFile(join(dir.path, 'started-finder'));
        await waitForFile(join(dir.path, 'started-runner'));
        touch(join(dir.path, 'go'));

        const thrown = (await rejectionOf(finder)) as CancelAll;
        expect(thrown).to.be.instanceOf(CancelAll);
        expect(thrown.reason).to.equal('found it');
        for (const sibling of [runner, ...pending]) {
          const error = (await rejectionOf(sibling)) as CancelledError;
          expect(error).to.be.instanceOf(CancelledError);
          expect(error.cause).to.be.instanceOf(CancelAll);
          expect((error.cause as CancelAll).reason).to.equal('found it');
          expect(sibling.cancelled()).to.equal(true);
        }
        await waitForFile(join(dir.path, 'aborted-runner'));
        expect(readText(join(dir.path, 'aborted-runner'))).to.equal('CancelledError');
        expect(filesStartingWith(dir.path, 'started-pending')).to.deep.equal([]);
        // The executor stays usable.
        expect(await pool.submit((x: number) => x * 2, [21])).to.equal(42);
      } finally {
        await pool.shutdown();
      }
    });

    it('siblings already sent ahead to the same thread never start after a CancelAll', async () => {
      // Tiny tasks travel to a worker in batches: after the warm-up the
      // thrower and its siblings sit in the same thread's line, so the
      // thread itself must skip them before the parent hears of the CancelAll.
      const pool = new ThreadPoolExecutor({ maxWorkers: 1 });
      try {
        const step = (d: string, i: number, mode: string) => {
          if (mode === 'throw') throw new CancelAll('stop');
          if (mode === 'write') {
            const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
            fs.writeFileSync(`${d}/started-${i}`, '');
          }
          return i;
        };
        await Promise.all(
          Array.from({ length: 2_000 }, (_, i) => pool.submit(step, [dir.path, i, 'warm'])),
        );
        const thrower = pool.submit(step, [dir.path, -1, 'throw']);
        const siblings = Array.from({ length: 50 }, (_, i) =>
          pool.submit(step, [dir.path, i, 'write']),
        );
        expect(await rejectionOf(thrower)).to.be.instanceOf(CancelAll);
        for (const sibling of siblings) {
          const error = (await rejectionOf(sibling)) as CancelledError;
          expect(error).to.be.instanceOf(CancelledError);
          expect(error.cause).to.be.instanceOf(CancelAll);
        }
        expect(filesStartingWith(dir.path, 'started-')).to.deep.equal([]);
        expect(await pool.submit(step, [dir.path, 7, 'warm'])).to.equal(7);
      } finally {
        await pool.shutdown();
      }
    });

    it('executor.cancelAll() terminates a running thread that ignores its signal and cancels the queued tasks', async () => {
      const pool = new ThreadPoolExecutor({ maxWorkers: 1, cancelGrace: 100 });
      try {
        const running = pool.submit(
          (d: string) => {
            const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
            fs.writeFileSync(`${d}/started-spinner`, '');
            while (true) {}
          },
          [dir.path],
        );
        const queued = pool.submit(mark, [dir.path, 'queued']);
        await waitForFile(join(dir.path, 'started-spinner'));
        // The thread says it is ready just before it starts the task; until
        // the parent has read that, it takes the task for pending, and
        // cancelling a "pending" task arms no kill timer for a spinning one.
        await waitUntil(() => running.running(), 'the parent to see the spinner running');
        expect(pool.cancelAll('enough')).to.equal(2);
        for (const future of [running, queued]) {
          const error = (await rejectionOf(future)) as CancelledError;
          expect(error).to.be.instanceOf(CancelledError);
          expect((error.cause as CancelAll).reason).to.equal('enough');
        }
        expect(await pool.submit(() => 'usable')).to.equal('usable');
        expect(filesStartingWith(dir.path, 'started-queued')).to.deep.equal([]);
      } finally {
        await pool.shutdown();
      }
    });
  });

  describe('retries after a thread crash', () => {
    it('re-runs a task whose thread called process.exit(), up to `retries` times', async () => {
      const pool = new ThreadPoolExecutor({ maxWorkers: 1 });
      try {
        const retried: number[] = [];
        pool.on('taskRetried', (event) => retried.push(event.attempt));
        const value = await pool.submit(
          (d: string) => {
            const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
            fs.appendFileSync(`${d}/attempts`, 'x');
            if (fs.readFileSync(`${d}/attempts`, 'utf8').length < 3) process.exit(9);
            return 'third time lucky';
          },
          [dir.path],
          { retries: 2 },
        );
        expect(value).to.equal('third time lucky');
        expect(readText(join(dir.path, 'attempts'))).to.equal('xxx');
        expect(retried).to.deep.equal([1, 2]);
      } finally {
        await pool.shutdown();
      }
    });

    it("fails with the last crash once the executor's retries are used up", async () => {
      const pool = new ThreadPoolExecutor({ maxWorkers: 1, retries: 1 });
      try {
        const error = (await rejectionOf(
          pool.submit(
            (d: string) => {
              const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
              fs.appendFileSync(`${d}/attempts`, 'x');
              process.exit(4);
            },
            [dir.path],
          ),
        )) as WorkerCrashedError;
        expect(error).to.be.instanceOf(WorkerCrashedError);
        expect(error.reason).to.equal('exit');
        expect(error.exitCode).to.equal(4);
        expect(readText(join(dir.path, 'attempts'))).to.equal('xx');
        expect(await pool.submit(() => 'next')).to.equal('next');
      } finally {
        await pool.shutdown();
      }
    });

    it('never retries a task that threw normally', async () => {
      const pool = new ThreadPoolExecutor({ maxWorkers: 1, retries: 3 });
      try {
        const error = await rejectionOf(
          pool.submit(
            (d: string) => {
              const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
              fs.appendFileSync(`${d}/attempts`, 'x');
              throw new SyntaxError('plain failure');
            },
            [dir.path],
          ),
        );
        expect(error).to.be.instanceOf(SyntaxError);
        expect(readText(join(dir.path, 'attempts'))).to.equal('x');
      } finally {
        await pool.shutdown();
      }
    });
  });

  describe('errors escaping task code', () => {
    it('reports an unhandled rejection in a thread as WorkerCrashedError with its reason and cause; the sibling is unaffected', async () => {
      const pool = new ThreadPoolExecutor({ maxWorkers: 2 });
      try {
        const sibling = pool.submit(blockUntilGo, [dir.path, 'sibling']);
        await waitForFile(join(dir.path, 'started-sibling'));
        const error = (await rejectionOf(
          pool.submit(() => {
            void Promise.reject(new TypeError('nobody catches'));
            return new Promise(() => {});
          }),
        )) as WorkerCrashedError;
        touch(join(dir.path, 'go'));
        expect(error).to.be.instanceOf(WorkerCrashedError);
        expect(error.reason).to.equal('unhandled-rejection');
        expect(error.cause).to.be.instanceOf(TypeError);
        expect((error.cause as Error).message).to.equal('nobody catches');
        expect(await sibling).to.equal('sibling');
        expect(await pool.submit((a: number) => a + 1, [41])).to.equal(42);
      } finally {
        await pool.shutdown();
      }
    });
  });

  describe('bounded queue', () => {
    it('fails a submit beyond maxQueued at once with QueueFullError, and whenQueueBelow() resolves once there is room', async () => {
      const pool = new ThreadPoolExecutor({ maxWorkers: 1, maxQueued: 2 });
      try {
        const blocker = pool.submit(blockUntilGo, [dir.path, 'blocker']);
        await waitForFile(join(dir.path, 'started-blocker'));
        const queued = [pool.submit(() => 1), pool.submit(() => 2)];
        const overflow = pool.submit(mark, [dir.path, 'overflow']);
        expect(overflow.done()).to.equal(true);
        const error = (await rejectionOf(overflow)) as QueueFullError;
        expect(error).to.be.instanceOf(QueueFullError);
        expect(error.code).to.equal('ERR_QUEUE_FULL');
        expect(error.message).to.match(/maxQueued/);
        let room = false;
        const waiting = pool.whenQueueBelow().then(() => {
          room = true;
        });
        // Nothing has left the queue yet: the wait must still be on.
        await new Promise((resolve) => setImmediate(resolve));
        expect(room).to.equal(false);
        touch(join(dir.path, 'go'));
        await waiting;
        expect(await blocker).to.equal('blocker');
        expect(await Promise.all(queued)).to.deep.equal([1, 2]);
        expect(filesStartingWith(dir.path, 'started-overflow')).to.deep.equal([]);
        // Below the bound again: a submit is accepted.
        expect(await pool.submit(() => 3)).to.equal(3);
      } finally {
        await pool.shutdown();
      }
    });

    it('map never exceeds maxQueued: it waits for room instead of failing', async () => {
      const pool = new ThreadPoolExecutor({ maxWorkers: 1, maxQueued: 1 });
      try {
        const values = await pool.map((n: number) => n * 3, [1, 2, 3, 4, 5, 6, 7, 8], {
          buffersize: 8,
        });
        expect(values).to.deep.equal([3, 6, 9, 12, 15, 18, 21, 24]);
      } finally {
        await pool.shutdown();
      }
    });
  });

  describe('shutdown', () => {
    it('fails a task whose thread exits during shutdown and still shuts down', async () => {
      const pool = new ThreadPoolExecutor({ maxWorkers: 1 });
      const future = pool.submit(
        async (d: string) => {
          const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
          fs.writeFileSync(`${d}/started`, '');
          while (!fs.existsSync(`${d}/go`)) await new Promise((r) => setTimeout(r, 5));
          process.exit(7);
        },
        [dir.path],
      );
      await waitForFile(join(dir.path, 'started'));
      const closing = pool.shutdown();
      touch(join(dir.path, 'go'));
      const error = (await rejectionOf(future)) as WorkerCrashedError;
      expect(error).to.be.instanceOf(WorkerCrashedError);
      expect(error.exitCode).to.equal(7);
      await closing;
      expect(pool.workerIds()).to.deep.equal([]);
    });

    it('fails a task that throws asynchronously during shutdown and still shuts down', async () => {
      const pool = new ThreadPoolExecutor({ maxWorkers: 1 });
      const future = pool.submit(
        async (d: string) => {
          const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
          fs.writeFileSync(`${d}/started`, '');
          while (!fs.existsSync(`${d}/go`)) await new Promise((r) => setTimeout(r, 5));
          setTimeout(() => {
            throw new URIError('late boom');
          }, 0);
          return new Promise(() => {});
        },
        [dir.path],
      );
      await waitForFile(join(dir.path, 'started'));
      const closing = pool.shutdown();
      touch(join(dir.path, 'go'));
      const error = (await rejectionOf(future)) as WorkerCrashedError;
      expect(error).to.be.instanceOf(WorkerCrashedError);
      expect(error.reason).to.equal('uncaught-exception');
      expect(error.cause).to.be.instanceOf(URIError);
      await closing;
      expect(pool.workerIds()).to.deep.equal([]);
    });
  });
});
