/**
 * A map never hangs.
 *
 * Its input is read lazily, so items already read are handed out while an
 * async input pauses (for a while, or for good), not once the buffer is full.
 *
 * And a map can still be running when
 * `shutdown()` is called. From then on nothing new may start: no chunk is
 * submitted, no worker spawned. What the map had already submitted runs to
 * its end (or is cancelled, with `cancelFutures`); its iteration hands out
 * those results and then ends with `ExecutorShutdownError` (or the
 * `CancelledError` of a cancelled item), and never hangs, whatever the
 * input: an array, an endless generator, an async input that never yields
 * again.
 */
import { expect } from 'chai';
import {
  CancelledError,
  ExecutorShutdownError,
  ProcessPoolExecutor,
  type ProcessPoolOptions,
  ThreadPoolExecutor,
} from '../lib/index.js';
import { rejectionOf } from './support/futures.js';
import { waitUntil } from './support/handshake.js';

type Pool = ProcessPoolExecutor | ThreadPoolExecutor;

const EXECUTORS: ReadonlyArray<{ name: string; make: (options: ProcessPoolOptions) => Pool }> = [
  { name: 'ProcessPoolExecutor', make: (o) => new ProcessPoolExecutor(o) },
  { name: 'ThreadPoolExecutor', make: (o) => new ThreadPoolExecutor(o) },
];

/** Resolves with `promise`, or fails the test once `ms` passed (a hang). */
async function within<T>(promise: PromiseLike<T>, what: string, ms = 20_000): Promise<T> {
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

/** Counts what `pool` spawns and submits. */
function activity(pool: Pool): { spawned: number; submitted: () => number } {
  const seen = { spawned: 0, submitted: () => pool.stats().submitted };
  pool.on('workerSpawned', () => {
    seen.spawned++;
  });
  return seen;
}

/** Reads `iterator` to its end; returns the values and how it ended. */
async function drain<R>(iterator: AsyncIterator<R>): Promise<{ values: R[]; error: unknown }> {
  const values: R[] = [];
  try {
    for (;;) {
      const step = await iterator.next();
      if (step.done) return { values, error: undefined };
      values.push(step.value);
    }
  } catch (error) {
    return { values, error };
  }
}

for (const { name, make } of EXECUTORS) {
  describe(`map() and shutdown() (${name})`, function () {
    this.timeout(60_000);

    it('submits and spawns nothing after shutdown(); the iteration hands out the items in flight, then ends with ExecutorShutdownError', async () => {
      const pool = make({ maxWorkers: 2 });
      const seen = activity(pool);
      const items = Array.from({ length: 200 }, (_, i) => i);
      // An array is all in flight by default: bound it, so that shutdown()
      // finds part of the input not yet submitted.
      const results = pool.map((x: number) => x * 2, items, { buffersize: 16 });
      const first = [await results.next(), await results.next(), await results.next()];
      expect(first.map((step) => step.value)).to.deep.equal([0, 2, 4]);
      await within(pool.shutdown(), 'shutdown()');
      const spawned = seen.spawned;
      const submitted = seen.submitted();
      const { values, error } = await within(drain(results), 'the end of the iteration');
      expect(error).to.be.instanceOf(ExecutorShutdownError);
      // In input order, without gaps, and only what was in flight: far from all 200.
      const got = [0, 2, 4, ...values];
      expect(got).to.deep.equal(got.map((_, i) => i * 2));
      expect(got.length).to.be.below(items.length);
      expect(seen.spawned).to.equal(spawned);
      expect(seen.submitted()).to.equal(submitted);
      expect(pool.workerIds()).to.deep.equal([]);
    });

    it('with an endless generator: shutdown() resolves, the generator is closed, and the iteration ends with ExecutorShutdownError', async () => {
      const pool = make({ maxWorkers: 2 });
      const seen = activity(pool);
      let closed = false;
      function* endless(): Generator<number> {
        try {
          for (let i = 0; ; i++) yield i;
        } finally {
          closed = true;
        }
      }
      const results = pool.map((x: number) => x + 1, endless());
      // A consumer that keeps pulling as fast as results come.
      const consumed = drain(results);
      await waitUntil(() => pool.stats().completed >= 20, 'some items to finish');
      await within(pool.shutdown(), 'shutdown()');
      const submitted = seen.submitted();
      const spawned = seen.spawned;
      const { values, error } = await within(consumed, 'the end of the iteration');
      expect(error).to.be.instanceOf(ExecutorShutdownError);
      expect(values).to.deep.equal(values.map((_, i) => i + 1));
      expect(closed).to.equal(true);
      expect(seen.submitted()).to.equal(submitted);
      expect(seen.spawned).to.equal(spawned);
    });

    it('with an async input that never yields again: the waiting iteration ends with ExecutorShutdownError at shutdown()', async () => {
      const pool = make({ maxWorkers: 1 });
      async function* stalls(): AsyncGenerator<number> {
        yield 1;
        yield 2;
        await new Promise(() => {});
      }
      const results = pool.map((x: number) => x * 10, stalls());
      expect((await results.next()).value).to.equal(10);
      expect((await results.next()).value).to.equal(20);
      // Tracked at once: it rejects only at shutdown, but must never be unhandled.
      const third = rejectionOf(results.next());
      await within(pool.shutdown(), 'shutdown()');
      expect(await within(third, 'the end of the iteration')).to.be.instanceOf(
        ExecutorShutdownError,
      );
    });

    it('awaited as a whole, over an endless input: rejects with ExecutorShutdownError once shut down', async () => {
      const pool = make({ maxWorkers: 2 });
      function* endless(): Generator<number> {
        for (let i = 0; ; i++) yield i;
      }
      const all = pool.map((x: number) => x, endless());
      const outcome = rejectionOf(all);
      await waitUntil(() => pool.stats().completed >= 10, 'some items to finish');
      await within(pool.shutdown(), 'shutdown()');
      expect(await within(outcome, 'the rejection')).to.be.instanceOf(ExecutorShutdownError);
    });

    it('with cancelFutures: the items in flight are cancelled and the iteration ends, never hangs', async () => {
      const pool = make({ maxWorkers: 2 });
      const seen = activity(pool);
      function* endless(): Generator<number> {
        for (let i = 0; ; i++) yield i;
      }
      const results = pool.map(async (x: number) => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        return x;
      }, endless());
      const consumed = drain(results);
      await waitUntil(() => pool.stats().completed >= 4, 'some items to finish');
      await within(pool.shutdown({ cancelFutures: true }), 'shutdown({ cancelFutures: true })');
      const submitted = seen.submitted();
      const { values, error } = await within(consumed, 'the end of the iteration');
      expect(error).to.satisfy(
        (e: unknown) => e instanceof CancelledError || e instanceof ExecutorShutdownError,
      );
      expect(values).to.deep.equal(values.map((_, i) => i));
      expect(seen.submitted()).to.equal(submitted);
    });
  });
}

for (const { name, make } of EXECUTORS) {
  describe(`map() over an async input that pauses (${name})`, function () {
    this.timeout(60_000);

    it('hands out the results of the items already read while the input waits', async () => {
      const pool = make({ maxWorkers: 1 });
      let resume: (() => void) | undefined;
      async function* pauses(): AsyncGenerator<number> {
        yield 1;
        yield 2;
        // Paused until the consumer has seen both results.
        await new Promise<void>((resolve) => {
          resume = resolve;
        });
        yield 3;
      }
      try {
        const results = pool.map((x: number) => x * 10, pauses());
        expect((await within(results.next(), 'the first result')).value).to.equal(10);
        expect((await within(results.next(), 'the second result')).value).to.equal(20);
        await waitUntil(() => resume !== undefined, 'the input to pause');
        resume!();
        expect((await within(results.next(), 'the third result')).value).to.equal(30);
        expect((await within(results.next(), 'the end')).done).to.equal(true);
      } finally {
        await pool.shutdown();
      }
    });
  });
}

for (const { name, make } of EXECUTORS) {
  describe(`map()'s default buffersize (${name})`, function () {
    this.timeout(60_000);

    it('submits all of an array input at once, as Python does', async () => {
      const pool = make({ maxWorkers: 2 });
      try {
        const items = Array.from({ length: 300 }, (_, i) => i);
        // Nothing is consumed: only the default bound limits what is submitted.
        const results = pool.map((x: number) => x + 1, items, { chunksize: 2 });
        await waitUntil(() => pool.stats().completed === 150, 'every chunk to finish');
        expect(pool.stats().submitted).to.equal(150);
        expect(await within(results, 'the results')).to.deep.equal(items.map((x) => x + 1));
      } finally {
        await pool.shutdown();
      }
    });

    it('keeps 64 chunks of a lazy input in flight, then waits for the consumer', async () => {
      const pool = make({ maxWorkers: 2 });
      let pulled = 0;
      function* endless(): Generator<number> {
        for (let i = 0; ; i++) {
          pulled++;
          yield i;
        }
      }
      try {
        const results = pool.map((x: number) => x, endless(), { chunksize: 3 });
        await waitUntil(() => pool.stats().completed === 64, '64 chunks to finish');
        // Nothing was consumed: the map read exactly 64 chunks and stopped.
        expect(pool.stats().submitted).to.equal(64);
        expect(pulled).to.equal(64 * 3);
        const first = await within(results.next(), 'the first result');
        expect(first.value).to.equal(0);
        await results.return?.();
      } finally {
        await pool.shutdown();
      }
    });
  });
}
