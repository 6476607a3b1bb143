/**
 * "No future is ever left pending forever" (../shared/CONTRACT.md) through
 * shutdown, on both executors with real workers: whatever mix of running,
 * pending and crashing tasks a pool holds when `shutdown()` is called,
 * every future is done once it resolves, each with the outcome it should
 * have, and no worker is left.
 *
 * The tasks that run are async and wait for a `go` file, so they hold their
 * workers until the test has called shutdown; the pending ones write a
 * `started-*` file first thing, so their absence proves they never ran. A
 * fresh worker is sent one long task at a time, so the pending tasks wait
 * in the parent's queue, where `cancelFutures` reaches them.
 */
import { join } from 'node:path';
import { expect } from 'chai';
import {
  CancelledError,
  type Future,
  ProcessPoolExecutor,
  type ProcessPoolOptions,
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

type Pool = ProcessPoolExecutor | ThreadPoolExecutor;

const EXECUTORS: ReadonlyArray<{ name: string; make: (options: ProcessPoolOptions) => Pool }> = [
  { name: 'ProcessPoolExecutor', make: (o) => new ProcessPoolExecutor(o) },
  { name: 'ThreadPoolExecutor', make: (o) => new ThreadPoolExecutor(o) },
];

/**
 * Writes `started-<name>` in `d`, waits until `d/go` exists, then returns
 * `name`, or with `then: 'exit'` ends its worker with process.exit(7).
 */
const work = async (d: string, name: string, then: 'return' | 'exit'): Promise<string> => {
  const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
  fs.writeFileSync(`${d}/started-${name}`, '');
  while (!fs.existsSync(`${d}/go`)) await new Promise((r) => setTimeout(r, 5));
  if (then === 'exit') process.exit(7);
  return name;
};

/** Each future's outcome: its value, or the name of its error. */
function outcomes(futures: Array<Future<unknown>>): Promise<unknown[]> {
  return Promise.all(
    futures.map((f) =>
      f.then(
        (value) => value,
        (error: unknown) => (error as Error).name,
      ),
    ),
  );
}

for (const { name, make } of EXECUTORS) {
  describe(`shutdown settles every future (${name})`, function () {
    this.timeout(60_000);
    let dir: { path: string; cleanup: () => void };
    beforeEach(() => {
      dir = tempDir('cf-shutdown-');
    });
    afterEach(() => dir.cleanup());

    /** Two running tasks (one will crash) and four pending ones. */
    async function busyPool(): Promise<{
      pool: Pool;
      finishing: Future<string>;
      crashing: Future<string>;
      pending: Array<Future<string>>;
    }> {
      const pool = make({ maxWorkers: 2 });
      const finishing = pool.submit(work, [dir.path, 'finishing', 'return']);
      const crashing = pool.submit(work, [dir.path, 'crashing', 'exit']);
      const pending = [1, 2, 3, 4].map((n) =>
        pool.submit(work, [dir.path, `pending-${n}`, 'return']),
      );
      await waitForFile(join(dir.path, 'started-finishing'));
      await waitForFile(join(dir.path, 'started-crashing'));
      // The file shows the task runs; the parent may not know yet (a task
      // sent to a worker that was still starting counts as started once the
      // worker's 'ready' is read), and cancelFutures goes by what it knows.
      await waitUntil(
        () => finishing.running() && crashing.running(),
        'the parent to see both tasks running',
      );
      return { pool, finishing, crashing, pending };
    }

    it('with cancelFutures: the running task finishes, the crashing one fails, the pending ones are cancelled without starting', async () => {
      const { pool, finishing, crashing, pending } = await busyPool();
      try {
        const closing = pool.shutdown({ cancelFutures: true });
        for (const future of pending) expect(future.cancelled()).to.equal(true);
        touch(join(dir.path, 'go'));
        await closing;

        for (const future of [finishing, crashing, ...pending]) {
          expect(future.done()).to.equal(true);
        }
        expect(await finishing).to.equal('finishing');
        const crash = (await rejectionOf(crashing)) as WorkerCrashedError;
        expect(crash).to.be.instanceOf(WorkerCrashedError);
        expect(crash.exitCode).to.equal(7);
        for (const future of pending) {
          expect(await rejectionOf(future)).to.be.instanceOf(CancelledError);
        }
        expect(filesStartingWith(dir.path, 'started-pending')).to.deep.equal([]);
        expect(pool.workerIds()).to.deep.equal([]);
      } finally {
        await pool.shutdown();
      }
    });

    it('without cancelFutures: the queued tasks still run, on a replacement for the crashed worker, and every future settles', async () => {
      const { pool, finishing, crashing, pending } = await busyPool();
      try {
        const closing = pool.shutdown();
        for (const future of pending) expect(future.done()).to.equal(false);
        touch(join(dir.path, 'go'));
        await closing;

        expect(await outcomes([finishing, crashing, ...pending])).to.deep.equal([
          'finishing',
          'WorkerCrashedError',
          'pending-1',
          'pending-2',
          'pending-3',
          'pending-4',
        ]);
        expect(filesStartingWith(dir.path, 'started-pending').sort()).to.deep.equal([
          'started-pending-1',
          'started-pending-2',
          'started-pending-3',
          'started-pending-4',
        ]);
        expect(pool.workerIds()).to.deep.equal([]);
      } finally {
        await pool.shutdown();
      }
    });

    it('with wait: false and cancelFutures: returns at once, and every future still settles', async () => {
      const { pool, finishing, crashing, pending } = await busyPool();
      try {
        await pool.shutdown({ wait: false, cancelFutures: true });
        expect(finishing.done()).to.equal(false);
        touch(join(dir.path, 'go'));
        expect(await outcomes([finishing, crashing, ...pending])).to.deep.equal([
          'finishing',
          'WorkerCrashedError',
          'CancelledError',
          'CancelledError',
          'CancelledError',
          'CancelledError',
        ]);
      } finally {
        // Shares the first call's completion: resolves once the workers are gone.
        await pool.shutdown();
      }
      expect(pool.workerIds()).to.deep.equal([]);
    });

    it('with cancelFutures: a running task whose worker crashes is retried, not cancelled, and its re-run settles it', async () => {
      // It had started before the shutdown, so cancelFutures does not apply
      // to it; `retries` re-runs it on a new worker during the shutdown.
      const pool = make({ maxWorkers: 1 });
      try {
        const flaky = pool.submit(
          async (d: string) => {
            const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
            fs.appendFileSync(`${d}/attempts`, 'x');
            if (fs.readFileSync(`${d}/attempts`, 'utf8') === 'x') {
              while (!fs.existsSync(`${d}/go`)) await new Promise((r) => setTimeout(r, 5));
              process.exit(3);
            }
            return 'second attempt';
          },
          [dir.path],
          { retries: 1 },
        );
        const queued = pool.submit(work, [dir.path, 'queued', 'return']);
        await waitForFile(join(dir.path, 'attempts'));
        await waitUntil(() => flaky.running(), 'the parent to see the first attempt running');
        const closing = pool.shutdown({ cancelFutures: true });
        touch(join(dir.path, 'go'));
        await closing;
        expect(flaky.done()).to.equal(true);
        expect(queued.done()).to.equal(true);
        expect(await flaky).to.equal('second attempt');
        expect(readText(join(dir.path, 'attempts'))).to.equal('xx');
        expect(await rejectionOf(queued)).to.be.instanceOf(CancelledError);
        expect(filesStartingWith(dir.path, 'started-queued')).to.deep.equal([]);
        expect(pool.workerIds()).to.deep.equal([]);
      } finally {
        await pool.shutdown();
      }
    });
  });
}
