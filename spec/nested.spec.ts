/**
 * Nested submission (docs/nested.md): tasks submit tasks through
 * `currentTask().executor` and await them, on both executors, with real
 * workers. The task code is spec/fixtures/nested.mjs, which imports the
 * package by its own name (another copy than the worker's bundle).
 *
 * Sequenced by handshake files the tasks write; deadlines only bound hangs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { isCancelAll } from '../lib/errors.js';
import {
  CancelledError,
  NestingLimitError,
  type PoolEvents,
  TaskTimeoutError,
  task,
  WorkerCrashedError,
} from '../lib/index.js';
import { EXECUTORS } from './support/executors.js';
import { rejectionOf } from './support/futures.js';
import { tempDir, touch, waitForFile, waitUntil } from './support/handshake.js';

const NESTED = new URL('../../spec/fixtures/nested.mjs', import.meta.url).href;
const ref = <F extends (...args: any[]) => any>(name: string) => task<F>(NESTED, name);

type Fib = (n: number) => Promise<number>;

function serialFib(n: number): number {
  let [a, b] = [0, 1];
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a;
}

for (const { name, make } of EXECUTORS) {
  describe(`nested submission (${name})`, function () {
    this.timeout(120_000);
    let dir: { path: string; cleanup: () => void };
    beforeEach(() => {
      dir = tempDir('cf-nested-');
    });
    afterEach(() => dir.cleanup());

    for (const maxWorkers of [1, 2]) {
      it(`computes fib(20) by recursive submission with maxWorkers ${maxWorkers}: no deadlock`, async () => {
        const pool = make({ maxWorkers });
        try {
          expect(await pool.submit(ref<Fib>('fib'), [20])).to.equal(serialFib(20));
          const { nested } = pool.stats();
          // fib(20) makes 21,891 calls: all but the first are nested.
          expect(nested.submitted).to.equal(21_890);
          expect(nested.deepest).to.equal(19);
          expect(nested.live).to.equal(0);
          expect(nested.refused).to.equal(0);
        } finally {
          await pool.shutdown();
        }
      });
    }

    it('lets task code use wait(), asCompleted() and map() of its own copy of the package', async () => {
      const pool = make({ maxWorkers: 2 });
      try {
        expect(await pool.submit(ref<Fib>('fibWait'), [10])).to.equal(serialFib(10));
        const summed = await pool.submit(
          ref<(n: number) => Promise<unknown>>('sumAsCompleted'),
          [30],
        );
        let sum = 0;
        for (let i = 0; i < 30; i++) sum += i * i;
        expect(summed).to.deep.equal({ sum, seen: 30 });
        const items = Array.from({ length: 25 }, (_, i) => i);
        for (const chunksize of [1, 4]) {
          expect(
            await pool.submit(ref<(i: number[], c: number) => Promise<number[]>>('mapSquares'), [
              items,
              chunksize,
            ]),
          ).to.deep.equal(items.map((i) => i * i));
        }
      } finally {
        await pool.shutdown();
      }
    });

    it('cancelling a parent cancels its running and its pending nested tasks', async () => {
      const pool = make({ maxWorkers: 1 });
      const cancelled: PoolEvents['taskCancelled'][] = [];
      pool.on('taskCancelled', (event) => cancelled.push(event));
      try {
        const parent = pool.submit(ref<(d: string) => Promise<unknown>>('parentOfTwo'), [dir.path]);
        await waitForFile(join(dir.path, 'first-started'));
        const runningChildId = Number(readFileSync(join(dir.path, 'first-started'), 'utf8'));
        expect(parent.cancel({ running: true })).to.equal(true);
        expect(parent.cancelled()).to.equal(true);
        // The running child was stopped through its signal.
        await waitForFile(join(dir.path, 'first-aborted'));
        await waitUntil(() => pool.stats().nested.live === 0, 'nested tasks to be let go of');
        const children = cancelled.filter((event) => event.parentId !== undefined);
        expect(children.map((event) => event.wasRunning).sort()).to.deep.equal([false, true]);
        expect(children.find((event) => event.wasRunning)?.taskId).to.equal(runningChildId);
        // The pending child never ran.
        expect(existsSync(join(dir.path, 'second-ran'))).to.equal(false);
        expect(await pool.submit((x: number) => x + 1, [1])).to.equal(2);
      } finally {
        await pool.shutdown();
      }
    });

    it("a parent's time limit covers its nested tasks", async () => {
      const pool = make({ maxWorkers: 2 });
      const cancelled: PoolEvents['taskCancelled'][] = [];
      pool.on('taskCancelled', (event) => cancelled.push(event));
      try {
        const parent = pool.submit(
          ref<(d: string) => Promise<unknown>>('parentOfBlocker'),
          [dir.path],
          { timeout: 1_500 },
        );
        await waitForFile(join(dir.path, 'child-started'));
        const error = await rejectionOf(parent);
        expect(error).to.be.instanceOf(TaskTimeoutError);
        // The child, with no limit of its own, was stopped with its parent.
        await waitForFile(join(dir.path, 'child-aborted'));
        expect(cancelled.filter((event) => event.parentId !== undefined)).to.have.length(1);
      } finally {
        await pool.shutdown();
      }
    });

    for (const maxWorkers of [1, 2]) {
      it(`a crash of the worker running a parent fails the parent and cancels its children (maxWorkers ${maxWorkers})`, async () => {
        const pool = make({ maxWorkers });
        const ended: Array<{ parentId: number | undefined; how: string }> = [];
        pool.on('taskCancelled', ({ parentId }) => ended.push({ parentId, how: 'cancelled' }));
        pool.on('taskFailed', ({ parentId, error }) =>
          ended.push({ parentId, how: (error as Error).name }),
        );
        try {
          const parent = pool.submit(ref<(d: string) => Promise<unknown>>('crashWhileParked'), [
            dir.path,
          ]);
          await waitForFile(join(dir.path, 'child-started'));
          touch(join(dir.path, 'crash'));
          const error = await rejectionOf(parent);
          expect(error).to.be.instanceOf(WorkerCrashedError);
          await waitUntil(() => pool.stats().nested.live === 0, 'the child to end');
          const child = ended.filter((event) => event.parentId !== undefined);
          expect(child).to.have.length(1);
          // Cancelled with its parent, or (one worker) crashed along with it.
          expect(['cancelled', 'WorkerCrashedError']).to.include(child[0]!.how);
          expect(await pool.submit((x: number) => x * 2, [21])).to.equal(42);
        } finally {
          await pool.shutdown();
        }
      });
    }

    it('CancelAll thrown at depth 3 cancels the whole executor', async () => {
      const pool = make({ maxWorkers: 2 });
      try {
        const sibling = pool.submit(ref<(d: string, n: string) => Promise<unknown>>('blocker'), [
          dir.path,
          'sibling',
        ]);
        await waitForFile(join(dir.path, 'sibling-started'));
        const root = pool.submit(ref<(d: number) => Promise<unknown>>('chain'), [0]);
        const rootError = await rejectionOf(root);
        expect(rootError).to.be.instanceOf(CancelledError);
        expect(isCancelAll((rootError as CancelledError).cause)).to.equal(true);
        expect(String((rootError as CancelledError).cause)).to.include('found it at depth 3');
        expect(sibling.cancelled()).to.equal(true);
        await waitForFile(join(dir.path, 'sibling-aborted'));
        expect(pool.stats().nested.deepest).to.equal(3);
      } finally {
        await pool.shutdown();
      }
    });

    it("nested tasks stop with their parent's signal, and can take their own", async () => {
      const pool = make({ maxWorkers: 2 });
      try {
        const controller = new AbortController();
        const parent = pool.submit(
          ref<(d: string) => Promise<unknown>>('parentOfBlocker'),
          [dir.path],
          { signal: controller.signal },
        );
        await waitForFile(join(dir.path, 'child-started'));
        controller.abort(new Error('the user gave up'));
        expect(await rejectionOf(parent)).to.be.instanceOf(CancelledError);
        await waitForFile(join(dir.path, 'child-aborted'));

        const own = await pool.submit(ref<(d: string) => Promise<string>>('ownSignal'), [dir.path]);
        expect(own).to.equal('CancelledError, child state cancelled');
        // The running child was stopped, not just forgotten.
        await waitForFile(join(dir.path, 'own-aborted'));
      } finally {
        await pool.shutdown();
      }
    });

    it('a runaway recursion fails with NestingLimitError at maxNestingDepth', async () => {
      const pool = make({ maxWorkers: 2, maxNestingDepth: 10 });
      try {
        const error = await rejectionOf(
          pool.submit(ref<(d: number) => Promise<unknown>>('runaway'), [0]),
        );
        expect(error).to.be.instanceOf(NestingLimitError);
        expect(error).to.include({ code: 'ERR_NESTING_LIMIT', limit: 'depth', max: 10 });
        const { nested } = pool.stats();
        expect(nested.deepest).to.equal(10);
        expect(nested.refused).to.equal(1);
        expect(nested.live).to.equal(0);
      } finally {
        await pool.shutdown();
      }
    });

    it('too many nested tasks at once fail with NestingLimitError at maxNestedTasks', async () => {
      const pool = make({ maxWorkers: 2, maxNestedTasks: 20 });
      try {
        const outcome = await pool.submit(ref<(n: number) => Promise<unknown>>('flood'), [1_000]);
        // The worker refuses synchronously past the limit: a loop cannot flood the parent.
        expect(outcome).to.deep.equal({ ok: 20, codes: { ERR_NESTING_LIMIT: 980 } });
        expect(pool.stats().nested.peak).to.be.at.most(20);
      } finally {
        await pool.shutdown();
      }
    });

    it('a branching recursion without end fails with a nesting error under the default limits, the parent memory bounded', async () => {
      const pool = make({ maxWorkers: 2 });
      const heapBefore = process.memoryUsage().heapUsed;
      try {
        const error = await rejectionOf(
          pool.submit(ref<(d: number) => Promise<unknown>>('bomb'), [0]),
        );
        expect(error).to.be.instanceOf(NestingLimitError);
        const { nested } = pool.stats();
        expect(nested.peak).to.be.at.most(10_000);
        expect(nested.live).to.equal(0);
        // 10,000 task records and their messages, far from exhausting memory.
        expect(process.memoryUsage().heapUsed - heapBefore).to.be.below(400 * 1024 * 1024);
      } finally {
        await pool.shutdown();
      }
    });

    it('maxQueued holds for nested work', async () => {
      const pool = make({ maxWorkers: 1, maxQueued: 5 });
      try {
        const outcome = (await pool.submit(
          ref<(n: number) => Promise<unknown>>('flood'),
          [40],
        )) as {
          ok: number;
          codes: Record<string, number>;
        };
        expect(outcome.ok + (outcome.codes.ERR_QUEUE_FULL ?? 0)).to.equal(40);
        expect(outcome.codes.ERR_QUEUE_FULL).to.be.at.least(1);
        expect(Object.keys(outcome.codes)).to.deep.equal(['ERR_QUEUE_FULL']);
      } finally {
        await pool.shutdown();
      }
    });

    it('events carry the parent task id; stats count nested tasks', async () => {
      const pool = make({ maxWorkers: 2 });
      const started: PoolEvents['taskStarted'][] = [];
      const finished: PoolEvents['taskFinished'][] = [];
      pool.on('taskStarted', (event) => started.push(event));
      pool.on('taskFinished', (event) => finished.push(event));
      try {
        const root = pool.submit(ref<Fib>('fib'), [5]);
        expect(await root).to.equal(5);
        const ids = new Set(started.map((event) => event.taskId));
        const roots = started.filter((event) => event.parentId === undefined);
        expect(roots.map((event) => event.future)).to.deep.equal([root]);
        for (const event of started) {
          if (event.parentId !== undefined) expect(ids.has(event.parentId)).to.equal(true);
        }
        // fib(5) makes 15 calls; fib(n) for n >= 2 submits two children each.
        expect(started).to.have.length(15);
        const parents = new Map<number, number>();
        for (const event of finished) {
          if (event.parentId !== undefined) {
            parents.set(event.parentId, (parents.get(event.parentId) ?? 0) + 1);
          }
        }
        expect([...parents.values()].every((count) => count === 2)).to.equal(true);
        expect(parents.size).to.equal(7);
        expect(pool.stats().nested.submitted).to.equal(14);
      } finally {
        await pool.shutdown();
      }
    });

    it('hostile: a task that submits and never awaits has its nested task cancelled when it returns', async () => {
      const pool = make({ maxWorkers: 2 });
      const cancelled: PoolEvents['taskCancelled'][] = [];
      pool.on('taskCancelled', (event) => cancelled.push(event));
      try {
        const parent = pool.submit(ref<(d: string) => string>('fireAndForget'), [dir.path]);
        expect(await parent).to.equal('returned');
        await waitUntil(() => pool.stats().nested.live === 0, 'the orphan to be cancelled');
        expect(cancelled.filter((event) => event.parentId !== undefined)).to.have.length(1);
        // If it started before its parent's outcome arrived, it was stopped.
        if (existsSync(join(dir.path, 'orphan-started'))) {
          await waitForFile(join(dir.path, 'orphan-aborted'));
        }
        expect(await pool.submit((x: number) => x, [7])).to.equal(7);
      } finally {
        await pool.shutdown();
      }
    });

    it('hostile: a cancelled task that goes on awaiting and submitting gets cancelled futures, not a hang', async () => {
      const pool = make({ maxWorkers: 2 });
      try {
        const parent = pool.submit(ref<(d: string) => Promise<string>>('stubbornParent'), [
          dir.path,
        ]);
        await waitForFile(join(dir.path, 'child-started'));
        expect(parent.cancel({ running: true })).to.equal(true);
        await waitForFile(join(dir.path, 'stubborn-done'));
        expect(readFileSync(join(dir.path, 'stubborn-done'), 'utf8')).to.equal(
          'CancelledError; CancelledError',
        );
        expect(await pool.submit((x: number) => x, [8])).to.equal(8);
      } finally {
        await pool.shutdown();
      }
    });

    it('hostile: a nested task that throws a value nothing can read fails its future, in the parent task', async () => {
      const pool = make({ maxWorkers: 1 });
      try {
        expect(await pool.submit(ref<() => Promise<string>>('hostileChild'))).to.match(
          /^rejected: /,
        );
      } finally {
        await pool.shutdown();
      }
    });

    it("stdio: 'capture': a tree settles, every future with its output", async () => {
      const pool = make({ maxWorkers: 2, stdio: 'capture' });
      try {
        const root = pool.submit(ref<Fib>('fib'), [8]);
        expect(await root).to.equal(serialFib(8));
        expect(root.output).to.not.equal(undefined);
      } finally {
        await pool.shutdown();
      }
    });

    it('shutdown() while a tree runs lets the tree finish', async () => {
      const pool = make({ maxWorkers: 2 });
      const root = pool.submit(ref<Fib>('fib'), [12]);
      await pool.shutdown();
      expect(await root).to.equal(serialFib(12));
    });
  });
}
