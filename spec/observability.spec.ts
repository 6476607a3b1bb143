/**
 * Seeing inside the pool, with real child processes and threads: events
 * (and their diagnostics_channel mirror), statistics, worker output
 * (capture and pipe) and progress from inside a task.
 *
 * Sequencing uses handshakes (files written by task code) where a test
 * needs a task to be running; no test asserts elapsed time.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { join } from 'node:path';
import { expect } from 'chai';
import {
  CancelAll,
  CancelledError,
  type ChannelMessage,
  type PoolEventName,
  type PoolEvents,
  ProcessPoolExecutor,
  TaskTimeoutError,
  ThreadPoolExecutor,
  WorkerCrashedError,
} from '../lib/index.js';
import { rejectionOf } from './support/futures.js';
import { tempDir, waitForFile, waitUntil } from './support/handshake.js';

declare function currentTask(): {
  id: number;
  signal: AbortSignal;
  progress(value: unknown): void;
};

type AnyPool = ProcessPoolExecutor | ThreadPoolExecutor;

/** The rejection reason of a promise that must reject. */
const failure = rejectionOf;

/** Records every payload of the named events, in order. */
function record<E extends PoolEventName>(pool: AnyPool, ...names: E[]) {
  const seen: Array<{ event: E; payload: PoolEvents[E] }> = [];
  for (const event of names) {
    pool.on(event, (payload) => {
      seen.push({ event, payload });
    });
  }
  return seen;
}

/** Catches process warnings of a given name while `body` runs. */
async function warningsDuring(name: string, body: () => Promise<void>): Promise<Error[]> {
  const caught: Error[] = [];
  const listener = (warning: Error) => {
    if (warning.name === name) caught.push(warning);
  };
  process.on('warning', listener);
  try {
    await body();
    // Warnings are emitted on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', listener);
  }
  return caught;
}

describe('Observability', function () {
  this.timeout(60_000);
  let dir: { path: string; cleanup: () => void };
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => dir.cleanup());

  for (const kind of ['process', 'thread'] as const) {
    const make = (options: ConstructorParameters<typeof ProcessPoolExecutor>[0] = {}): AnyPool =>
      kind === 'process'
        ? new ProcessPoolExecutor({ maxWorkers: 2, ...options })
        : new ThreadPoolExecutor({ maxWorkers: 2, ...options });

    describe(`events (${kind})`, () => {
      it('reports a task started and finished with its id, worker, value and times', async () => {
        const pool = make({ maxWorkers: 1 });
        try {
          const seen = record(pool, 'taskStarted', 'taskFinished');
          const future = pool.submit((a: number, b: number) => a + b, [2, 3]);
          expect(await future).to.equal(5);
          expect(seen.map((s) => s.event)).to.deep.equal(['taskStarted', 'taskFinished']);
          const [started, finished] = seen.map((s) => s.payload) as [
            PoolEvents['taskStarted'],
            PoolEvents['taskFinished'],
          ];
          expect(started.future).to.equal(future);
          expect(started.kind).to.equal('submit');
          expect(started.taskId).to.equal(finished.taskId);
          expect(started.pid).to.equal(pool.workerIds()[0]);
          expect(finished.value).to.equal(5);
          expect(finished.runTime).to.be.at.least(0);
          expect(finished.waitTime).to.be.at.least(0);
        } finally {
          await pool.shutdown();
        }
      });

      it('reports failures with the error the future rejects with: throw, time limit, crash', async () => {
        const pool = make({ maxWorkers: 1, cancelGrace: 100, shutdownGrace: 500 });
        try {
          const failed = record(pool, 'taskFailed');
          const thrown = pool.submit(() => {
            throw new RangeError('nope');
          });
          const stuck = pool.submit(
            () => {
              while (true) {}
            },
            [],
            { timeout: 200 },
          );
          const crashed = pool.submit(() => process.exit(7));
          const errors = [await failure(thrown), await failure(stuck), await failure(crashed)];
          expect(errors[0]).to.be.instanceOf(RangeError);
          expect(errors[1]).to.be.instanceOf(TaskTimeoutError);
          expect(errors[2]).to.be.instanceOf(WorkerCrashedError);
          expect(failed.map((f) => f.payload.error)).to.deep.equal(errors);
          expect(failed.map((f) => f.payload.future)).to.deep.equal([thrown, stuck, crashed]);
        } finally {
          await pool.shutdown();
        }
      });

      it('reports cancellations, pending and running, with their cause', async () => {
        const pool = make({ maxWorkers: 1, cancelGrace: 100, shutdownGrace: 500 });
        try {
          const cancelled = record(pool, 'taskCancelled');
          const running = pool.submit(
            (d: string) => {
              const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
              fs.writeFileSync(`${d}/started`, '');
              while (true) {}
            },
            [dir.path],
          );
          const queued = pool.submit(() => 'never');
          await waitForFile(join(dir.path, 'started'));
          // The worker says it is ready just before it starts the task: wait until the
          // parent has read that, or it would still take the task for pending.
          await waitUntil(() => running.running(), 'the parent to see the task running');
          expect(queued.cancel()).to.equal(true);
          expect(running.cancel({ running: true })).to.equal(true);
          expect(cancelled.map((c) => [c.payload.future, c.payload.wasRunning])).to.deep.equal([
            [queued, false],
            [running, true],
          ]);
          const controller = new AbortController();
          const signalled = pool.submit((x: number) => x, [1], { signal: controller.signal });
          controller.abort('enough');
          expect(cancelled.at(-1)?.payload.future).to.equal(signalled);
          expect(cancelled.at(-1)?.payload.cause).to.equal('enough');
          expect(await failure(running)).to.be.instanceOf(CancelledError);
        } finally {
          await pool.shutdown();
        }
      });

      it('reports a retry after a crash, then the success of the re-run', async () => {
        const pool = make({ maxWorkers: 1, retries: 1 });
        try {
          const seen = record(pool, 'taskRetried', 'taskFinished');
          const value = await pool.submit(
            (d: string) => {
              const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
              if (!fs.existsSync(`${d}/crashed-once`)) {
                fs.writeFileSync(`${d}/crashed-once`, '');
                process.exit(9);
              }
              return 'second time lucky';
            },
            [dir.path],
          );
          expect(value).to.equal('second time lucky');
          expect(seen.map((s) => s.event)).to.deep.equal(['taskRetried', 'taskFinished']);
          const retried = seen[0]!.payload as PoolEvents['taskRetried'];
          expect(retried.attempt).to.equal(1);
          expect(retried.error).to.be.instanceOf(WorkerCrashedError);
          expect((retried.error as WorkerCrashedError).exitCode).to.equal(9);
        } finally {
          await pool.shutdown();
        }
      });

      it('reports workers spawned and exited, with the reason', async () => {
        const pool = make({ maxWorkers: 1 });
        const spawned = record(pool, 'workerSpawned');
        const exited = record(pool, 'workerExited');
        try {
          await failure(pool.submit(() => process.exit(4)));
          expect(await pool.submit(() => 'replaced')).to.equal('replaced');
        } finally {
          await pool.shutdown();
        }
        expect(spawned).to.have.length(2);
        expect(exited.map((e) => e.payload.pid)).to.deep.equal(spawned.map((s) => s.payload.pid));
        expect(exited[0]!.payload.reason).to.equal('exit');
        expect(exited[0]!.payload.exitCode).to.equal(4);
        expect(exited[1]!.payload.reason).to.equal('retired');
        expect(exited[1]!.payload.tasksCompleted).to.equal(1);
      });

      it('emits drain when every queued task went to a worker, and idle when all are done', async () => {
        const pool = make({ maxWorkers: 1 });
        try {
          const order: string[] = [];
          pool.on('drain', () => order.push('drain'));
          pool.on('idle', () => order.push('idle'));
          pool.on('taskFinished', () => order.push('finished'));
          const idle = new Promise((resolve) => pool.once('idle', resolve));
          const futures = [1, 2, 3].map((n) => pool.submit((x: number) => x, [n]));
          await idle;
          expect(futures.every((f) => f.done())).to.equal(true);
          expect(order.indexOf('drain')).to.be.at.least(0);
          expect(order.at(-1)).to.equal('idle');
          expect(order.filter((o) => o === 'finished')).to.have.length(3);
        } finally {
          await pool.shutdown();
        }
      });

      it('a listener that throws is reported as a warning; the others run and the task completes', async () => {
        const pool = make({ maxWorkers: 1 });
        try {
          let second = 0;
          pool.on('taskFinished', () => {
            throw new Error('listener bug');
          });
          pool.on('taskFinished', () => {
            second++;
          });
          let value: unknown;
          const warnings = await warningsDuring('ExecutorListenerWarning', async () => {
            value = await pool.submit(() => 'fine');
          });
          expect(value).to.equal('fine');
          expect(second).to.equal(1);
          expect(warnings).to.have.length(1);
          expect((warnings[0] as Error & { code: string }).code).to.equal('ERR_EXECUTOR_LISTENER');
          expect((warnings[0]!.cause as Error).message).to.equal('listener bug');
        } finally {
          await pool.shutdown();
        }
      });

      it('describes map chunks as kind map, with their item count and no future', async () => {
        const pool = make();
        try {
          const finished = record(pool, 'taskFinished');
          const results = await pool.map((x: number) => x * 2, [1, 2, 3, 4, 5], { chunksize: 2 });
          expect(results).to.deep.equal([2, 4, 6, 8, 10]);
          const chunks = finished.map((f) => f.payload);
          expect(chunks.map((c) => c.kind)).to.deep.equal(['map', 'map', 'map']);
          expect(chunks.map((c) => c.items).sort()).to.deep.equal([1, 2, 2]);
          expect(chunks.every((c) => c.future === undefined)).to.equal(true);
          // A chunk of numbers travels packed; its event still holds a plain array.
          finished.length = 0;
          const many = Array.from({ length: 40 }, (_, i) => i);
          await pool.map((x: number) => x + 0.5, many, { chunksize: 40 });
          const [chunk] = finished.map((f) => f.payload as PoolEvents['taskFinished']);
          expect(Array.isArray(chunk?.value)).to.equal(true);
          expect(chunk?.value).to.deep.equal(many.map((x) => x + 0.5));
        } finally {
          await pool.shutdown();
        }
      });

      it('refuses an unknown event name and a listener that is not a function, at once', async () => {
        const pool = make({ maxWorkers: 1 });
        try {
          expect(() => pool.on('taskDone' as PoolEventName, () => {})).to.throw(
            RangeError,
            /Expected an event name .*got "taskDone"/,
          );
          expect(() => pool.on('taskFinished', 'not a function' as unknown as () => void)).to.throw(
            TypeError,
            /to be a function, got string/,
          );
          expect(await pool.submit(() => 'still fine')).to.equal('still fine');
        } finally {
          await pool.shutdown();
        }
      });

      it('calls a once listener for one event only; off removes it before it fires', async () => {
        const pool = make({ maxWorkers: 1 });
        try {
          const seen: number[] = [];
          pool.once('taskFinished', ({ taskId }) => seen.push(taskId));
          const never = () => seen.push(-1);
          pool.once('taskFinished', never);
          pool.off('taskFinished', never);
          await pool.submit(() => 1);
          await pool.submit(() => 2);
          expect(seen).to.have.length(1);
          expect(pool.listenerCount('taskFinished')).to.equal(0);
        } finally {
          await pool.shutdown();
        }
      });

      it('removes a listener with off', async () => {
        const pool = make({ maxWorkers: 1 });
        try {
          let calls = 0;
          const listener = () => {
            calls++;
          };
          pool.on('taskFinished', listener);
          await pool.submit(() => 1);
          pool.off('taskFinished', listener);
          await pool.submit(() => 2);
          expect(calls).to.equal(1);
          expect(pool.listenerCount('taskFinished')).to.equal(0);
        } finally {
          await pool.shutdown();
        }
      });
    });

    describe(`statistics (${kind})`, () => {
      it('counts submitted, completed, failed, cancelled, crashed, timed out and retried tasks', async () => {
        const pool = make({ maxWorkers: 1, cancelGrace: 100, shutdownGrace: 500 });
        try {
          await pool.submit(() => 1);
          await failure(
            pool.submit(() => {
              throw new Error('x');
            }),
          );
          await failure(
            pool.submit(
              () => {
                while (true) {}
              },
              [],
              { timeout: 100 },
            ),
          );
          await failure(pool.submit(() => process.exit(2)));
          const cancelled = pool.submit(() => 'late', [], { signal: AbortSignal.abort() });
          expect(cancelled.cancelled()).to.equal(true);
          await pool.submit(
            (d: string) => {
              const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
              if (!fs.existsSync(`${d}/once`)) {
                fs.writeFileSync(`${d}/once`, '');
                process.exit(3);
              }
              return 'ok';
            },
            [dir.path],
            { retries: 1 },
          );
          const stats = pool.stats();
          expect({
            submitted: stats.submitted,
            completed: stats.completed,
            failed: stats.failed,
            cancelled: stats.cancelled,
            crashed: stats.crashed,
            timedOut: stats.timedOut,
            retried: stats.retried,
          }).to.deep.equal({
            submitted: 6,
            completed: 2,
            failed: 3,
            cancelled: 1,
            crashed: 1,
            timedOut: 1,
            retried: 1,
          });
          expect(stats.queued).to.equal(0);
          expect(stats.running).to.equal(0);
        } finally {
          await pool.shutdown();
        }
      });

      it('reports run and wait time distributions of recent tasks', async () => {
        const pool = make({ maxWorkers: 1 });
        try {
          // Each task busy-waits at least 20 ms of its own measured time.
          const busy = () => {
            const until = performance.now() + 20;
            while (performance.now() < until) {}
          };
          await Promise.all(Array.from({ length: 5 }, () => pool.submit(busy)));
          const { runTime, waitTime } = pool.stats();
          expect(runTime.count).to.equal(5);
          expect(runTime.p50).to.be.at.least(20);
          expect(runTime.max).to.be.at.least(runTime.p99);
          expect(runTime.p99).to.be.at.least(runTime.p90);
          expect(runTime.p90).to.be.at.least(runTime.p50);
          expect(runTime.mean).to.be.at.least(20);
          expect(waitTime.count).to.equal(5);
          // The fifth task waited for the four before it.
          expect(waitTime.max).to.be.at.least(4 * 20);
        } finally {
          await pool.shutdown();
        }
      });

      it('reports each worker with its pid, state, tasks done and resources', async () => {
        const pool = make({ maxWorkers: 2, minWorkers: 2 });
        try {
          await Promise.all(
            Array.from({ length: 20 }, (_, i) => pool.submit((x: number) => x, [i])),
          );
          const { perWorker, workers, idle } = pool.stats();
          expect(workers).to.equal(2);
          expect(idle).to.equal(2);
          expect(perWorker.map((w) => w.pid).sort()).to.deep.equal(pool.workerIds().sort());
          expect(perWorker.reduce((sum, w) => sum + w.tasksCompleted, 0)).to.equal(20);
          for (const worker of perWorker) {
            expect(worker.state).to.equal('idle');
            expect(worker.heapUsed).to.be.greaterThan(0);
            expect(worker.usageAge).to.be.at.least(0);
            if (kind === 'process') {
              expect(worker.rss).to.be.greaterThan(0);
              expect(worker.cpuTime).to.be.greaterThan(0);
            } else {
              expect(worker.rss).to.equal(undefined);
              expect(worker.cpuTime).to.equal(undefined);
            }
          }
        } finally {
          await pool.shutdown();
        }
      });
    });

    describe(`progress (${kind})`, () => {
      it('delivers values from currentTask().progress() to onProgress and the event, the last one before the result', async () => {
        const pool = make({ maxWorkers: 1 });
        try {
          const fromEvent: unknown[] = [];
          pool.on('taskProgress', ({ value }) => fromEvent.push(value));
          const fromCallback: unknown[] = [];
          let doneAtLastProgress: boolean | undefined;
          const future = pool.submit(
            async (n: number) => {
              for (let i = 1; i <= n; i++) {
                currentTask().progress({ step: i, of: n });
                await new Promise((resolve) => setTimeout(resolve, 60));
              }
              return 'finished';
            },
            [3],
            {
              onProgress: (value) => {
                fromCallback.push(value);
                doneAtLastProgress = future.done();
              },
            },
          );
          expect(await future).to.equal('finished');
          expect(fromCallback.at(-1)).to.deep.equal({ step: 3, of: 3 });
          expect(doneAtLastProgress).to.equal(false);
          expect(fromEvent).to.deep.equal(fromCallback);
          // In order, none repeated.
          const steps = fromCallback.map((v) => (v as { step: number }).step);
          expect(steps).to.deep.equal([...steps].sort((a, b) => a - b));
          expect(new Set(steps).size).to.equal(steps.length);
        } finally {
          await pool.shutdown();
        }
      });

      it('rate-limits a task that reports progress in a tight loop, and delivers its last value', async () => {
        const pool = make({ maxWorkers: 1 });
        try {
          const values: number[] = [];
          const result = await pool.submit(
            (n: number) => {
              for (let i = 0; i < n; i++) currentTask().progress(i);
              return n;
            },
            [200_000],
            { onProgress: (value) => values.push(value as number) },
          );
          expect(result).to.equal(200_000);
          expect(values.at(-1)).to.equal(199_999);
          // One message per 50 ms at most: far fewer than the calls.
          expect(values.length).to.be.lessThan(2_000);
        } finally {
          await pool.shutdown();
        }
      });

      it('fails the task when it reports a value that cannot be cloned', async () => {
        const pool = make({ maxWorkers: 1 });
        try {
          const error = await failure(
            pool.submit(() => {
              currentTask().progress(() => 'a function');
              return 'unreachable';
            }),
          );
          expect(error).to.be.instanceOf(TypeError);
          expect((error as Error).message).to.match(/progress\(\) cannot be sent to the parent/);
          expect(await pool.submit(() => 'still fine')).to.equal('still fine');
        } finally {
          await pool.shutdown();
        }
      });

      it('map reports done, failed and total, ending with every item done', async () => {
        const pool = make();
        try {
          const reports: Array<{ done: number; failed: number; total: number | undefined }> = [];
          function* items() {
            for (let i = 0; i < 50; i++) yield i;
          }
          const results = await pool.map((x: number) => x + 1, items(), {
            chunksize: 5,
            onProgress: (progress) => reports.push(progress),
          });
          expect(results).to.have.length(50);
          expect(reports.at(-1)).to.deep.equal({ done: 50, failed: 0, total: 50 });
          const done = reports.map((r) => r.done);
          expect(done).to.deep.equal([...done].sort((a, b) => a - b));
        } finally {
          await pool.shutdown();
        }
      });
    });

    describe(`worker output (${kind})`, () => {
      it("stdio 'capture' puts each task's stdout and stderr on its future, also for tasks run back to back", async () => {
        const pool = make({ maxWorkers: 1, stdio: 'capture' });
        try {
          const say = (n: number) => {
            console.log(`out ${n}`);
            process.stderr.write(`err ${n}\n`);
            return n;
          };
          // Warm up so the tasks travel in one batch and run back to back.
          await Promise.all(Array.from({ length: 200 }, (_, i) => pool.submit(say, [i])));
          const futures = Array.from({ length: 50 }, (_, i) => pool.submit(say, [i]));
          await Promise.all(futures);
          futures.forEach((future, i) => {
            expect(future.output).to.deep.equal({
              stdout: `out ${i}\n`,
              stderr: `err ${i}\n`,
              truncated: false,
            });
          });
        } finally {
          await pool.shutdown();
        }
      });

      it("stdio 'capture' keeps what a crashing task wrote, and the crash report has its stderr", async () => {
        const pool = make({ maxWorkers: 1, stdio: 'capture' });
        try {
          const future = pool.submit(() => {
            console.log('about to go');
            process.stderr.write('last words\n');
            process.exit(5);
          });
          const error = (await failure(future)) as WorkerCrashedError;
          expect(error).to.be.instanceOf(WorkerCrashedError);
          expect(error.exitCode).to.equal(5);
          expect(error.stderr).to.include('last words');
          expect(error.stderr).to.not.include('\u001b]9999;');
          expect(future.output?.stdout).to.equal('about to go\n');
          expect(future.output?.stderr).to.equal('last words\n');
        } finally {
          await pool.shutdown();
        }
      });

      it("stdio 'capture' survives a task flooding its output: the result arrives, the output is cut at 1 MiB", async () => {
        const pool = make({ maxWorkers: 1, stdio: 'capture' });
        try {
          const future = pool.submit(() => {
            const line = `${'x'.repeat(1023)}\n`;
            for (let i = 0; i < 5 * 1024; i++) process.stdout.write(line);
            return 'survived';
          });
          expect(await future).to.equal('survived');
          expect(future.output?.truncated).to.equal(true);
          expect(future.output?.stdout.length).to.equal(1024 * 1024);
          expect(await pool.submit(() => 'next')).to.equal('next');
        } finally {
          await pool.shutdown();
        }
      });

      it("stdio 'pipe' streams every worker's output a line at a time, tagged with its pid", async () => {
        const pool = make({ maxWorkers: 1, stdio: 'pipe' });
        const lines: string[] = [];
        pool.stdout?.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n')));
        const outputEvents: Array<PoolEvents['output']> = [];
        pool.on('output', (event) => outputEvents.push(event));
        let pid: number | undefined;
        try {
          const future = pool.submit(() => {
            process.stdout.write('first part, ');
            console.log('same line');
            console.log('second line');
          });
          await future;
          pid = pool.workerIds()[0];
        } finally {
          await pool.shutdown();
        }
        await once(pool.stdout!, 'end');
        expect(lines.filter((l) => l !== '')).to.deep.equal([
          `[${pid}] first part, same line`,
          `[${pid}] second line`,
        ]);
        const text = outputEvents
          .filter((e) => e.stream === 'stdout')
          .map((e) => e.chunk.toString())
          .join('');
        expect(text).to.equal('first part, same line\nsecond line\n');
        expect(outputEvents.every((e) => e.taskId !== undefined && e.pid === pid)).to.equal(true);
      });
    });
  }

  it("stdio 'capture' also takes output that a subprocess of the task writes to the inherited descriptors", async () => {
    const pool = new ProcessPoolExecutor({ maxWorkers: 1, stdio: 'capture' });
    try {
      const future = pool.submit(() => {
        const { execFileSync } = process.getBuiltinModule(
          'node:child_process',
        ) as typeof import('node:child_process');
        execFileSync(process.execPath, ['-e', 'console.log("from a grandchild")'], {
          stdio: 'inherit',
        });
        return 'done';
      });
      expect(await future).to.equal('done');
      expect(future.output?.stdout).to.equal('from a grandchild\n');
    } finally {
      await pool.shutdown();
    }
  });

  it('publishes events on node:diagnostics_channel with the executor', async () => {
    const pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    const messages: Array<ChannelMessage<'taskFinished'>> = [];
    const onMessage = (message: unknown) => {
      messages.push(message as ChannelMessage<'taskFinished'>);
    };
    subscribe('concurrent-futures:taskFinished', onMessage);
    try {
      expect(await pool.submit(() => 'seen')).to.equal('seen');
      const mine = messages.filter((m) => m.executor === pool);
      expect(mine).to.have.length(1);
      expect(mine[0]!.value).to.equal('seen');
    } finally {
      unsubscribe('concurrent-futures:taskFinished', onMessage);
      await pool.shutdown();
    }
  });

  it('a CancelAll shows as one failure and cancelled siblings in the counters', async () => {
    const pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    try {
      const thrower = pool.submit(() => {
        throw new CancelAll('stop');
      });
      const siblings = [1, 2, 3].map((n) => pool.submit((x: number) => x, [n]));
      expect(await failure(thrower)).to.be.instanceOf(CancelAll);
      for (const sibling of siblings)
        expect(await failure(sibling)).to.be.instanceOf(CancelledError);
      const stats = pool.stats();
      expect(stats.failed).to.equal(1);
      expect(stats.cancelled).to.equal(3);
    } finally {
      await pool.shutdown();
    }
  });
});
