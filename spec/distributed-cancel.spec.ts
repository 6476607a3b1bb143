/**
 * Cancellation across machines, against a real redis-server and real worker
 * node processes: a waiting job is removed, a running one is stopped on
 * whichever node runs it, and CancelAll from a task on one node cancels its
 * siblings on every node. Tasks and test meet through files (see
 * spec/fixtures/distributed/tasks.mjs); no test sleeps.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { expect } from 'chai';
import { DistributedExecutor, task } from '../lib/distributed/index.js';
import { CancelAll, CancelledError } from '../lib/index.js';
import { tempDir, waitUntil } from './support/handshake.js';
import { expectNoChildren } from './support/hooks.js';
import { RedisServer } from './support/redis.js';
import { NodeProcess } from './support/worker-nodes.js';

const block = task<(dir: string, name: string) => Promise<string>>('./tasks.mjs', 'block');
const cancelAllWhenGo = task<(dir: string, name: string) => Promise<never>>(
  './tasks.mjs',
  'cancelAllWhenGo',
);

/** Files in `dir` for task `name` in `state` ('started', 'aborted'), as node roles. */
function marks(dir: string, name: string, state: string): string[] {
  const prefix = `${name}.${state}.`;
  return readdirSync(dir)
    .filter((file) => file.startsWith(prefix))
    .map((file) => file.slice(prefix.length));
}

describe('DistributedExecutor cancellation (real redis-server, real worker nodes)', function () {
  this.timeout(60_000);
  let redis: RedisServer;

  before(async function () {
    (this as Mocha.Context & { keepsWorkers?: boolean }).keepsWorkers = true;
    redis = await RedisServer.start();
  });

  after(async () => {
    await redis?.stop();
    await expectNoChildren();
  });

  /** Runs `body` with fresh nodes (roles a, b, ...) on a fresh queue, then drains them. */
  async function withNodes(
    count: number,
    body: (nodes: NodeProcess[], queue: string) => Promise<void>,
  ): Promise<void> {
    const queue = `cancel-${Math.random().toString(36).slice(2)}`;
    const roles = ['a', 'b', 'c'].slice(0, count);
    const nodes = await Promise.all(
      roles.map((role) => NodeProcess.start(redis.url, queue, { role })),
    );
    try {
      await body(nodes, queue);
    } finally {
      await Promise.all(nodes.map((node) => node.stop()));
    }
  }

  it('cancel() of a waiting task removes its job; it never starts', async () => {
    const dir = tempDir();
    try {
      await withNodes(1, async (_nodes, queue) => {
        await using ex = new DistributedExecutor({ connection: redis.url, queue });
        // Fill the node's two slots, then queue one more behind them.
        const busy = [ex.submit(block, [dir.path, 'busy1']), ex.submit(block, [dir.path, 'busy2'])];
        await waitUntil(
          () =>
            marks(dir.path, 'busy1', 'started').length +
              marks(dir.path, 'busy2', 'started').length ===
            2,
          'both slots busy',
        );
        const waiting = ex.submit(block, [dir.path, 'waiting']);
        const inspect = new Queue(queue, { connection: { host: '127.0.0.1', port: redis.port } });
        try {
          await waitUntil(() => ex.stats().waiting === 1, 'the third task waiting');
          let jobs = 0;
          const deadline = Date.now() + 10_000;
          while (jobs === 0 && Date.now() < deadline) jobs = await inspect.getWaitingCount();
          expect(jobs).to.equal(1);
          expect(waiting.cancel()).to.equal(true);
          expect(waiting.cancelled()).to.equal(true);
          const gone = Date.now() + 10_000;
          while ((await inspect.getWaitingCount()) > 0 && Date.now() < gone) {
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
          expect(await inspect.getWaitingCount()).to.equal(0);
        } finally {
          await inspect.close();
        }
        writeFileSync(join(dir.path, 'release'), '');
        expect(await Promise.all(busy)).to.have.length(2);
        expect(marks(dir.path, 'waiting', 'started')).to.deep.equal([]);
        expect(await waiting.exception().catch((e: unknown) => e)).to.be.instanceOf(CancelledError);
      });
    } finally {
      dir.cleanup();
    }
  });

  it('cancel({ running: true }) and a submit signal stop a running task on the node that runs it', async () => {
    const dir = tempDir();
    try {
      await withNodes(2, async (_nodes, queue) => {
        await using ex = new DistributedExecutor({ connection: redis.url, queue });
        const running = ex.submit(block, [dir.path, 'one']);
        const controller = new AbortController();
        const signalled = ex.submit(block, [dir.path, 'two'], { signal: controller.signal });
        await waitUntil(() => running.running() && signalled.running(), 'both tasks running');
        await waitUntil(
          () =>
            marks(dir.path, 'one', 'started').length === 1 &&
            marks(dir.path, 'two', 'started').length === 1,
          'both tasks started',
        );
        expect(running.cancel()).to.equal(false); // Python semantics without { running: true }
        expect(running.cancel({ running: true })).to.equal(true);
        expect(running.cancelled()).to.equal(true);
        controller.abort(new Error('enough'));
        expect(signalled.cancelled()).to.equal(true);
        // Each task saw its signal abort, on whichever node ran it.
        await waitUntil(
          () => marks(dir.path, 'one', 'aborted').length === 1,
          'task one aborted on its node',
        );
        await waitUntil(
          () => marks(dir.path, 'two', 'aborted').length === 1,
          'task two aborted on its node',
        );
        expect(marks(dir.path, 'one', 'aborted')).to.deep.equal(marks(dir.path, 'one', 'started'));
        const reason = await signalled.exception().catch((e: unknown) => e);
        expect(reason).to.be.instanceOf(CancelledError);
        expect((reason as Error).cause).to.be.instanceOf(Error);
        expect(((reason as Error).cause as Error).message).to.equal('enough');
        expect(existsSync(join(dir.path, 'release'))).to.equal(false);
      });
    } finally {
      dir.cleanup();
    }
  });

  it('CancelAll thrown by a task on one node cancels every sibling, running and waiting, on every node', async () => {
    const dir = tempDir();
    try {
      await withNodes(3, async (_nodes, queue) => {
        await using ex = new DistributedExecutor({ connection: redis.url, queue });
        // Six slots (three nodes of two): five blockers and the thrower fill them.
        const blockers = Array.from({ length: 5 }, (_, i) => ex.submit(block, [dir.path, `b${i}`]));
        const thrower = ex.submit(cancelAllWhenGo, [dir.path, 'thrower']);
        const names = ['thrower', ...blockers.map((_, i) => `b${i}`)];
        await waitUntil(
          () => names.every((name) => marks(dir.path, name, 'started').length === 1),
          'six tasks started',
        );
        const nodesUsed = new Set(names.flatMap((name) => marks(dir.path, name, 'started')));
        expect(nodesUsed.size).to.equal(3);
        // Two more wait in the queue: no slot is free.
        const waiting = [ex.submit(block, [dir.path, 'w0']), ex.submit(block, [dir.path, 'w1'])];
        await waitUntil(
          () => ex.stats().waiting === 2 && ex.stats().running === 6,
          'six running, two waiting',
        );
        writeFileSync(join(dir.path, 'go'), '');
        const thrown = await thrower.exception();
        expect(thrown).to.be.instanceOf(CancelAll);
        for (const future of [...blockers, ...waiting]) {
          const error = await future.exception().catch((e: unknown) => e);
          expect(error).to.be.instanceOf(CancelledError);
          expect((error as Error).cause).to.be.instanceOf(CancelAll);
        }
        // The running blockers were stopped on their own nodes (all three took part).
        await waitUntil(
          () => blockers.every((_, i) => marks(dir.path, `b${i}`, 'aborted').length === 1),
          'every running blocker aborted',
        );
        const abortedOn = new Set(blockers.flatMap((_, i) => marks(dir.path, `b${i}`, 'aborted')));
        expect(abortedOn.size).to.be.at.least(2);
        expect(marks(dir.path, 'w0', 'started')).to.deep.equal([]);
        expect(marks(dir.path, 'w1', 'started')).to.deep.equal([]);
        // The executor stays usable.
        writeFileSync(join(dir.path, 'release'), '');
        expect(await ex.submit(block, [dir.path, 'after'])).to.match(/^after done on [abc]$/);
      });
    } finally {
      dir.cleanup();
    }
  });

  it('cancelAll() from the caller stops every task of the executor on every node', async () => {
    const dir = tempDir();
    try {
      await withNodes(2, async (_nodes, queue) => {
        await using ex = new DistributedExecutor({ connection: redis.url, queue });
        const futures = Array.from({ length: 6 }, (_, i) => ex.submit(block, [dir.path, `t${i}`]));
        const names = futures.map((_, i) => `t${i}`);
        const started = () => names.filter((name) => marks(dir.path, name, 'started').length > 0);
        await waitUntil(
          () => started().length === 4 && ex.stats().waiting === 2,
          'four running, two waiting',
        );
        const running = started();
        expect(ex.cancelAll('stop')).to.equal(6);
        for (const future of futures) expect(future.cancelled()).to.equal(true);
        const cause = await futures[0]!.exception().catch((e: unknown) => (e as Error).cause);
        expect(cause).to.be.instanceOf(CancelAll);
        await waitUntil(
          () => running.every((name) => marks(dir.path, name, 'aborted').length === 1),
          'running tasks aborted',
        );
        expect(started()).to.deep.equal(running);
      });
    } finally {
      dir.cleanup();
    }
  });
});
