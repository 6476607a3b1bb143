/**
 * Faults across machines, against a real redis-server and real worker node
 * processes: a node killed with SIGKILL (its jobs run elsewhere, or fail
 * with WorkerCrashedError naming it), a node drained with SIGTERM, Redis
 * killed and restarted mid-run, Redis unreachable. Nothing is lost and
 * every future settles. Sequencing is by handshakes (files written by task
 * code, lines printed by nodes, executor events); no test sleeps.
 */
import { spawn } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { DistributedExecutor, startWorker, task } from '../lib/distributed/index.js';
import { BrokenExecutorError, WorkerCrashedError } from '../lib/index.js';
import { tempDir, waitUntil } from './support/handshake.js';
import { expectNoChildren } from './support/hooks.js';
import { RedisServer } from './support/redis.js';
import { CLI, NodeProcess } from './support/worker-nodes.js';

type Item = { x: number; dir: string };
const hangOnVictim = task<(item: Item) => Promise<number>>('./tasks.mjs', 'hangOnVictim');
const block = task<(dir: string, name: string) => Promise<string>>('./tasks.mjs', 'block');
const whereAmI = task<() => { role: string; pid: number }>('./tasks.mjs', 'whereAmI');
const slowDouble = task<(x: number) => Promise<number>>('./tasks.mjs', 'slowDouble');

const freshQueue = (what: string) => `${what}-${Math.random().toString(36).slice(2)}`;

/** A TCP port nothing listens on (bound and released by this process). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('DistributedExecutor faults (real redis-server, real worker nodes)', function () {
  this.timeout(90_000);
  let redis: RedisServer;

  before(async function () {
    (this as Mocha.Context & { keepsWorkers?: boolean }).keepsWorkers = true;
    redis = await RedisServer.start();
  });

  after(async () => {
    await redis?.stop();
    await expectNoChildren();
  });

  it('a node killed with SIGKILL during a 2,000-task map: its jobs run elsewhere, 0 lost, all settle', async () => {
    const dir = tempDir();
    const queue = freshQueue('sigkill');
    const nodes = await Promise.all([
      NodeProcess.start(redis.url, queue, { role: 'victim', concurrency: 3 }),
      NodeProcess.start(redis.url, queue, { role: 'a', concurrency: 3 }),
      NodeProcess.start(redis.url, queue, { role: 'b', concurrency: 3 }),
    ]);
    const victim = nodes[0]!;
    const client = new Redis(redis.url);
    try {
      const ex = new DistributedExecutor({ connection: redis.url, queue, retries: 2 });
      const retried: unknown[] = [];
      ex.on('taskRetried', (event) => retried.push(event.error));
      const items = Array.from({ length: 2000 }, (_, x) => ({ x, dir: dir.path }));
      const results = Promise.resolve(ex.map(hangOnVictim, items, { buffersize: 100 }));
      results.catch(() => {});
      // The victim hangs on every task it takes: kill it once it holds three
      // (all its slots) and its heartbeat listing them reached the executor.
      await waitUntil(
        () => readdirSync(dir.path).filter((f) => f.startsWith('hang.')).length === 3,
        'the victim holding three tasks',
      );
      await waitUntil(
        () => ex.stats().nodes.some((n) => n.id === victim.id && n.active === 3),
        "the victim's heartbeat listing them",
      );

      victim.kill('SIGKILL');
      expect(await results).to.deep.equal(items.map(({ x }) => x * 2));
      for (const error of retried) {
        expect(error).to.be.instanceOf(WorkerCrashedError);
        expect((error as WorkerCrashedError).reason).to.equal('node-lost');
      }
      // Each of the victim's three tasks ran again, with an error naming the victim.
      const naming = retried.filter((error) => (error as Error).message.includes(victim.id));
      expect(naming).to.have.length(3);
      await ex.shutdown();
      // Nothing of the map is left in Redis.
      expect(await client.keys(`bull:${queue}:${ex.id}.*`)).to.deep.equal([]);
    } finally {
      client.disconnect();
      await Promise.all(nodes.map((node) => node.stop()));
      dir.cleanup();
    }
  });

  it('a lost node fails its task with WorkerCrashedError naming it, or re-runs it within retries', async () => {
    const dir = tempDir();
    const queue = freshQueue('crash');
    const victim = await NodeProcess.start(redis.url, queue, { role: 'victim', concurrency: 2 });
    let healthy: NodeProcess | undefined;
    try {
      await using ex = new DistributedExecutor({ connection: redis.url, queue });
      const noRetry = ex.submit(hangOnVictim, [{ x: 1, dir: dir.path }]);
      const oneRetry = ex.submit(hangOnVictim, [{ x: 2, dir: dir.path }], { retries: 1 });
      await waitUntil(() => readdirSync(dir.path).length === 2, 'both tasks hanging on the victim');
      // The executor knows where they run once the victim's heartbeat lists them.
      await waitUntil(
        () => ex.stats().nodes.some((n) => n.id === victim.id && n.active === 2),
        "the victim's heartbeat with both tasks",
      );
      healthy = await NodeProcess.start(redis.url, queue, { role: 'healthy' });
      victim.kill('SIGKILL');
      const error = (await noRetry.exception()) as WorkerCrashedError & { node: string };
      expect(error).to.be.instanceOf(WorkerCrashedError);
      expect(error.reason).to.equal('node-lost');
      expect(error.node).to.equal(victim.id);
      expect(error.message).to.include(`worker node ${victim.id}`);
      expect(error.message).to.include(`pid ${victim.child.pid}`);
      expect(await oneRetry).to.equal(4);
    } finally {
      await victim.stop();
      await healthy?.stop();
      dir.cleanup();
    }
  });

  it('a node sent SIGTERM finishes what it runs, takes nothing new, and exits 0', async () => {
    const dir = tempDir();
    const queue = freshQueue('drain');
    const draining = await NodeProcess.start(redis.url, queue, { role: 'a' });
    let other: NodeProcess | undefined;
    try {
      await using ex = new DistributedExecutor({ connection: redis.url, queue });
      const long = ex.submit(block, [dir.path, 'long']);
      await waitUntil(
        () => readdirSync(dir.path).includes('long.started.a'),
        'the long task started',
      );
      draining.kill('SIGTERM');
      await draining.waitFor(/draining/);
      const later = ex.submit(whereAmI, []);
      other = await NodeProcess.start(redis.url, queue, { role: 'b' });
      expect((await later).role).to.equal('b');
      writeFileSync(join(dir.path, 'release'), '');
      expect(await long).to.equal('long done on a');
      expect(await draining.exited).to.deep.equal({ code: 0, signal: null });
      expect(draining.output).to.match(/closed: 1 tasks run, 0 failed/);
    } finally {
      await draining.stop();
      await other?.stop();
      dir.cleanup();
    }
  });

  it('Redis killed and restarted mid-run: executor and nodes reconnect, every future settles', async () => {
    const queue = freshQueue('restart');
    const nodes = await Promise.all([
      NodeProcess.start(redis.url, queue, { role: 'a' }),
      NodeProcess.start(redis.url, queue, { role: 'b' }),
    ]);
    try {
      await using ex = new DistributedExecutor({ connection: redis.url, queue, retries: 3 });
      let disconnected = 0;
      let reconnected = 0;
      ex.on('disconnected', () => disconnected++);
      ex.on('reconnected', () => reconnected++);
      const futures = Array.from({ length: 300 }, (_, i) => ex.submit(slowDouble, [i]));
      await waitUntil(() => futures.filter((f) => f.done()).length >= 40, 'forty results');
      await redis.kill();
      await waitUntil(() => disconnected > 0, 'the executor noticing');
      await redis.restart();
      const settled = await Promise.allSettled(futures);
      expect(
        settled
          .filter((s) => s.status === 'rejected')
          .map((s) => (s as PromiseRejectedResult).reason),
      ).to.deep.equal([]);
      expect(settled.map((s) => (s as PromiseFulfilledResult<number>).value)).to.deep.equal(
        futures.map((_, i) => i * 2),
      );
      expect(reconnected).to.be.at.least(1);
      // Both nodes are back too: new work runs.
      expect(await Promise.all([1, 2, 3, 4].map((i) => ex.submit(slowDouble, [i])))).to.deep.equal([
        2, 4, 6, 8,
      ]);
      await waitUntil(
        () => ex.stats().nodes.filter((n) => n.state === 'running').length === 2,
        'both nodes heard again',
      );
    } finally {
      await Promise.all(nodes.map((node) => node.stop()));
    }
  });

  describe('Redis unreachable', () => {
    let silent: Server;
    const sockets = new Set<Socket>();

    before(async () => {
      // Accepts connections and never answers: a hung Redis, a black-holed proxy.
      silent = createServer((socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    });

    after(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    });

    it('fails the futures with a clear BrokenExecutorError within connectTimeout, never hangs', async () => {
      const port = await closedPort();
      const ex = new DistributedExecutor({
        connection: `redis://127.0.0.1:${port}`,
        queue: 'x',
        connectTimeout: 800,
      });
      const first = ex.submit(whereAmI, []);
      const error = await first.exception();
      expect(error).to.be.instanceOf(BrokenExecutorError);
      expect((error as Error).message).to.include(`redis://127.0.0.1:${port}`);
      expect((error as Error).message).to.match(/within 800 ms \(connectTimeout\): .*ECONNREFUSED/);
      const ready = await ex.ready().then(
        () => 'connected',
        (e: unknown) => e,
      );
      expect(ready).to.be.instanceOf(BrokenExecutorError);
      const later = ex.submit(whereAmI, []);
      expect(await later.exception()).to.be.instanceOf(BrokenExecutorError);
      expect(await later.exception()).to.not.equal(error);
      await ex.shutdown();
    });

    it('says so when Redis accepts the connection but never answers', async () => {
      const { port } = silent.address() as { port: number };
      const ex = new DistributedExecutor({
        connection: `redis://127.0.0.1:${port}`,
        queue: 'x',
        connectTimeout: 800,
      });
      const error = await ex.submit(whereAmI, []).exception();
      expect(error).to.be.instanceOf(BrokenExecutorError);
      expect((error as Error).message).to.match(/within 800 ms \(connectTimeout\)/);
      await ex.shutdown();
    });

    it('startWorker and the worker command fail within connectTimeout with the same message', async () => {
      const port = await closedPort();
      const rejected = await startWorker({
        connection: `redis://127.0.0.1:${port}`,
        queue: 'x',
        connectTimeout: 800,
      }).then(
        () => 'started',
        (e: unknown) => e,
      );
      expect(rejected).to.be.instanceOf(BrokenExecutorError);
      expect((rejected as Error).message).to.match(
        /could not connect to Redis at redis:\/\/127\.0\.0\.1:\d+\/? within 800 ms/,
      );
      const cli = spawn(
        process.execPath,
        [
          CLI,
          'worker',
          '--redis',
          `redis://127.0.0.1:${port}`,
          '--queue',
          'x',
          '--connect-timeout',
          '800',
        ],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stderr = '';
      cli.stderr.setEncoding('utf8').on('data', (text: string) => {
        stderr += text;
      });
      const code = await new Promise((resolve) => cli.once('exit', resolve));
      expect(code).to.equal(1);
      expect(stderr).to.match(
        /concurrent-futures worker: Worker node .* could not connect to Redis .* within 800 ms/,
      );
    });
  });
});
