/**
 * Task code shares its worker's stdout and stderr, and may do anything to
 * them. With `stdio: 'capture'` the parent settles a task once the end
 * markers of its output arrived, so a task's output could hold its own
 * outcome hostage; and a stream a task ended made the next, innocent task
 * crash with "write after end". Now:
 *
 * - markers do not go through `process.stdout.write`, so replacing it (the
 *   usual way to silence output) changes nothing for the executor;
 * - a task that silences its output below that (a `_write` that never calls
 *   back) still settles: the parent waits for the missing marker a bounded
 *   time, and the worker, whose output is stuck, is replaced;
 * - a task that ends or destroys a stream keeps its outcome; its worker runs
 *   nothing more and is replaced ('output-broken'); no task is blamed.
 *
 * Tasks run on one worker (maxWorkers 1), in order; deadlines bound hangs only.
 */
import { expect } from 'chai';
import type { Future, PoolExecutor } from '../lib/index.js';
import { EXECUTORS } from './support/executors.js';

/** Resolves with `promise`, or fails the test once `ms` passed (a hang). */
async function within<T>(promise: PromiseLike<T>, what: string, ms = 20_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, hang]);
  } finally {
    clearTimeout(timer);
  }
}

/** Each future's value, in order, each bounded by a deadline. */
async function valuesOf(futures: Array<Future<unknown>>): Promise<unknown[]> {
  const values: unknown[] = [];
  for (const [i, future] of futures.entries()) values.push(await within(future, `task ${i}`));
  return values;
}

/** Records the reasons of the workers that exit. */
function exits(pool: PoolExecutor): string[] {
  const reasons: string[] = [];
  pool.on('workerExited', ({ reason }) => reasons.push(reason));
  return reasons;
}

for (const { name, make } of EXECUTORS) {
  describe(`stdio 'capture' and task code that turns on its own output (${name})`, function () {
    this.timeout(60_000);

    for (const timeout of [undefined, 10_000]) {
      it(`a task that replaces process.stdout.write and process.stderr.write settles (${
        timeout === undefined ? 'no time limit' : 'with a time limit'
      }), and later tasks are captured as before`, async () => {
        const pool = make({ maxWorkers: 1, stdio: 'capture' });
        try {
          const silences = pool.submit(
            () => {
              const g = globalThis as { saved?: unknown[] };
              g.saved = [process.stdout.write, process.stderr.write];
              process.stdout.write = () => true;
              process.stderr.write = () => true;
              console.log('swallowed');
              return 'silenced';
            },
            [],
            { timeout },
          );
          const restores = pool.submit(
            () => {
              const saved = (globalThis as { saved?: Array<typeof process.stdout.write> }).saved!;
              process.stdout.write = saved[0]!;
              process.stderr.write = saved[1]!;
              console.log('heard again');
              console.error('on stderr too');
              return 'restored';
            },
            [],
            { timeout },
          );
          expect(await valuesOf([silences, restores])).to.deep.equal(['silenced', 'restored']);
          expect(silences.output?.stdout).to.equal('');
          expect(restores.output?.stdout).to.equal('heard again\n');
          expect(restores.output?.stderr).to.equal('on stderr too\n');
        } finally {
          await pool.shutdown();
        }
      });
    }

    it('a task whose output never leaves (a _write that never calls back) still settles, and its worker is replaced', async () => {
      const pool = make({ maxWorkers: 1, stdio: 'capture' });
      const reasons = exits(pool);
      try {
        const stuck = pool.submit(() => {
          for (const stream of [process.stdout, process.stderr]) {
            (stream as unknown as { _write: () => void })._write = () => {};
            stream.write('never leaves\n');
          }
          return 'finished anyway';
        });
        const next = pool.submit(() => {
          console.log('from a fresh worker');
          return 'next';
        });
        expect(await valuesOf([stuck, next])).to.deep.equal(['finished anyway', 'next']);
        expect(next.output?.stdout).to.equal('from a fresh worker\n');
        expect(reasons).to.include('output-broken');
      } finally {
        await pool.shutdown();
      }
    });
  });

  for (const stdio of ['capture', 'pipe', 'inherit'] as const) {
    describe(`a task that ends or destroys its worker's output, stdio '${stdio}' (${name})`, function () {
      this.timeout(60_000);

      // `replaced`: the stream is unusable afterwards, so the worker must go.
      // A worker process's stdio cannot really be destroyed (Node makes
      // `destroy()` a no-op there); a thread's can.
      const culprits: Array<{
        title: string;
        fn: () => string;
        replaced: boolean;
        /** Only where the worker's dying words do not reach the test's output. */
        only?: 'pipe';
      }> = [
        {
          title: 'process.stdout.end()',
          fn: () => {
            process.stdout.end();
            return 'culprit';
          },
          replaced: true,
        },
        {
          title: 'process.stderr.end() and a write after it',
          fn: () => {
            process.stderr.end();
            process.stderr.write('after the end\n');
            return 'culprit';
          },
          replaced: true,
        },
        {
          title: 'process.stdout.destroy()',
          fn: () => {
            process.stdout.destroy();
            return 'culprit';
          },
          replaced: name === 'ThreadPoolExecutor',
        },
        {
          // Hostile to the executor's own listeners: the write after the end
          // then kills the worker (an uncaught error), right after this task.
          title: 'process.stdout.end() and a write after it, with its error listeners removed',
          fn: () => {
            process.stdout.removeAllListeners('error');
            process.stdout.end();
            process.stdout.write('after the end\n');
            return 'culprit';
          },
          replaced: true,
          only: 'pipe',
        },
      ];
      for (const { title, fn, replaced, only } of culprits) {
        if (only !== undefined && only !== stdio) continue;
        it(`${title}: the task keeps its outcome, the next tasks are not blamed${
          replaced ? ', and its worker is replaced' : ''
        }`, async () => {
          const pool = make({ maxWorkers: 1, stdio });
          pool.stdout?.resume();
          pool.stderr?.resume();
          const reasons = exits(pool);
          try {
            const culprit = pool.submit(fn);
            // Writing nothing still fails on an ended stream: enough to
            // show which worker they ran on without printing anything.
            const innocent = pool.submit(() => {
              process.stdout.write('');
              process.stderr.write('');
              return 'innocent';
            });
            const another = pool.submit(() => {
              process.stdout.write('');
              return 'another';
            });
            expect(await valuesOf([culprit, innocent, another])).to.deep.equal([
              'culprit',
              'innocent',
              'another',
            ]);
            // No crash: at most the replacement of the worker whose output broke.
            expect(reasons.filter((reason) => reason !== 'output-broken')).to.deep.equal([]);
            if (replaced) expect(reasons).to.deep.equal(['output-broken']);
          } finally {
            await pool.shutdown();
          }
        });
      }
    });
  }
}
