/**
 * Cancelling tasks the parent still takes for pending although their worker
 * has them: sent ahead in a batch behind a long task, or already running on
 * a worker whose `ready` the parent has not read yet. `cancel()` returning
 * true must mean the task does not run (or, if it got started, is stopped),
 * and `shutdown()` must still resolve.
 */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { ProcessPoolExecutor, ThreadPoolExecutor } from '../lib/index.js';
import { isAlive } from '../tools/processes.js';
import { filesStartingWith, tempDir, touch, waitForFile } from './support/handshake.js';

describe('cancelling tasks the parent takes for pending', function () {
  this.timeout(60_000);
  let dir: { path: string; cleanup: () => void };
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => dir.cleanup());

  // One function for every step, so that after the warm-up the engine sends
  // the steps to the worker in batches.
  const step = (d: string, i: number, mode: string): number => {
    const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
    if (mode === 'block') {
      fs.writeFileSync(`${d}/blocking`, '');
      while (!fs.existsSync(`${d}/go`)) {}
    }
    if (mode === 'write') fs.writeFileSync(`${d}/started-${i}`, '');
    return i;
  };

  for (const kind of ['process', 'thread'] as const) {
    const make = () =>
      kind === 'process'
        ? new ProcessPoolExecutor({ maxWorkers: 1, cancelGrace: 200, shutdownGrace: 500 })
        : new ThreadPoolExecutor({ maxWorkers: 1, cancelGrace: 200, shutdownGrace: 500 });

    it(`cancel() of tasks sent ahead behind a long synchronous task: none of them starts (${kind})`, async () => {
      const pool = make();
      try {
        await Promise.all(
          Array.from({ length: 2_000 }, (_, i) => pool.submit(step, [dir.path, i, 'warm'])),
        );
        const head = pool.submit(step, [dir.path, -1, 'block']);
        const behind = Array.from({ length: 50 }, (_, i) =>
          pool.submit(step, [dir.path, i, 'write']),
        );
        await waitForFile(join(dir.path, 'blocking'));
        expect(behind.map((future) => future.cancel()).every(Boolean)).to.equal(true);
        touch(join(dir.path, 'go'));
        expect(await head).to.equal(-1);
        await Promise.allSettled(behind);
        expect(behind.every((future) => future.cancelled())).to.equal(true);
        expect(filesStartingWith(dir.path, 'started-')).to.deep.equal([]);
        expect(await pool.submit(step, [dir.path, 5, 'warm'])).to.equal(5);
      } finally {
        await pool.shutdown();
      }
    });

    it(`shutdown({ cancelFutures: true }) also cancels the tasks sent ahead to a worker (${kind})`, async () => {
      const pool = make();
      await Promise.all(
        Array.from({ length: 2_000 }, (_, i) => pool.submit(step, [dir.path, i, 'warm'])),
      );
      const head = pool.submit(step, [dir.path, -1, 'block']);
      const behind = Array.from({ length: 50 }, (_, i) =>
        pool.submit(step, [dir.path, i, 'write']),
      );
      await waitForFile(join(dir.path, 'blocking'));
      const closing = pool.shutdown({ cancelFutures: true });
      expect(behind.every((future) => future.cancelled())).to.equal(true);
      touch(join(dir.path, 'go'));
      expect(await head).to.equal(-1);
      await closing;
      expect(filesStartingWith(dir.path, 'started-')).to.deep.equal([]);
    });
  }

  it('a task running before the parent read its worker’s ready message is stopped when cancelled, and shutdown resolves', async () => {
    const pool = new ProcessPoolExecutor({ maxWorkers: 1, cancelGrace: 100, shutdownGrace: 500 });
    let pid: number | undefined;
    try {
      const future = pool.submit(
        (d: string) => {
          const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
          fs.writeFileSync(`${d}/started`, String(process.pid));
          while (true) {}
        },
        [dir.path],
      );
      // Let the engine start the worker and send the task, then keep this
      // event loop from reading the worker's messages until the task runs.
      await null;
      const started = join(dir.path, 'started');
      while (!existsSync(started)) {}
      expect(future.state).to.equal('pending');
      expect(future.cancel({ running: true })).to.equal(true);
      expect(future.cancelled()).to.equal(true);
      pid = pool.workerIds()[0];
    } finally {
      await pool.shutdown();
    }
    expect(pid).to.be.a('number');
    expect(isAlive(pid!)).to.equal(false);
  });
});
