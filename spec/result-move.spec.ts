/**
 * Worker threads move the large binary data of a result to the parent as
 * a private copy (worker/sendable.ts `sendableResult`): the parent gets
 * what a clone would give, and nothing the task holds is detached.
 */
import { expect } from 'chai';
import { ThreadPoolExecutor } from '../lib/index.js';
import { copyLikeThreads, MOVE_AT_LEAST, sendableResult } from '../lib/worker/sendable.js';

describe('large result buffers in worker threads', function () {
  this.timeout(30_000);

  describe('sendableResult (as a worker thread sends)', () => {
    before(() => copyLikeThreads());

    it('moves a private copy of a nested large buffer; the task keeps its own', () => {
      const bytes = new Uint8Array(MOVE_AT_LEAST * 2).fill(7);
      const result = [bytes.length, 42, bytes];
      const safe = sendableResult(result);
      if (!safe.ok) throw safe.error;
      const list = (safe as { list?: unknown[] }).list ?? [];
      const value = safe.value as [number, number, Uint8Array];
      expect(value).to.not.equal(result);
      expect(list).to.have.length(1);
      expect(list[0]).to.equal(value[2].buffer);
      expect(list[0]).to.not.equal(bytes.buffer);
      expect(value[2]).to.deep.equal(bytes);
      // Moving the copy leaves the task's bytes alone.
      structuredClone(value, { transfer: list as ArrayBuffer[] });
      expect(bytes.byteLength).to.equal(MOVE_AT_LEAST * 2);
      expect(bytes[0]).to.equal(7);
    });

    it('keeps views of one buffer sharing one buffer, moved once', () => {
      const buffer = new ArrayBuffer(MOVE_AT_LEAST * 2);
      const result = { head: new Uint8Array(buffer, 0, 16), tail: new Uint8Array(buffer, 16) };
      const safe = sendableResult(result);
      if (!safe.ok) throw safe.error;
      const value = safe.value as typeof result;
      expect(value.head.buffer).to.equal(value.tail.buffer);
      expect(value.tail.byteOffset).to.equal(16);
      expect((safe as { list?: unknown[] }).list).to.deep.equal([value.head.buffer]);
    });

    it('keeps cycles and shared containers; leaves class instances to the clone', () => {
      class Box {
        constructor(readonly bytes: Uint8Array) {}
      }
      const big = new Uint8Array(MOVE_AT_LEAST).fill(1);
      const inner = { bytes: big };
      const result: Record<string, unknown> = { a: inner, b: inner, box: new Box(big) };
      result.self = result;
      const safe = sendableResult(result);
      if (!safe.ok) throw safe.error;
      const value = safe.value as Record<string, any>;
      expect(value).to.not.equal(result);
      expect(value.self).to.equal(value);
      expect(value.a).to.equal(value.b);
      expect(value.a.bytes).to.not.equal(big);
      expect(value.box).to.equal(result.box);
      expect((safe as { list?: unknown[] }).list).to.deep.equal([value.a.bytes.buffer]);
      // What the parent gets is what a clone of the original gives.
      const viaMove = structuredClone(value);
      const viaClone = structuredClone(result) as Record<string, any>;
      expect(viaMove.a.bytes).to.deep.equal(viaClone.a.bytes);
      expect(viaMove.box.bytes).to.deep.equal(viaClone.box.bytes);
    });

    it('moves nothing for small buffers, shared memory or plain data', () => {
      const small = [new Uint8Array(MOVE_AT_LEAST - 1), Buffer.from('pooled')];
      const shared = { memory: new Uint8Array(new SharedArrayBuffer(MOVE_AT_LEAST * 2)) };
      for (const result of [small, shared, { a: [1, 2, 3] }, 'text', 5, null]) {
        const safe = sendableResult(result);
        if (!safe.ok) throw safe.error;
        expect(safe.value).to.equal(result);
        expect((safe as { list?: unknown[] }).list ?? []).to.deep.equal([]);
      }
    });

    it('still refuses what cannot be sent, and copies errors as before', () => {
      const refused = sendableResult([new Uint8Array(MOVE_AT_LEAST), () => 1]);
      expect(refused.ok).to.equal(true); // plain data: the channel refuses it, as before
      const error = new Error('inside');
      const withError = sendableResult({ error, bytes: new Uint8Array(MOVE_AT_LEAST) });
      if (!withError.ok) throw withError.error;
      const value = withError.value as { error: Error; bytes: Uint8Array };
      expect(value.error).to.not.equal(error);
      expect(value.error.message).to.equal('inside');
      expect((withError as { list?: unknown[] }).list).to.deep.equal([value.bytes.buffer]);
    });
  });

  it('ThreadPoolExecutor: results with large nested buffers arrive whole; the task keeps its buffers', async () => {
    const pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    try {
      const keep = (fill: number) => {
        const g = globalThis as { kept?: Uint8Array };
        // Held by the task across calls: must never be detached by sending it.
        g.kept ??= new Uint8Array(256 * 1024).fill(fill);
        const sum = g.kept.reduce((a, b) => a + b, 0);
        return [g.kept.length, sum, g.kept, { view: g.kept.subarray(8, 16) }];
      };
      for (let round = 0; round < 3; round++) {
        const [length, sum, bytes, { view }] = (await pool.submit(keep, [5])) as [
          number,
          number,
          Uint8Array,
          { view: Uint8Array },
        ];
        expect(length).to.equal(256 * 1024);
        expect(sum).to.equal(5 * 256 * 1024);
        expect(bytes.byteLength).to.equal(256 * 1024);
        expect(bytes[100]).to.equal(5);
        // As a clone gives it: the view shares the result's buffer.
        expect(view.buffer).to.equal(bytes.buffer);
        expect(view.byteOffset).to.equal(8);
      }
    } finally {
      await pool.shutdown();
    }
  });
});
