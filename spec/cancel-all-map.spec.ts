/**
 * CancelAll inside `map`, on both executors with real workers: the item that
 * throws it ends its map, the items after it never start, and the scope is
 * the whole executor, so plain `submit`s of the same executor are cancelled
 * too (docs/robustness.md, "CancelAll", "Scope").
 *
 * Every item writes `started-<i>` into a per-test temp dir before it does
 * anything else; the files present afterwards are exactly the items that
 * ran. With one worker, items run one at a time in input order, so the
 * items before the thrower, and the thrower, have all started, and none
 * after it may: those still in the parent's queue are cancelled, those
 * already sent ahead to the worker are skipped by the worker itself, and
 * the items of the thrower's own chunk after it are never called.
 *
 * Each case puts the items after the thrower in exactly one of those places
 * when it throws. Not covered, because the engine gets it wrong today: an
 * item the parent sends while the thrower's CancelAll is on its way back
 * (the outcome of an earlier item made room for it) still runs; see the
 * bug report of this branch. So an item that runs before the thrower either
 * is the thrower's chunk, or takes long enough (an awaited 20 ms timer) that
 * the engine sends that map's items one at a time; the duration only has to
 * exceed the engine's 4 ms target of queued work, and a slower machine only
 * makes it longer.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { CancelAll, CancelledError } from '../lib/index.js';
import { EXECUTORS } from './support/executors.js';
import { rejectionOf } from './support/futures.js';
import { filesStartingWith, readText, tempDir, waitForFile } from './support/handshake.js';

/**
 * Inline task functions are compiled in the worker, where `currentTask` and
 * `CancelAll` are provided by name; this declares the former for the compiler.
 */
declare function currentTask(): { id: number; signal: AbortSignal };

interface Item {
  d: string;
  i: number;
  /** The index of the item that throws CancelAll; -1 for none. */
  stopAt: number;
  /** Warm-up items only return: they teach the engine that the function is tiny. */
  warm?: boolean;
  /** Wait this long (ms) after writing `started-<i>`, which makes the item long for the engine. */
  pauseMs?: number;
}

/** The map function: records that item `i` started, and throws CancelAll at `stopAt`. */
const item = (x: Item): number | Promise<number> => {
  if (x.warm === true) return x.i;
  const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
  fs.writeFileSync(`${x.d}/started-${x.i}`, '');
  const end = () => {
    if (x.i === x.stopAt) throw new CancelAll(`stopped at ${x.i}`);
    return x.i;
  };
  if (x.pauseMs === undefined) return end();
  return new Promise((resolve) => setTimeout(resolve, x.pauseMs)).then(end);
};

/** Writes `started-<name>` in `d`: proof that the task ran. */
const mark = (d: string, name: string): string => {
  const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
  fs.writeFileSync(`${d}/started-${name}`, '');
  return name;
};

const items = (d: string, count: number, stopAt: number, pauseMs?: number): Item[] =>
  Array.from({ length: count }, (_, i) => ({ d, i, stopAt, pauseMs }));

/** Long enough that the engine sends the items one at a time (see the header). */
const LONG = 20;

/** The `started-<i>` files of map items, as sorted numbers. */
function startedItems(d: string): number[] {
  return filesStartingWith(d, 'started-')
    .map((name) => name.slice('started-'.length))
    .filter((rest) => /^\d+$/.test(rest))
    .map(Number)
    .sort((a, b) => a - b);
}

const upTo = (last: number): number[] => Array.from({ length: last + 1 }, (_, i) => i);

for (const { name, make } of EXECUTORS) {
  describe(`CancelAll inside map (${name})`, function () {
    this.timeout(60_000);
    let dir: { path: string; cleanup: () => void };
    beforeEach(() => {
      dir = tempDir('cf-cancel-map-');
    });
    afterEach(() => dir.cleanup());

    const cases = [
      {
        // Each item runs long: the items after the thrower wait in the
        // parent's queue, which the CancelAll cancels.
        title: 'one item per chunk, sent to the worker one at a time',
        chunksize: 1,
        warm: false,
        stopAt: 3,
        pauseMs: LONG,
      },
      {
        // After the warm-up the engine sends the items ahead in one batch:
        // the worker must skip those behind the thrower itself.
        title: 'the first item throws, the others already sent ahead to the worker',
        chunksize: 1,
        warm: true,
        stopAt: 0,
        pauseMs: undefined,
      },
      {
        // A fresh worker is sent one chunk: the thrower's own chunk stops at
        // it, the later chunks wait in the parent's queue.
        title: 'four items per chunk, the thrower in the middle of its chunk',
        chunksize: 4,
        warm: false,
        stopAt: 2,
        pauseMs: undefined,
      },
    ];

    for (const { title, chunksize, warm, stopAt, pauseMs } of cases) {
      it(`never starts the items after the one that throws CancelAll (${title})`, async () => {
        const pool = make({ maxWorkers: 1 });
        try {
          if (warm) {
            const warmUp = Array.from({ length: 2_000 }, (_, i) => ({
              d: dir.path,
              i,
              stopAt: -1,
              warm: true,
            }));
            expect(await pool.map(item, warmUp, { chunksize })).to.have.length(2_000);
          }
          const error = (await rejectionOf(
            pool.map(item, items(dir.path, 40, stopAt, pauseMs), { chunksize, buffersize: 40 }),
          )) as CancelAll;
          // The first failure in input order is the thrower's own CancelAll.
          expect(error).to.be.instanceOf(CancelAll);
          expect(error.reason).to.equal(`stopped at ${stopAt}`);
          expect(startedItems(dir.path)).to.deep.equal(upTo(stopAt));
          // The executor stays usable, also for a new map.
          expect(await pool.map(item, items(dir.path, 3, -1))).to.deep.equal([0, 1, 2]);
        } finally {
          await pool.shutdown();
        }
      });
    }

    it('cancels a plain submit queued behind the map too, which then never starts (the scope is the whole executor)', async () => {
      const pool = make({ maxWorkers: 1 });
      try {
        const run = pool.map(item, items(dir.path, 20, 2, LONG), { chunksize: 1, buffersize: 20 });
        const after = pool.submit(mark, [dir.path, 'plain-after']);
        expect(await rejectionOf(run)).to.be.instanceOf(CancelAll);
        const error = (await rejectionOf(after)) as CancelledError;
        expect(error).to.be.instanceOf(CancelledError);
        expect(error.cause).to.be.instanceOf(CancelAll);
        expect((error.cause as CancelAll).reason).to.equal('stopped at 2');
        expect(after.cancelled()).to.equal(true);
        expect(existsSync(join(dir.path, 'started-plain-after'))).to.equal(false);
        expect(startedItems(dir.path)).to.deep.equal([0, 1, 2]);
        expect(await pool.submit(mark, [dir.path, 'next'])).to.equal('next');
      } finally {
        await pool.shutdown();
      }
    });

    it('aborts a plain submit running on another worker when a map item throws CancelAll', async () => {
      // cancelGrace is long so that the running task is stopped by its
      // signal, which is what it proves, never by a kill.
      const pool = make({ maxWorkers: 2, cancelGrace: 10_000 });
      try {
        const runner = pool.submit(
          async (d: string) => {
            const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
            fs.writeFileSync(`${d}/started-runner`, '');
            const { signal } = currentTask();
            await new Promise((resolve) => signal.addEventListener('abort', resolve));
            fs.writeFileSync(`${d}/aborted-runner`, String(signal.reason?.name));
            return 'not cancelled';
          },
          [dir.path],
        );
        await waitForFile(join(dir.path, 'started-runner'));
        // The runner holds one worker; the map's items run on the other, in order.
        const error = await rejectionOf(
          pool.map(item, items(dir.path, 20, 3, LONG), { chunksize: 1, buffersize: 20 }),
        );
        expect(error).to.be.instanceOf(CancelAll);
        const cancelled = (await rejectionOf(runner)) as CancelledError;
        expect(cancelled).to.be.instanceOf(CancelledError);
        expect(cancelled.cause).to.be.instanceOf(CancelAll);
        expect((cancelled.cause as CancelAll).reason).to.equal('stopped at 3');
        await waitForFile(join(dir.path, 'aborted-runner'));
        expect(readText(join(dir.path, 'aborted-runner'))).to.equal('CancelledError');
        expect(startedItems(dir.path)).to.deep.equal([0, 1, 2, 3]);
        expect(await pool.submit(mark, [dir.path, 'next'])).to.equal('next');
      } finally {
        await pool.shutdown();
      }
    });
  });
}
