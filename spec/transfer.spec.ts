/**
 * Moving ArrayBuffers instead of copying them: `submit(..., { transfer })`
 * for arguments, `transfer(value, list)` for results. Worker threads move;
 * worker processes copy (and accept the same code).
 */

import { join } from 'node:path';
import { expect } from 'chai';
import {
  type Future,
  ProcessPoolExecutor,
  ThreadPoolExecutor,
  task,
  transfer,
  WorkerCrashedError,
} from '../lib/index.js';
import { tempDir, touch, waitUntil } from './support/handshake.js';

const TASKS = new URL('../../spec/fixtures/tasks.mjs', import.meta.url);
const block = task<(options: { dir: string; name: string }) => Promise<string>>(TASKS, 'block');
const size = (bytes: Uint8Array): number => bytes.byteLength;

describe('transfer lists', function () {
  this.timeout(30_000);

  it('moves an argument buffer to a worker thread: the caller keeps a detached buffer', async () => {
    const pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    try {
      const bytes = new Uint8Array(1024 * 1024).fill(3);
      const future = pool.submit(
        (data: Uint8Array) => data.reduce((sum, b) => sum + b, 0),
        [bytes],
        {
          transfer: [bytes.buffer],
        },
      );
      expect(await future).to.equal(3 * 1024 * 1024);
      // Moved when the task was sent: the caller's view is detached.
      expect(bytes.byteLength).to.equal(0);
    } finally {
      await pool.shutdown();
    }
  });

  it('moves a result back from a worker thread with transfer(): the worker keeps a detached buffer', async () => {
    const pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    try {
      const result = await pool.submit(
        (size: number) => {
          const out = new Uint8Array(size).fill(7);
          (globalThis as { kept?: Uint8Array }).kept = out;
          return transfer(out, [out.buffer]);
        },
        [4096],
      );
      expect(result).to.be.instanceOf(Uint8Array);
      expect(result.byteLength).to.equal(4096);
      expect(result.every((b) => b === 7)).to.equal(true);
      const left = await pool.submit(() => (globalThis as { kept?: Uint8Array }).kept?.byteLength);
      expect(left).to.equal(0);
    } finally {
      await pool.shutdown();
    }
  });

  it('moves the buffers of several tasks sent to a thread in one batch', async () => {
    const pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    try {
      const inputs = Array.from({ length: 50 }, (_, i) => new Uint8Array(256).fill(i));
      const futures = inputs.map((bytes) =>
        pool.submit((data: Uint8Array) => transfer(data, [data.buffer]), [bytes], {
          transfer: [bytes.buffer],
        }),
      );
      const results = await Promise.all(futures);
      expect(inputs.every((bytes) => bytes.byteLength === 0)).to.equal(true);
      results.forEach((bytes, i) => {
        expect(bytes.byteLength).to.equal(256);
        expect(bytes[0]).to.equal(i);
      });
    } finally {
      await pool.shutdown();
    }
  });

  it('a task whose other argument cannot be cloned fails alone, and its buffers are not moved: no send is half-applied', async () => {
    // Settles issue 10's question: a transfer list naming a buffer of a task
    // whose arguments cannot be cloned. postMessage moves the buffers only
    // once the whole message is cloned, so the failed send (of the batch,
    // then of that task alone) leaves every buffer in place: the failing
    // task's caller keeps its data, and the other tasks of the same batch
    // still receive theirs whole.
    const pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    try {
      // Warm up, so that the worker takes tasks in batches.
      await Promise.all(Array.from({ length: 20 }, () => pool.submit((x: number) => x, [1])));
      const inputs = Array.from({ length: 30 }, (_, i) => new Uint8Array(512).fill(i));
      const futures = inputs.map((bytes, i) =>
        pool.submit(
          (data: Uint8Array, extra: unknown) => data.reduce((sum, b) => sum + b, 0) + Number(extra),
          [bytes, i % 3 === 1 ? () => 'cannot be cloned' : 0],
          { transfer: [bytes.buffer] },
        ),
      );
      const outcomes = await Promise.allSettled(futures.map((f) => f.result()));
      outcomes.forEach((outcome, i) => {
        if (i % 3 === 1) {
          expect(outcome.status, `task ${i}`).to.equal('rejected');
          const reason = (outcome as PromiseRejectedResult).reason as Error;
          expect(reason).to.be.instanceOf(TypeError);
          expect(reason.message).to.match(/^Argument 1 of task \d+ cannot be sent to a worker/);
          // Not moved: the caller still holds its data.
          expect(inputs[i]!.byteLength, `buffer of task ${i}`).to.equal(512);
          expect(inputs[i]!.every((b) => b === i)).to.equal(true);
        } else {
          expect(outcome, `task ${i}`).to.deep.equal({ status: 'fulfilled', value: 512 * i });
          expect(inputs[i]!.byteLength, `buffer of task ${i}`).to.equal(0);
        }
      });
    } finally {
      await pool.shutdown();
    }
  });

  describe('a task whose buffers were moved to a worker is never sent again', () => {
    // Sent again, its buffers would be detached, and Node drops a message
    // whose transfer list holds a detached buffer without a word: every
    // task of that batch would hang.

    async function sendAhead(pool: ThreadPoolExecutor): Promise<Future<number>[]> {
      // Tiny tasks first: the workers' depth grows, so that later tasks are
      // sent ahead to a worker behind its running one.
      await Promise.all(Array.from({ length: 2000 }, () => pool.submit(() => 0)));
      const futures: Future<number>[] = [];
      for (let i = 0; i < 40; i++) {
        const bytes = new Uint8Array(1024).fill(1);
        futures.push(pool.submit(size, [bytes], { transfer: [bytes.buffer] }));
      }
      return futures;
    }

    it('not taken back by work stealing: the tasks behind a long one wait for it and all settle', async () => {
      const dir = tempDir();
      const pool = new ThreadPoolExecutor({ maxWorkers: 2, minWorkers: 2 });
      try {
        await Promise.all(Array.from({ length: 2000 }, () => pool.submit(() => 0)));
        const head = pool.submit(block, [{ dir: dir.path, name: 'head' }]);
        await waitUntil(() => head.running(), 'the long task to start');
        const futures = await sendAhead(pool);
        // The other worker worked through its share and went idle: the
        // point at which it would take back the tasks behind the long one.
        await waitUntil(() => futures.some((f) => f.done()), 'a first task to finish');
        await waitUntil(() => pool.stats().idle >= 1, 'a worker to go idle');
        touch(join(dir.path, 'release-head'));
        expect(await head).to.equal('head');
        const settled = await Promise.all(futures.map((f) => f.result({ timeout: 20_000 })));
        expect(settled).to.deep.equal(futures.map(() => 1024));
      } finally {
        await pool.shutdown({ cancelFutures: true });
        dir.cleanup();
      }
    });

    it('not run again after its worker died: it fails with WorkerCrashedError saying its buffers went with the worker', async () => {
      const pool = new ThreadPoolExecutor({ maxWorkers: 2, minWorkers: 2 });
      try {
        await Promise.all(Array.from({ length: 2000 }, () => pool.submit(() => 0)));
        const crash = pool.submit(
          (ms: number) =>
            new Promise(() => {
              setTimeout(() => process.exit(1), ms);
            }),
          [200],
        );
        const futures = await sendAhead(pool);
        const outcomes = await Promise.allSettled(
          futures.map((f) => f.result({ timeout: 20_000 })),
        );
        expect(await crash.exception()).to.be.instanceOf(WorkerCrashedError);
        for (const outcome of outcomes) {
          if (outcome.status === 'fulfilled') {
            expect(outcome.value).to.equal(1024);
          } else {
            expect(outcome.reason).to.be.instanceOf(WorkerCrashedError);
            expect((outcome.reason as Error).message).to.match(/transfer list moved its buffers/);
          }
        }
      } finally {
        await pool.shutdown({ cancelFutures: true });
      }
    });
  });

  it('copies instead between processes: the same code works and the caller keeps its buffer', async () => {
    const pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    try {
      const bytes = new Uint8Array(1024).fill(5);
      const result = await pool.submit(
        (data: Uint8Array) =>
          transfer(
            data.map((b) => b * 2),
            [data.buffer],
          ),
        [bytes],
        { transfer: [bytes.buffer] },
      );
      expect(bytes.byteLength).to.equal(1024);
      expect(result.byteLength).to.equal(1024);
      expect(result[0]).to.equal(10);
    } finally {
      await pool.shutdown();
    }
  });

  it('refuses a transfer option that is not an array, at once', async () => {
    const pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    try {
      expect(() =>
        pool.submit((x: number) => x, [1], { transfer: new ArrayBuffer(8) as unknown as [] }),
      ).to.throw(TypeError, /Expected `transfer` to be an array/);
      expect(await pool.submit((x: number) => x, [1])).to.equal(1);
    } finally {
      await pool.shutdown();
    }
  });
});
