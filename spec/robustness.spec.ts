/**
 * The robustness promises of ../shared/CONTRACT.md and docs/robustness.md,
 * one suite run against both executors with real child processes and real
 * worker threads: crash isolation, retries, time limits, cancelling running
 * tasks, CancelAll, the bounded queue, crashes during shutdown, and
 * scheduling that never leaves a task stuck behind a waiting one. What only
 * one kind of worker has (signals, process groups, SIGTERM handlers, the
 * pipe of a process; a thread's `resourceLimits`) follows the shared suite.
 * The start-failure circuit breaker of both executors is also in
 * spec/start-failures.spec.ts; retries in depth in spec/retries.spec.ts.
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
  BrokenExecutorError,
  CancelAll,
  CancelledError,
  ProcessPoolExecutor,
  QueueFullError,
  TaskTimeoutError,
  ThreadPoolExecutor,
  task,
  WorkerCrashedError,
} from '../lib/index.js';
import { isAlive } from '../tools/processes.js';
import { EXECUTORS } from './support/executors.js';
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

/** The id `workerIds()` lists for the worker running this: its thread id, or its pid. */
const workerId = (): number =>
  process.getBuiltinModule('node:worker_threads').threadId || process.pid;

/** Ways task code crashes its worker, and what the WorkerCrashedError then says. */
const CRASHES: ReadonlyArray<{
  title: string;
  fn: () => unknown;
  reason: string;
  exitCode: number | null;
  signal: string | null;
  /** What the tail of the worker's stderr shows (processes: a thread shares the process's stderr). */
  stderr?: RegExp;
  cause?: RegExp;
  causeClass?: new (...args: any[]) => Error;
  /** Signals and abort() reach the whole process: a thread cannot survive them alone. */
  processOnly?: true;
}> = [
  {
    title: 'a non-zero process.exit()',
    fn: () => process.exit(3),
    reason: 'exit',
    exitCode: 3,
    signal: null,
  },
  {
    title: 'process.exit(0) in task code',
    fn: () => process.exit(0),
    reason: 'exit',
    exitCode: 0,
    signal: null,
  },
  {
    title: 'a signal',
    fn: () => process.kill(process.pid, 'SIGKILL'),
    reason: 'signal',
    exitCode: null,
    signal: 'SIGKILL',
    processOnly: true,
  },
  {
    title: 'process.abort()',
    fn: () => process.abort(),
    reason: 'abort',
    exitCode: null,
    signal: 'SIGABRT',
    processOnly: true,
  },
  {
    title: 'an exception thrown asynchronously',
    fn: () =>
      new Promise(() => {
        setTimeout(() => {
          throw new RangeError('late boom');
        }, 1);
      }),
    reason: 'uncaught-exception',
    exitCode: 1,
    signal: null,
    stderr: /late boom/,
    cause: /RangeError: late boom/,
    causeClass: RangeError,
  },
  {
    title: 'an unhandled rejection',
    fn: () => {
      void Promise.reject(new TypeError('nobody catches'));
      return new Promise(() => {});
    },
    reason: 'unhandled-rejection',
    exitCode: 1,
    signal: null,
    cause: /TypeError: nobody catches/,
    causeClass: TypeError,
  },
];

for (const { name, kind, make } of EXECUTORS) {
  describe(`${name} robustness`, function () {
    this.timeout(60_000);
    let dir: { path: string; cleanup: () => void };
    beforeEach(() => {
      dir = tempDir('cf-robust-');
    });
    afterEach(() => dir.cleanup());

    describe('crash isolation', () => {
      for (const crash of CRASHES) {
        if (crash.processOnly && kind !== 'process') continue;
        it(`fails only the crashing task with WorkerCrashedError on ${crash.title}, and replaces the worker`, async () => {
          // A fresh pool per crash: its two workers start together and take
          // one task each, so the sibling runs beside the crashing task. A
          // worker kept from an earlier test may have learnt a depth above 1
          // from tiny tasks, and the crashing task would then queue behind
          // the waiting sibling while the other worker idles.
          const pool = make({ maxWorkers: 2, shutdownGrace: 500 });
          try {
            const sibling = pool.submit(blockUntilGo, [dir.path, 'sibling']);
            await waitForFile(join(dir.path, 'started-sibling'));
            const error = (await rejectionOf(pool.submit(crash.fn))) as WorkerCrashedError;
            touch(join(dir.path, 'go'));
            expect(error).to.be.instanceOf(WorkerCrashedError);
            expect(error.reason).to.equal(crash.reason);
            expect(error.exitCode).to.equal(crash.exitCode);
            expect(error.signal).to.equal(crash.signal);
            expect(error.pid).to.be.a('number').and.not.equal(process.pid);
            if (crash.stderr && kind === 'process') expect(error.stderr).to.match(crash.stderr);
            if (crash.cause) expect(String(error.cause)).to.match(crash.cause);
            if (crash.causeClass) expect(error.cause).to.be.instanceOf(crash.causeClass);
            expect(await sibling).to.equal('sibling');
            expect(await pool.submit((a: number) => a + 1, [41])).to.equal(42);
          } finally {
            await pool.shutdown();
          }
        });
      }
    });

    describe('retries', () => {
      it('re-runs a task whose worker crashed, up to `retries` times', async () => {
        const pool = make({ maxWorkers: 1 });
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
        const pool = make({ maxWorkers: 1, retries: 1 });
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
        const pool = make({ maxWorkers: 1, retries: 3 });
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

    describe('time limits', () => {
      it('fails a stuck task with TaskTimeoutError, stops its worker and goes on', async () => {
        const pool = make({ maxWorkers: 1, cancelGrace: 100, shutdownGrace: 200 });
        try {
          const stuck = pool.submit(
            () => {
              while (true) {}
            },
            [],
            { timeout: 200 },
          );
          const error = (await rejectionOf(stuck)) as TaskTimeoutError;
          expect(error).to.be.instanceOf(TaskTimeoutError);
          expect(error.timeout).to.equal(200);
          expect(await pool.submit(() => 'next task runs')).to.equal('next task runs');
        } finally {
          await pool.shutdown();
        }
      });

      it('applies the executor-wide taskTimeout by default', async () => {
        const pool = make({ maxWorkers: 1, taskTimeout: 100, cancelGrace: 50 });
        try {
          const stuck = pool.submit(() => {
            while (true) {}
          });
          expect(await rejectionOf(stuck)).to.be.instanceOf(TaskTimeoutError);
        } finally {
          await pool.shutdown();
        }
      });

      it('a task submitted with timeout: Infinity is exempt from the executor taskTimeout', async () => {
        const pool = make({ maxWorkers: 1, taskTimeout: 50 });
        try {
          const slow = (ms: number) => {
            const until = Date.now() + ms;
            while (Date.now() < until) {}
            return 'done';
          };
          expect(await rejectionOf(pool.submit(slow, [400]))).to.be.instanceOf(TaskTimeoutError);
          expect(await pool.submit(slow, [400], { timeout: Number.POSITIVE_INFINITY })).to.equal(
            'done',
          );
        } finally {
          await pool.shutdown();
        }
      });

      it('aborts currentTask().signal first: a task that stops in time keeps its worker', async () => {
        const pool = make({ maxWorkers: 1, cancelGrace: 5_000 });
        try {
          const error = await rejectionOf(
            pool.submit(
              async (d: string) => {
                const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
                const { signal } = currentTask();
                await new Promise((resolve) => signal.addEventListener('abort', resolve));
                fs.writeFileSync(`${d}/aborted`, String(signal.reason?.name));
              },
              [dir.path],
              { timeout: 100 },
            ),
          );
          expect(error).to.be.instanceOf(TaskTimeoutError);
          await waitForFile(join(dir.path, 'aborted'));
          expect(readText(join(dir.path, 'aborted'))).to.equal('TaskTimeoutError');
          const before = pool.workerIds();
          expect(await pool.submit(workerId)).to.equal(before[0]);
        } finally {
          await pool.shutdown();
        }
      });
    });

    describe('cancelling running tasks', () => {
      it('cancel({ running: true }) ends a running task cancelled and stops it', async () => {
        const pool = make({ maxWorkers: 1, cancelGrace: 5_000 });
        try {
          const future = pool.submit(
            async (d: string) => {
              const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
              fs.writeFileSync(`${d}/started`, '');
              const { signal } = currentTask();
              await new Promise((resolve) => signal.addEventListener('abort', resolve));
              fs.writeFileSync(`${d}/aborted`, String(signal.reason?.name));
            },
            [dir.path],
          );
          await waitForFile(join(dir.path, 'started'));
          // The worker says it is ready just before it starts the task: wait until the
          // parent has read that, or it would still take the task for pending.
          await waitUntil(() => future.running(), 'the parent to see the task running');
          expect(future.cancel()).to.equal(false);
          expect(future.running()).to.equal(true);
          expect(future.cancel({ running: true })).to.equal(true);
          expect(future.cancelled()).to.equal(true);
          expect(await rejectionOf(future)).to.be.instanceOf(CancelledError);
          await waitForFile(join(dir.path, 'aborted'));
          expect(readText(join(dir.path, 'aborted'))).to.equal('CancelledError');
          expect(await pool.submit(() => 'after')).to.equal('after');
        } finally {
          await pool.shutdown();
        }
      });

      it('kills a cancelled task that ignores its signal after cancelGrace', async () => {
        const pool = make({ maxWorkers: 1, cancelGrace: 100, shutdownGrace: 200 });
        try {
          const future = pool.submit(
            (d: string) => {
              const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
              fs.writeFileSync(`${d}/started`, '');
              while (true) {}
            },
            [dir.path],
          );
          await waitForFile(join(dir.path, 'started'));
          await waitUntil(() => future.running(), 'the parent to see the task running');
          const [id] = pool.workerIds();
          expect(future.cancel({ running: true })).to.equal(true);
          await waitUntil(() => !pool.workerIds().includes(id!), 'the stuck worker to be killed');
          expect(await pool.submit(() => 'fresh worker')).to.equal('fresh worker');
        } finally {
          await pool.shutdown();
        }
      });

      it('an AbortSignal cancels a pending task before it starts and a running one', async () => {
        const pool = make({ maxWorkers: 1, cancelGrace: 100, shutdownGrace: 200 });
        try {
          const running = new AbortController();
          const pending = new AbortController();
          const first = pool.submit(
            (d: string) => {
              const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
              fs.writeFileSync(`${d}/started-first`, '');
              while (true) {}
            },
            [dir.path],
            { signal: running.signal },
          );
          const second = pool.submit(mark, [dir.path, 'second'], { signal: pending.signal });
          await waitForFile(join(dir.path, 'started-first'));
          await waitUntil(() => first.running(), 'the parent to see the first task running');
          pending.abort(new Error('not needed'));
          expect(second.cancelled()).to.equal(true);
          running.abort(new Error('stop it'));
          expect(first.cancelled()).to.equal(true);
          const error = (await rejectionOf(first)) as CancelledError;
          expect(error).to.be.instanceOf(CancelledError);
          expect((error.cause as Error).message).to.equal('stop it');
          expect(await pool.submit(() => 'ok')).to.equal('ok');
          expect(filesStartingWith(dir.path, 'started-second')).to.deep.equal([]);
        } finally {
          await pool.shutdown();
        }
      });
    });

    describe('CancelAll', () => {
      it('a CancelAll thrown by a task cancels every sibling: pending ones never start, running ones are aborted', async () => {
        // cancelGrace is long so that the running sibling is stopped by its
        // signal, which is what it proves, never by a kill.
        const pool = make({ maxWorkers: 2, cancelGrace: 10_000 });
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

      it('siblings already sent ahead to the same worker never start after a CancelAll', async () => {
        // Tiny tasks travel to a worker in batches: after the warm-up the
        // thrower and its siblings sit in the same worker's line, so the
        // worker itself must skip them before the parent hears of the CancelAll.
        const pool = make({ maxWorkers: 1 });
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

      it('stops a map when one item throws CancelAll', async () => {
        const pool = make({ maxWorkers: 2 });
        try {
          const error = await rejectionOf(
            pool.map(
              (n: number) => {
                if (n === 3) throw new CancelAll(`stopped at ${n}`);
                return n;
              },
              [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
              { chunksize: 1 },
            ),
          );
          const cancelAll = error instanceof CancelAll ? error : (error as Error).cause;
          expect(cancelAll).to.be.instanceOf(CancelAll);
          expect(await pool.submit(() => 'still usable')).to.equal('still usable');
        } finally {
          await pool.shutdown();
        }
      });

      it('executor.cancelAll() stops a running task that ignores its signal and cancels the queued ones', async () => {
        const pool = make({ maxWorkers: 1, cancelGrace: 100, shutdownGrace: 200 });
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
          // Until the parent has read the worker's 'ready', it takes the task
          // for pending, and cancelling a "pending" task arms no kill timer.
          await waitUntil(() => running.running(), 'the parent to see the spinner running');
          expect(pool.cancelAll('enough')).to.equal(2);
          for (const future of [running, queued]) {
            const error = (await rejectionOf(future)) as CancelledError;
            expect(error).to.be.instanceOf(CancelledError);
            expect(error.cause).to.be.instanceOf(CancelAll);
            expect((error.cause as CancelAll).reason).to.equal('enough');
          }
          expect(await pool.submit(() => 'usable')).to.equal('usable');
          expect(filesStartingWith(dir.path, 'started-queued')).to.deep.equal([]);
        } finally {
          await pool.shutdown();
        }
      });
    });

    describe('bounded queue', () => {
      it('fails a submit beyond maxQueued at once with QueueFullError, and whenQueueBelow() resolves once there is room', async () => {
        const pool = make({ maxWorkers: 1, maxQueued: 2 });
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
        const pool = make({ maxWorkers: 1, maxQueued: 1 });
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

    describe('crashes during shutdown', () => {
      it('fails a task whose worker exits during shutdown and still shuts down', async () => {
        const pool = make({ maxWorkers: 1 });
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
        const pool = make({ maxWorkers: 1 });
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

    describe('scheduling never leaves a task stuck behind a waiting one', () => {
      const step = async (d: string, mode: string): Promise<number> => {
        const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
        const id = process.getBuiltinModule('node:worker_threads').threadId || process.pid;
        if (mode === 'wait') {
          fs.writeFileSync(`${d}/waiting`, '');
          while (!fs.existsSync(`${d}/go`)) await new Promise((r) => setTimeout(r, 5));
        } else if (mode === 'busy') {
          fs.writeFileSync(`${d}/busy`, '');
          while (!fs.existsSync(`${d}/busy-done`)) await new Promise((r) => setTimeout(r, 5));
        }
        return id;
      };

      it('spreads tasks submitted together over idle workers', async () => {
        const pool = make({ maxWorkers: 2 });
        try {
          // Warm up: both workers learn the function is short and take deep lines.
          await Promise.all(
            Array.from({ length: 400 }, () => pool.submit(step, [dir.path, 'warm'])),
          );
          // The sibling waits for a file the test writes only once the other task is done.
          const waiting = pool.submit(step, [dir.path, 'wait']);
          const other = pool.submit(step, [dir.path, 'quick']);
          const ranOn = await other;
          touch(join(dir.path, 'go'));
          expect(await waiting).to.not.equal(ranOn);
        } finally {
          await pool.shutdown();
        }
      });

      it('takes unstarted tasks back from a worker whose task waits, for a worker that fell idle', async () => {
        const pool = make({ maxWorkers: 2 });
        try {
          await Promise.all(
            Array.from({ length: 400 }, () => pool.submit(step, [dir.path, 'warm'])),
          );
          const waiting = pool.submit(step, [dir.path, 'wait']);
          await waitForFile(join(dir.path, 'waiting'));
          const busy = pool.submit(step, [dir.path, 'busy']);
          await waitForFile(join(dir.path, 'busy'));
          // Both workers are occupied: this one is queued behind one of them.
          const queued = pool.submit(step, [dir.path, 'quick']);
          // The busy worker falls idle; the queued task must not wait for 'go'.
          touch(join(dir.path, 'busy-done'));
          const busyOn = await busy;
          const queuedOn = await queued;
          expect(queuedOn).to.equal(busyOn);
          touch(join(dir.path, 'go'));
          expect(await waiting).to.not.equal(queuedOn);
        } finally {
          await pool.shutdown();
        }
      });
    });
  });
}

describe('ProcessPoolExecutor robustness: what only a process has', function () {
  this.timeout(60_000);
  let dir: { path: string; cleanup: () => void };
  beforeEach(() => {
    dir = tempDir('cf-robust-');
  });
  afterEach(() => dir.cleanup());

  it('reports out-of-memory with its reason and the stderr tail', async () => {
    const pool = new ProcessPoolExecutor({ maxWorkers: 1, execArgv: ['--max-old-space-size=24'] });
    try {
      const error = (await rejectionOf(
        pool.submit(() => {
          const hog: number[][] = [];
          for (;;) hog.push(new Array(1e6).fill(1));
        }),
      )) as WorkerCrashedError;
      expect(error).to.be.instanceOf(WorkerCrashedError);
      expect(error.reason).to.equal('out-of-memory');
      expect(error.stderr).to.match(/heap out of memory/i);
      expect(await pool.submit(() => 'alive')).to.equal('alive');
    } finally {
      await pool.shutdown();
    }
  });

  it('settles a task whose worker dies while sending a large result, and goes on', async () => {
    const pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    try {
      const outcome = await pool
        .submit(() => {
          setImmediate(() => process.kill(process.pid, 'SIGKILL'));
          return new Uint8Array(32 * 1024 * 1024).fill(7);
        })
        .then(
          (value) => `value:${value.length}`,
          (error: unknown) => (error instanceof WorkerCrashedError ? 'crashed' : String(error)),
        );
      expect(outcome).to.be.oneOf([`value:${32 * 1024 * 1024}`, 'crashed']);
      expect(await pool.submit(() => 'next')).to.equal('next');
    } finally {
      await pool.shutdown();
    }
  });

  describe('a large result followed by a task that blocks or kills its worker', () => {
    // One function for every step, so that after the warm-up the engine
    // sends the steps to the worker in one batch and the worker runs them
    // back to back. The result does not fit the pipe at once: it is written
    // in the background, which needs the worker's event loop.
    const step = (mode: string, bytes: number): unknown => {
      if (mode === 'big') return new Uint8Array(bytes).fill(9);
      if (mode === 'spin') while (true) {}
      if (mode === 'exit') process.exit(3);
      return bytes;
    };

    it('delivers the large result, and times out the blocking task', async () => {
      const pool = new ProcessPoolExecutor({ maxWorkers: 1, cancelGrace: 100, shutdownGrace: 500 });
      try {
        await Promise.all(Array.from({ length: 500 }, (_, i) => pool.submit(step, ['warm', i])));
        const big = pool.submit(step, ['big', 4 * 1024 * 1024]);
        const spin = pool.submit(step, ['spin', 0], { timeout: 300 });
        const value = (await big) as Uint8Array;
        expect(value.byteLength).to.equal(4 * 1024 * 1024);
        expect(value[0]).to.equal(9);
        expect(await rejectionOf(spin)).to.be.instanceOf(TaskTimeoutError);
        expect(await pool.submit(step, ['warm', 5])).to.equal(5);
      } finally {
        await pool.shutdown();
      }
    });

    it('delivers the large result, and blames the crash on the task that exited', async () => {
      const pool = new ProcessPoolExecutor({ maxWorkers: 1 });
      try {
        await Promise.all(Array.from({ length: 500 }, (_, i) => pool.submit(step, ['warm', i])));
        const big = pool.submit(step, ['big', 4 * 1024 * 1024]);
        const exit = pool.submit(step, ['exit', 0]);
        expect(((await big) as Uint8Array).byteLength).to.equal(4 * 1024 * 1024);
        const error = (await rejectionOf(exit)) as WorkerCrashedError;
        expect(error).to.be.instanceOf(WorkerCrashedError);
        expect(error.exitCode).to.equal(3);
      } finally {
        await pool.shutdown();
      }
    });
  });

  it('kills processes started by task code together with their worker (process group)', async () => {
    const pool = new ProcessPoolExecutor({ maxWorkers: 1, shutdownGrace: 300 });
    let grandchild = 0;
    try {
      grandchild = await pool.submit(() => {
        const cp = process.getBuiltinModule(
          'node:child_process',
        ) as typeof import('node:child_process');
        return cp.spawn('sleep', ['1000'], { stdio: 'ignore' }).pid ?? 0;
      });
      expect(isAlive(grandchild)).to.equal(true);
    } finally {
      await pool.shutdown();
    }
    await waitUntil(() => !isAlive(grandchild), `grandchild ${grandchild} to be killed`);
  });

  it('kills a worker that ignores SIGTERM with SIGKILL after shutdownGrace', async () => {
    const pool = new ProcessPoolExecutor({ maxWorkers: 1, cancelGrace: 50, shutdownGrace: 200 });
    try {
      const error = await rejectionOf(
        pool.submit(
          () => {
            process.on('SIGTERM', () => {});
            while (true) {}
          },
          [],
          { timeout: 100 },
        ),
      );
      expect(error).to.be.instanceOf(TaskTimeoutError);
      expect(await pool.submit(() => 'recovered')).to.equal('recovered');
    } finally {
      await pool.shutdown();
    }
  });

  it('counts running time only, not time spent in the queue', async () => {
    const pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    try {
      const blocker = pool.submit(blockUntilGo, [dir.path, 'blocker']);
      const quick = pool.submit(() => 'quick', [], { timeout: 1_000 });
      // Queue time well beyond the limit of the quick task.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      touch(join(dir.path, 'go'));
      await blocker;
      expect(await quick).to.equal('quick');
    } finally {
      await pool.shutdown();
    }
  });

  describe('circuit breaker', () => {
    it('breaks the executor after repeated start failures instead of respawning forever', async () => {
      const pool = new ProcessPoolExecutor({
        maxWorkers: 2,
        initializer: (d: string) => {
          const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
          fs.appendFileSync(`${d}/starts`, 'x');
          throw new EvalError('bad initializer');
        },
        initargs: [dir.path],
      });
      try {
        const errors = await Promise.all(
          [1, 2, 3, 4].map((n) => rejectionOf(pool.submit((x: number) => x, [n]))),
        );
        for (const error of errors) {
          expect(error).to.be.instanceOf(BrokenExecutorError);
          expect((error as Error).cause).to.be.instanceOf(EvalError);
        }
        // A later submission fails the same way, at once.
        expect(await rejectionOf(pool.submit(() => 1))).to.be.instanceOf(BrokenExecutorError);
        expect(readText(join(dir.path, 'starts')).length).to.be.at.most(4);
      } finally {
        await pool.shutdown();
      }
    });

    it('counts a failed start when it is known, not when the worker exits', async () => {
      // The first worker to start ignores SIGTERM, so it exits only at the
      // SIGKILL after shutdownGrace; the others exit at once. Counting start
      // failures at exit would let the fast ones be replaced twice over
      // while the slow one's failure is not counted yet.
      const pool = new ProcessPoolExecutor({
        maxWorkers: 2,
        shutdownGrace: 4000,
        initializer: (d: string) => {
          const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
          try {
            fs.writeFileSync(`${d}/slow`, String(process.pid), { flag: 'wx' });
            process.on('SIGTERM', () => {});
          } catch {
            // Not the first worker: SIGTERM ends it as usual.
          }
          fs.appendFileSync(`${d}/starts`, 'x');
          throw new EvalError('bad initializer');
        },
        initargs: [dir.path],
      });
      try {
        const errors = await Promise.all(
          [1, 2, 3, 4, 5, 6].map((n) => rejectionOf(pool.submit((x: number) => x, [n]))),
        );
        for (const error of errors) expect(error).to.be.instanceOf(BrokenExecutorError);
      } finally {
        await pool.shutdown();
      }
      expect(readText(join(dir.path, 'starts')).length).to.be.at.most(4);
    });

    it('breaks when the initializer crashes its worker, with the crash as the cause', async () => {
      const pool = new ProcessPoolExecutor({ maxWorkers: 1, initializer: () => process.exit(5) });
      try {
        const error = (await rejectionOf(pool.submit(() => 1))) as BrokenExecutorError;
        expect(error).to.be.instanceOf(BrokenExecutorError);
        expect(error.cause).to.be.instanceOf(WorkerCrashedError);
        expect((error.cause as WorkerCrashedError).exitCode).to.equal(5);
      } finally {
        await pool.shutdown();
      }
    });

    it('breaks when the initializer module is missing', async () => {
      const pool = new ProcessPoolExecutor({
        maxWorkers: 1,
        initializer: task('/nonexistent/concurrent-futures-init.mjs', 'init'),
      });
      try {
        const error = (await rejectionOf(pool.submit(() => 1))) as BrokenExecutorError;
        expect(error).to.be.instanceOf(BrokenExecutorError);
        expect(String((error.cause as Error).message)).to.match(/concurrent-futures-init/);
      } finally {
        await pool.shutdown();
      }
    });
  });
});

describe('ThreadPoolExecutor robustness: what only a thread has', function () {
  this.timeout(60_000);

  it('reports a thread that runs out of its resourceLimits heap as out-of-memory, and goes on', async () => {
    const pool = new ThreadPoolExecutor({
      maxWorkers: 1,
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
    });
    try {
      const error = (await rejectionOf(
        pool.submit(() => {
          const hog: number[][] = [];
          for (;;) hog.push(new Array(1e5).fill(1));
        }),
      )) as WorkerCrashedError;
      expect(error).to.be.instanceOf(WorkerCrashedError);
      expect(error.reason).to.equal('out-of-memory');
      expect(await pool.submit(() => 'next')).to.equal('next');
    } finally {
      await pool.shutdown();
    }
  });
});
