/**
 * Retries (`retries`, per submit or per executor) re-run a task whose worker
 * crashed. Each attempt is a fresh run: it gets its own full time limit, as
 * if it had just been submitted; the clock of the crashed attempt stops with
 * it. And a retried task is "running" while it waits for its next attempt,
 * so it can be cancelled with `{ running: true }` there; the executor must
 * then leave that cancelled future alone, also when it breaks right after.
 *
 * Sequenced by files the task writes and the test touches. The time-limit
 * test needs the first attempt's deadline to pass while the second attempt
 * runs: it waits that long (1.5 s margins, far from any tight window), and
 * relies on Node firing timers in the order of their deadlines.
 */
import { join } from 'node:path';
import { expect } from 'chai';
import { BrokenExecutorError, CancelledError } from '../lib/index.js';
import { EXECUTORS } from './support/executors.js';
import { rejectionOf } from './support/futures.js';
import { tempDir, touch, waitForFile } from './support/handshake.js';

/**
 * First attempt: writes `attempt-1`, waits for `crash`, then ends its worker.
 * Second attempt: writes `attempt-2`, waits for `finish`, then returns.
 */
async function twoAttempts(dir: string): Promise<string> {
  const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
  const first = !fs.existsSync(`${dir}/attempt-1`);
  fs.writeFileSync(`${dir}/attempt-${first ? 1 : 2}`, '');
  const until = async (name: string) => {
    while (!fs.existsSync(`${dir}/${name}`)) await new Promise((r) => setTimeout(r, 10));
  };
  if (first) {
    await until('crash');
    process.exit(3);
  }
  await until('finish');
  return 'the second attempt finished';
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const { name, make } of EXECUTORS) {
  describe(`retries (${name})`, function () {
    this.timeout(60_000);
    let dir: { path: string; cleanup: () => void };
    beforeEach(() => {
      dir = tempDir('cf-retry-');
    });
    afterEach(() => dir.cleanup());

    it('gives each attempt its own full time limit: the crashed attempt’s clock does not cut the retry short', async () => {
      // Two margins of LIMIT / 2 each, far above the 10 ms polls they cover:
      // the first attempt crashes half a limit before its deadline, and the
      // second still has half a limit left when that deadline passes.
      const LIMIT = 3_000;
      const pool = make({ maxWorkers: 1 });
      try {
        const future = pool.submit(twoAttempts, [dir.path], { timeout: LIMIT, retries: 1 });
        await waitForFile(join(dir.path, 'attempt-1'));
        // The first attempt's clock started before this point, so its
        // deadline comes before this timer's: once this timer fired, that
        // deadline has passed.
        const pastFirstDeadline = delay(LIMIT);
        // Let the first attempt use half of its limit, then crash.
        await delay(LIMIT / 2);
        touch(join(dir.path, 'crash'));
        await waitForFile(join(dir.path, 'attempt-2'));
        await pastFirstDeadline;
        // The second attempt began half a limit later: it still has time.
        touch(join(dir.path, 'finish'));
        expect(await future).to.equal('the second attempt finished');
      } finally {
        await pool.shutdown();
      }
    });

    it('a retried task cancelled with { running: true } while it waits in the queue stays cancelled when the executor breaks', async () => {
      // The first worker starts; every later start fails. The task crashes
      // its worker, is retried, and goes back to the queue after each failed
      // start; at the third the executor breaks. Cancelled right then (the
      // workerExited listener runs before the engine goes on), the task is
      // in the queue, running (from its first attempt) and cancelled.
      const pool = make({
        maxWorkers: 1,
        retries: 1,
        initializer: (d: string) => {
          const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
          fs.appendFileSync(`${d}/starts`, 'x');
          if (fs.readFileSync(`${d}/starts`, 'utf8').length > 1) throw new EvalError('no restart');
        },
        initargs: [dir.path],
      });
      const uncaught: unknown[] = [];
      const onUncaught = (error: unknown) => uncaught.push(error);
      // Mocha's own handler would report it against this test anyway; this
      // records it so the assertion below can say what it was.
      process.prependListener('uncaughtException', onUncaught);
      try {
        const future = pool.submit(() => process.exit(1));
        let failedStarts = 0;
        let cancelled: boolean | undefined;
        pool.on('workerExited', ({ reason }) => {
          if (reason !== 'initializer-failed' || ++failedStarts !== 3) return;
          expect(future.running()).to.equal(true);
          cancelled = future.cancel({ running: true });
        });
        expect(await rejectionOf(future)).to.be.instanceOf(CancelledError);
        // Later submissions meet the broken executor.
        expect(await rejectionOf(pool.submit(() => 1))).to.be.instanceOf(BrokenExecutorError);
        expect(cancelled).to.equal(true);
        expect(future.cancelled()).to.equal(true);
      } finally {
        await pool.shutdown();
        process.off('uncaughtException', onUncaught);
      }
      expect(uncaught, String(uncaught[0])).to.deep.equal([]);
    });
  });
}
