/**
 * DistributedExecutor against a real redis-server and real worker node
 * processes (`concurrent-futures worker`): what crosses machines, map,
 * progress, stats and events, inline functions, size limits, and that
 * finished jobs leave Redis.
 */
import { spawn } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { hostname } from 'node:os';
import { Queue, QueueEvents } from 'bullmq';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import {
  DistributedExecutor,
  InlineFunctionRefusedError,
  task,
  ValueTooLargeError,
} from '../lib/distributed/index.js';
import {
  asCompleted,
  Future,
  task as localTask,
  ProcessPoolExecutor,
  TaskTimeoutError,
  WorkerCrashedError,
  wait,
} from '../lib/index.js';
import { expectNoChildren } from './support/hooks.js';
import { RedisServer } from './support/redis.js';
import { CLI, FIXTURES, NodeProcess } from './support/worker-nodes.js';

// The fixture module is JavaScript: its functions are typed loosely here.
type Fn = (...args: any[]) => any;
const ref = <F extends Fn = (...args: any[]) => any>(name: string) => task<F>('./tasks.mjs', name);

describe('DistributedExecutor (real redis-server, real worker nodes)', function () {
  this.timeout(60_000);
  let redis: RedisServer;
  let nodes: NodeProcess[] = [];
  const queue = 'basics';

  before(async function () {
    // Redis and the nodes live across this suite's tests; checked in after().
    (this as Mocha.Context & { keepsWorkers?: boolean }).keepsWorkers = true;
    redis = await RedisServer.start();
    nodes = await Promise.all([
      NodeProcess.start(redis.url, queue, { role: 'a' }),
      NodeProcess.start(redis.url, queue, { role: 'b' }),
    ]);
  });

  after(async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    await redis?.stop();
    await expectNoChildren();
  });

  const open = (extra: Partial<ConstructorParameters<typeof DistributedExecutor>[0]> = {}) =>
    new DistributedExecutor({ connection: redis.url, queue, ...extra });

  it('runs a task() reference on a node and hands back the same Future class', async () => {
    await using ex = open();
    const future = ex.submit(ref('add'), [20, 22]);
    expect(future).to.be.instanceOf(Future);
    expect(await future).to.equal(42);
    expect(future.state).to.equal('finished');
  });

  it('keeps structured-clone fidelity for arguments and results', async () => {
    await using ex = open();
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const value = {
      map: new Map<unknown, unknown>([[1, new Set(['a', 2n])]]),
      date: new Date(1_700_000_000_000),
      big: 2n ** 70n,
      bytes: new Uint16Array([1, 65_535]),
      buffer: Buffer.from('hi'),
      cyclic,
      nested: [undefined, null, Number.NaN, -0],
    };
    const back = (await ex.submit(ref('echo'), [value])) as typeof value;
    expect(back.map.get(1)).to.deep.equal(new Set(['a', 2n]));
    expect(back.date).to.be.instanceOf(Date);
    expect(back.date.getTime()).to.equal(1_700_000_000_000);
    expect(back.big).to.equal(2n ** 70n);
    expect(back.bytes).to.be.instanceOf(Uint16Array);
    expect([...back.bytes]).to.deep.equal([1, 65_535]);
    expect(Buffer.isBuffer(back.buffer)).to.equal(true);
    expect(back.buffer.toString()).to.equal('hi');
    expect((back.cyclic as { self: unknown }).self).to.equal(back.cyclic);
    expect(Object.is(back.nested[3], -0)).to.equal(true);
    expect(Number.isNaN(back.nested[2])).to.equal(true);
  });

  it('rebuilds errors with class, properties, cause, remote stack, host and pid', async () => {
    await using ex = open();
    const error = (await ex.submit(ref('fail'), ['bad input']).exception()) as RangeError & {
      code: string;
      details: { when: Date; tags: Set<string> };
      remote: { node: string; host: string; pid: number };
    };
    expect(error).to.be.instanceOf(RangeError);
    expect(error.message).to.equal('bad input');
    expect(error.code).to.equal('E_TASK');
    expect(error.details.when).to.be.instanceOf(Date);
    expect(error.details.tags).to.deep.equal(new Set(['a']));
    expect(error.cause).to.be.instanceOf(TypeError);
    expect((error.cause as Error).message).to.equal('the root cause');
    expect(error.stack).to.include('tasks.mjs');
    expect(nodes.map((n) => n.id)).to.include(error.remote.node);
    expect(error.remote.host).to.equal(hostname());
    expect(error.remote.pid).to.be.a('number').and.not.equal(process.pid);
    expect(error.stack).to.include(
      `<worker node ${error.remote.node} on ${hostname()}, pid ${error.remote.pid}>`,
    );
    // Each failed future gets its own error instance.
    const again = await ex.submit(ref('fail'), ['bad input']).exception();
    expect(again).to.not.equal(error);
  });

  it('fails a future with a thrown non-Error value as it was thrown', async () => {
    await using ex = open();
    expect(await ex.submit(ref('throwValue'), ['plain string']).exception()).to.equal(
      'plain string',
    );
    const nothing = ex.submit(ref('throwValue'), [null]);
    expect(await nothing.exception()).to.equal(null);
    expect(nothing.done()).to.equal(true);
  });

  it('fails only that future when an argument cannot be cloned, naming the argument', async () => {
    await using ex = open();
    const bad = ex.submit(ref('echo'), [(() => 1) as never]);
    const error = await bad.exception();
    expect(error).to.be.instanceOf(TypeError);
    expect((error as Error).message).to.match(/Argument 0 cannot be sent to a worker node/);
    expect(await ex.submit(ref('add'), [1, 1])).to.equal(2);
  });

  it('fails a future whose arguments or result exceed maxValueSize, and only that one', async () => {
    await using ex = open({ maxValueSize: 64 * 1024 });
    const tooBigArgs = await ex.submit(ref('echo'), [new Uint8Array(100 * 1024)]).exception();
    expect(tooBigArgs).to.be.instanceOf(ValueTooLargeError);
    expect((tooBigArgs as Error).message).to.match(
      /task's arguments is .* over the limit of 64\.0 KiB \(maxValueSize\)/,
    );
    const tooBigResult = await ex.submit(ref('big'), [200 * 1024]).exception();
    expect(tooBigResult).to.be.instanceOf(ValueTooLargeError);
    expect((tooBigResult as Error).message).to.match(/task's result is .* over the limit/);
    expect((tooBigResult as ValueTooLargeError).limit).to.equal(64 * 1024);
    expect((await ex.submit(ref('big'), [1024])).length).to.equal(1024);
  });

  it('resolves relative paths against the node root and module names from it; absolute URLs are used as they are', async () => {
    await using ex = open();
    const absolute = localTask<(a: number, b: number) => number>(
      new URL(`file://${FIXTURES}/tasks.mjs`),
      'add',
    );
    expect(await ex.submit(absolute, [2, 3])).to.equal(5);
    // Module names: a built-in, and a package from the nodes' node_modules.
    expect(
      await ex.submit(task<(p: string) => string>('path', 'basename'), ['/a/b/c.txt']),
    ).to.equal('c.txt');
    const isAbortError = task<(e: unknown) => boolean>('abort-controller-x', 'isAbortError');
    expect(await ex.submit(isAbortError, [new Error('no')])).to.equal(false);
    const missing = await ex.submit(task('./no-such-module.mjs', 'x'), []).exception();
    expect(String(missing)).to.match(/no-such-module\.mjs/);
    const noExport = await ex.submit(task('./tasks.mjs', 'nope'), []).exception();
    expect((noExport as Error).message).to.match(/export a function named 'nope'/);
  });

  it('a task that kills its worker process or overruns its timeout fails only its own future; the node goes on', async () => {
    await using ex = open();
    const crashed = await ex.submit(ref('exitWith'), [3]).exception();
    expect(crashed).to.be.instanceOf(WorkerCrashedError);
    expect((crashed as WorkerCrashedError).exitCode).to.equal(3);
    const stuck = await ex.submit(ref('spin'), [], { timeout: 300 }).exception();
    expect(stuck).to.be.instanceOf(TaskTimeoutError);
    expect(await ex.submit(ref('add'), [2, 2])).to.equal(4);
  });

  it('a task that kills its worker process or spins, among tiny tasks sent to the worker with it, fails alone', async () => {
    // Nodes hand the jobs they take together to a worker process in one
    // message: the crash and the time limit must still hit only their task.
    await using ex = open();
    const futures = Array.from({ length: 300 }, (_, i) => {
      if (i === 100) return ex.submit(ref('exitWith'), [3]);
      if (i === 200) return ex.submit(ref('spin'), [], { timeout: 500 });
      return ex.submit(ref('double'), [i]);
    });
    const crashed = await futures[100]!.exception();
    expect(crashed).to.be.instanceOf(WorkerCrashedError);
    expect((crashed as WorkerCrashedError).exitCode).to.equal(3);
    expect(await futures[200]!.exception()).to.be.instanceOf(TaskTimeoutError);
    for (let i = 0; i < futures.length; i++) {
      if (i !== 100 && i !== 200) expect(await futures[i]).to.equal(i * 2);
    }
  });

  it('garbage written to the queue and to its channels disturbs neither nodes nor executors', async () => {
    await using ex = open();
    const connection = { host: '127.0.0.1', port: redis.port };
    const writer = new Queue(queue, { connection });
    const events = new QueueEvents(queue, { connection, lastEventId: '0-0' });
    const client = new Redis(redis.url);
    try {
      const job = await writer.add('hostile', {
        hello: 'world',
        v: 1,
        f: { src: 'process.exit()' },
      });
      const answer = (await job.waitUntilFinished(events, 20_000)) as { s: number; d: string };
      expect(answer.s).to.equal(1);
      await job.remove();
      for (const text of ['not json', '{"x": 5, "ids": [1, {}], "upTo": "all"}', 'null', '[]']) {
        await client.publish(`bull:${queue}:cf:cancel`, text);
        await client.publish(`bull:${queue}:cf:nodes`, text);
      }
      await client.publish(`bull:${queue}:cf:nodes`, JSON.stringify({ id: 'fake', pid: 'x' }));
      expect(await ex.submit(ref('add'), [3, 4])).to.equal(7);
      expect(ex.stats().nodes.map((n) => n.id)).to.not.include('fake');
    } finally {
      client.disconnect();
      await events.close();
      await writer.close();
    }
  });

  it('returns map results in input order, streamed or as an array, with chunks', async () => {
    await using ex = open();
    const items = Array.from({ length: 120 }, (_, i) => i);
    const expected = items.map((i) => i * 10);
    expect(await ex.map(ref('staggered'), items, { chunksize: 7 })).to.deep.equal(expected);
    const streamed: number[] = [];
    for await (const value of ex.map(ref('staggered'), items, { chunksize: 1, buffersize: 9 })) {
      streamed.push(value);
    }
    expect(streamed).to.deep.equal(expected);
  });

  it('ends a map at the first failing item in input order and cancels the rest', async () => {
    await using ex = open();
    const seen: number[] = [];
    let caught: unknown;
    try {
      for await (const value of ex.map(
        ref('failAt'),
        Array.from({ length: 200 }, (_, i) => i),
        { chunksize: 4 },
      )) {
        seen.push(value);
      }
    } catch (error) {
      caught = error;
    }
    expect(caught).to.be.instanceOf(RangeError);
    expect((caught as Error).message).to.equal('item 50 is bad');
    expect(seen).to.deep.equal(Array.from({ length: 50 }, (_, i) => i));
  });

  it('watches a signal shared by many submits with one listener, gone once every task settled', async () => {
    await using ex = open();
    const controller = new AbortController();
    const { signal } = controller;
    // More tasks than the default listener limit: a listener each would warn.
    const ok = Array.from({ length: 12 }, (_, i) => ex.submit(ref('double'), [i], { signal }));
    const failed = ex.submit(ref('fail'), ['no'], { signal });
    expect(getEventListeners(signal, 'abort'), 'one listener for all').to.have.length(1);
    expect(await Promise.all(ok)).to.deep.equal(Array.from({ length: 12 }, (_, i) => i * 2));
    await failed.exception();
    expect(getEventListeners(signal, 'abort')).to.have.length(0);
  });

  it('mixes distributed and local futures in wait and asCompleted', async () => {
    await using ex = open();
    await using pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    const remote = ex.submit(ref('add'), [1, 2]);
    const local = pool.submit((a: number, b: number) => a * b, [3, 4]);
    const { done, notDone } = await wait([remote, local]);
    expect(done.size).to.equal(2);
    expect(notDone.size).to.equal(0);
    const order: number[] = [];
    for await (const future of asCompleted([remote, local])) order.push(await future);
    expect(order.sort()).to.deep.equal([12, 3].sort());
  });

  it('delivers currentTask().progress() values to onProgress and taskProgress', async () => {
    await using ex = open();
    const values: unknown[] = [];
    const events: unknown[] = [];
    ex.on('taskProgress', (event) => events.push(event.value));
    const result = await ex.submit(ref('reportProgress'), [3], {
      onProgress: (v) => values.push(v),
    });
    expect(result).to.equal(3);
    // Rate-limited to one per 50 ms; the last value always arrives before the result.
    expect(values.at(-1)).to.deep.equal(new Map([['step', 3]]));
    expect(values[0]).to.be.instanceOf(Map);
    expect(events.at(-1)).to.deep.equal(new Map([['step', 3]]));
  });

  it('reports task events with the node, and stats() per node with heartbeats', async () => {
    await using ex = open();
    const started: string[] = [];
    const finished: Array<string | undefined> = [];
    ex.on('taskStarted', (e) => started.push(e.jobId));
    ex.on('taskFinished', (e) => finished.push(e.node));
    await Promise.all(Array.from({ length: 20 }, (_, i) => ex.submit(ref('double'), [i])));
    expect(finished).to.have.length(20);
    for (const node of finished) expect(nodes.map((n) => n.id)).to.include(node);
    expect(started.length).to.be.at.most(20);
    const deadline = Date.now() + 10_000;
    while (
      ex.stats().nodes.filter((n) => n.state === 'running').length < 2 &&
      Date.now() < deadline
    ) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const stats = ex.stats();
    expect(stats.connected).to.equal(true);
    expect(stats.completed).to.equal(20);
    expect(stats.waiting).to.equal(0);
    expect(stats.running).to.equal(0);
    const seen = stats.nodes.filter((n) => nodes.some((p) => p.id === n.id));
    expect(seen).to.have.length(2);
    for (const node of seen) {
      expect(node.host).to.equal(hostname());
      expect(node.concurrency).to.equal(2);
      expect(node.lastHeartbeat).to.be.at.most(Date.now());
      expect(node.lastHeartbeat).to.be.at.least(node.firstSeen);
    }
    expect(seen.reduce((sum, n) => sum + n.completedHere, 0)).to.equal(20);
  });

  it('refuses inline functions by default, on the executor and on the nodes', async () => {
    await using closed = open();
    expect(() => closed.submit((x: number) => x + 1, [1])).to.throw(
      TypeError,
      /allowInlineFunctions: true/,
    );
    await using opted = open({ allowInlineFunctions: true });
    const refused = await opted.submit((x: number) => x + 1, [1]).exception();
    expect(refused).to.be.instanceOf(InlineFunctionRefusedError);
    expect((refused as Error).message).to.match(/--allow-inline-functions/);
  });

  it('runs inline functions when both the executor and the node opt in', async () => {
    const inlineQueue = 'inline-opt-in';
    const node = await NodeProcess.start(redis.url, inlineQueue, {
      args: ['--allow-inline-functions'],
    });
    try {
      await using ex = new DistributedExecutor({
        connection: redis.url,
        queue: inlineQueue,
        allowInlineFunctions: true,
      });
      expect(await ex.submit((a: number, b: number) => a * b, [6, 7])).to.equal(42);
      expect(await ex.map((x: number) => x + 1, [1, 2, 3])).to.deep.equal([2, 3, 4]);
      // A hostile `name` (a throwing getter) only costs the job its name.
      const hostile = (x: number) => x * 3;
      Object.defineProperty(hostile, 'name', {
        get() {
          throw new Error('no name for you');
        },
      });
      expect(await ex.submit(hostile, [5])).to.equal(15);
    } finally {
      await node.stop();
    }
  });

  it('removes every finished job from Redis once its future settles', async () => {
    const client = new Redis(redis.url);
    try {
      const ex = open();
      await Promise.all(Array.from({ length: 50 }, (_, i) => ex.submit(ref('double'), [i])));
      await ex.map(
        ref('double'),
        Array.from({ length: 100 }, (_, i) => i),
        { chunksize: 10 },
      );
      await ex.submit(ref('fail'), ['x']).exception();
      await ex.shutdown();
      const left = await client.keys(`bull:${queue}:${ex.id}.*`);
      expect(left).to.deep.equal([]);
      expect(await client.zcard(`bull:${queue}:completed`)).to.equal(0);
    } finally {
      client.disconnect();
    }
  });

  it('the worker command prints its help, and refuses a bad command line with exit code 2', async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(process.execPath, [CLI, 'worker', ...args], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout.setEncoding('utf8').on('data', (text: string) => {
          out += text;
        });
        child.stderr.setEncoding('utf8').on('data', (text: string) => {
          out += text;
        });
        child.once('exit', (code) => resolve({ code, out }));
      });
    const help = await run(['--help']);
    expect(help.code).to.equal(0);
    expect(help.out).to.match(/Usage: concurrent-futures worker --redis <url> --queue <name>/);
    const missing = await run(['--queue', 'q']);
    expect(missing.code).to.equal(2);
    expect(missing.out).to.match(/missing --redis <url>/);
    const bad = await run(['--redis', redis.url, '--queue', 'q', '--concurrency', 'lots']);
    expect(bad.code).to.equal(2);
    expect(bad.out).to.match(/--concurrency expects an integer >= 1, got 'lots'/);
  });

  it('throws ExecutorShutdownError after shutdown, and validates its options', async () => {
    const ex = open();
    await ex.shutdown();
    await ex.shutdown();
    expect(() => ex.submit(ref('add'), [1, 2])).to.throw(/after shutdown/);
    expect(() => new DistributedExecutor({ connection: redis.url, queue: 'a:b' })).to.throw(
      RangeError,
      /queue/,
    );
    expect(() => new DistributedExecutor({ connection: 42 as never, queue })).to.throw(
      TypeError,
      /connection/,
    );
    expect(() => new DistributedExecutor({ connection: redis.url, queue, retries: -1 })).to.throw(
      RangeError,
      /retries/,
    );
    expect(() => new DistributedExecutor({ connection: 'http://x', queue })).to.throw(
      TypeError,
      /redis:\/\//,
    );
  });
});
