/**
 * One AbortSignal shared by a batch of submits, the normal way to cancel a
 * batch: the executor listens to it once, not once per task, so Node never
 * prints `MaxListenersExceededWarning` (its limit is 10 listeners per event),
 * and the listener is gone once the batch settled, so a long-lived signal
 * (a server's shutdown signal, say) holds nothing of finished tasks.
 */
import { getEventListeners } from 'node:events';
import { expect } from 'chai';
import {
  CancelledError,
  ProcessPoolExecutor,
  type ProcessPoolOptions,
  ThreadPoolExecutor,
} from '../lib/index.js';
import { macrotasks, rejectionOf } from './support/futures.js';
import { waitUntil } from './support/handshake.js';

/** Provided by name inside workers; declared for the compiler. */
declare function currentTask(): { id: number; signal: AbortSignal };

type Pool = ProcessPoolExecutor | ThreadPoolExecutor;

const EXECUTORS: ReadonlyArray<{ name: string; make: (options: ProcessPoolOptions) => Pool }> = [
  { name: 'ProcessPoolExecutor', make: (o) => new ProcessPoolExecutor(o) },
  { name: 'ThreadPoolExecutor', make: (o) => new ThreadPoolExecutor(o) },
];

/** Records process warnings until `stop()`. */
function watchWarnings(): { readonly names: string[]; stop(): void } {
  const names: string[] = [];
  const listener = (warning: Error) => names.push(warning.name);
  process.on('warning', listener);
  return { names, stop: () => process.off('warning', listener) };
}

/** Waits until its task is aborted, then returns. */
function untilAborted(): Promise<string> {
  const signal = currentTask().signal;
  return new Promise((resolve) => {
    if (signal.aborted) resolve('aborted');
    signal.addEventListener('abort', () => resolve('aborted'));
  });
}

const BATCH = 25;

for (const { name, make } of EXECUTORS) {
  describe(`one AbortSignal shared by many submits (${name})`, function () {
    this.timeout(60_000);

    it(`${BATCH} submits add one listener to the signal, print no MaxListenersExceededWarning, and leave none once settled`, async () => {
      const pool = make({ maxWorkers: 2 });
      const warnings = watchWarnings();
      const controller = new AbortController();
      try {
        const futures = Array.from({ length: BATCH }, (_, i) =>
          pool.submit((n: number) => n * 2, [i], { signal: controller.signal }),
        );
        expect(getEventListeners(controller.signal, 'abort')).to.have.length(1);
        expect(await Promise.all(futures)).to.deep.equal(
          Array.from({ length: BATCH }, (_, i) => i * 2),
        );
        await macrotasks(2);
        expect(warnings.names).to.not.include('MaxListenersExceededWarning');
        expect(getEventListeners(controller.signal, 'abort')).to.have.length(0);
      } finally {
        warnings.stop();
        await pool.shutdown();
      }
    });

    it('aborting the shared signal cancels every task of the batch, running and pending, and leaves no listener', async () => {
      const pool = make({ maxWorkers: 2 });
      const warnings = watchWarnings();
      const controller = new AbortController();
      try {
        const futures = Array.from({ length: BATCH }, () =>
          pool.submit(untilAborted, [], { signal: controller.signal }),
        );
        await waitUntil(() => futures.filter((f) => f.running()).length === 2, 'two running tasks');
        const reason = new Error('batch no longer wanted');
        controller.abort(reason);
        for (const future of futures) {
          const error = await rejectionOf(future);
          expect(error).to.be.instanceOf(CancelledError);
          expect((error as CancelledError).cause).to.equal(reason);
        }
        expect(getEventListeners(controller.signal, 'abort')).to.have.length(0);
        // The executor goes on with other work.
        expect(await pool.submit(() => 'still works')).to.equal('still works');
        await macrotasks(2);
        expect(warnings.names).to.not.include('MaxListenersExceededWarning');
      } finally {
        warnings.stop();
        await pool.shutdown();
      }
    });

    it('tasks cancelled one by one take their share of the listener with them', async () => {
      const pool = make({ maxWorkers: 1 });
      const controller = new AbortController();
      try {
        const blocker = pool.submit(untilAborted);
        await waitUntil(() => blocker.running(), 'the first task to run');
        const queued = Array.from({ length: BATCH }, () =>
          pool.submit(() => 'never', [], { signal: controller.signal }),
        );
        expect(getEventListeners(controller.signal, 'abort')).to.have.length(1);
        for (const future of queued.slice(1)) expect(future.cancel()).to.equal(true);
        expect(getEventListeners(controller.signal, 'abort')).to.have.length(1);
        expect(queued[0]!.cancel()).to.equal(true);
        expect(getEventListeners(controller.signal, 'abort')).to.have.length(0);
        expect(blocker.cancel({ running: true })).to.equal(true);
      } finally {
        pool.cancelAll();
        await pool.shutdown();
      }
    });
  });
}
