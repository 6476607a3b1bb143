/**
 * Moving ArrayBuffers instead of copying them: `submit(..., { transfer })`
 * for arguments, `transfer(value, list)` for results. Worker threads move;
 * worker processes copy (and accept the same code).
 */
import { expect } from 'chai';
import { ProcessPoolExecutor, ThreadPoolExecutor, transfer } from '../lib/index.js';

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
