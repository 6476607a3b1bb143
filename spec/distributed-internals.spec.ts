/**
 * Two mechanisms of concurrent-futures/distributed that keep the per-task
 * cost low, checked where they live:
 *
 * - the job runner (run in a node's worker processes) answers
 *   synchronously when the task does, so that jobs sent to a worker
 *   together come back in one message; async tasks, throwing `then`
 *   getters and chunks that turn async still behave;
 * - finished jobs are removed from Redis in batches by the executor's own
 *   script, which must remove exactly the jobs BullMQ records as finished,
 *   with all their keys, and leave every other job alone.
 */
import { Queue, Worker } from 'bullmq';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { setCurrentTask } from '../lib/current-task.js';
import { decodeThrown, decodeValue, encodeValue } from '../lib/distributed/codec.js';
import { EventHub } from '../lib/distributed/events.js';
import { runJob } from '../lib/distributed/job-runner.js';
import { QueueLink } from '../lib/distributed/link.js';
import { LiveTasks } from '../lib/distributed/live-tasks.js';
import { checkExecutorOptions } from '../lib/distributed/options.js';
import type { FnSpec, RunnerResult, WireChunkOutcome } from '../lib/distributed/protocol.js';
import { reconcile } from '../lib/distributed/reconcile.js';
import type { TrackedTask } from '../lib/distributed/tracked-task.js';
import { CancelAll, Future } from '../lib/index.js';
import { RedisServer } from './support/redis.js';

const LIMIT = 1024 * 1024;
const args = (...values: unknown[]): string => encodeValue(values, LIMIT, 'test arguments');
const inline = (src: string): FnSpec => ({ src });

function isPromise(value: unknown): value is Promise<RunnerResult> {
  return value instanceof Promise;
}

/** The value of a successful run. */
function resultValue(result: RunnerResult): unknown {
  expect(result.s, 'the job failed').to.equal(0);
  return decodeValue(result.d);
}

function errorOf(result: RunnerResult): unknown {
  expect(result.s, 'the job succeeded').to.equal(1);
  return decodeThrown(result.d, undefined);
}

describe('distributed job runner (in this process)', () => {
  let controller: AbortController;

  beforeEach(() => {
    controller = new AbortController();
    setCurrentTask({ id: 1, signal: controller.signal, progress: () => {} });
  });

  afterEach(() => setCurrentTask(undefined));

  it('answers without a promise when the function is loaded and returns a plain value', () => {
    const result = runJob(inline('(a, b) => a + b'), args(20, 22), 'r', LIMIT);
    expect(isPromise(result)).to.equal(false);
    expect(resultValue(result as RunnerResult)).to.equal(42);
  });

  it('answers with a promise for an async function, and with its value', async () => {
    const result = runJob(
      inline(
        'async (x) => { await new Promise((r) => setTimeout(r, 5)); return new Map([[x, x]]); }',
      ),
      args('k'),
      'r',
      LIMIT,
    );
    expect(isPromise(result)).to.equal(true);
    expect(resultValue(await result)).to.deep.equal(new Map([['k', 'k']]));
  });

  it('loads a module the first time (a promise), then runs it synchronously', async () => {
    const fn: FnSpec = { m: 'node:path', e: 'basename' };
    const first = runJob(fn, args('/a/b/c.txt'), 'r', LIMIT);
    expect(isPromise(first)).to.equal(true);
    expect(resultValue(await first)).to.equal('c.txt');
    const second = runJob(fn, args('/x/y.js'), 'r', LIMIT);
    expect(isPromise(second)).to.equal(false);
    expect(resultValue(second as RunnerResult)).to.equal('y.js');
  });

  it('fails the job, without a promise, when the result has a throwing `then` getter', () => {
    const result = runJob(
      inline('() => ({ get then() { throw new RangeError("no then for you"); } })'),
      args(),
      'r',
      LIMIT,
    );
    expect(isPromise(result)).to.equal(false);
    const error = errorOf(result as RunnerResult);
    expect(error).to.be.instanceOf(RangeError);
    expect((error as Error).message).to.equal('no then for you');
  });

  it("fails the job with the task's own error when that error has a throwing `name` getter", () => {
    const src =
      '() => { const e = new RangeError("the real failure"); ' +
      'Object.defineProperty(e, "name", { get() { throw new Error("name getter"); } }); throw e; }';
    const run = runJob(inline(src), args(), 'r', LIMIT) as RunnerResult;
    expect(run.ca, 'not a CancelAll').to.equal(undefined);
    expect((errorOf(run) as Error).message).to.equal('the real failure');
    const chunk = runJob(inline(src), args(1, 2), 'c', LIMIT) as RunnerResult;
    expect(chunk.ca, 'not a CancelAll').to.equal(undefined);
    const outcome = resultValue(chunk) as WireChunkOutcome;
    expect(outcome.failed).to.equal(true);
    const failure = decodeThrown(outcome.error as string, undefined);
    expect((failure as Error).message).to.equal('the real failure');
  });

  it('fails the job when a thenable rejects, and when it throws', async () => {
    const rejected = runJob(
      inline('() => Promise.reject(new TypeError("later"))'),
      args(),
      'r',
      LIMIT,
    );
    expect((errorOf(await rejected) as Error).message).to.equal('later');
    const thrown = runJob(inline('() => { throw new SyntaxError("now"); }'), args(), 'r', LIMIT);
    expect(isPromise(thrown)).to.equal(false);
    expect(errorOf(thrown as RunnerResult)).to.be.instanceOf(SyntaxError);
  });

  it('runs a chunk of plain values synchronously, in order', () => {
    const result = runJob(inline('(x) => x * 2'), args(1, 2, 3), 'c', LIMIT);
    expect(isPromise(result)).to.equal(false);
    expect(resultValue(result as RunnerResult)).to.deep.equal({ values: [2, 4, 6], failed: false });
  });

  it('goes on asynchronously from the first promise of a chunk, keeping the order', async () => {
    const result = runJob(
      inline('(x) => (x % 2 === 0 ? new Promise((r) => setTimeout(() => r(x * 10), 3)) : x * 10)'),
      args(1, 2, 3, 4, 5),
      'c',
      LIMIT,
    );
    expect(isPromise(result)).to.equal(true);
    expect(resultValue(await result)).to.deep.equal({
      values: [10, 20, 30, 40, 50],
      failed: false,
    });
  });

  it('stops a chunk at a CancelAll and flags it, sync or async', async () => {
    for (const body of [
      '(x) => { if (x === 3) throw new CancelAll("stop"); return x; }',
      'async (x) => { if (x === 3) throw new CancelAll("stop"); return x; }',
    ]) {
      const ran = runJob(inline(body), args(1, 2, 3, 4), 'c', LIMIT);
      const result = isPromise(ran) ? await ran : ran;
      expect(result.ca).to.equal(1);
      const outcome = resultValue(result) as WireChunkOutcome;
      expect(outcome.values).to.deep.equal([1, 2]);
      expect(outcome.failed).to.equal(true);
      expect(decodeThrown(outcome.error as string, undefined)).to.be.instanceOf(CancelAll);
    }
  });

  it('stops a chunk whose task was cancelled before its next item', () => {
    controller.abort(new Error('cancelled'));
    const result = runJob(inline('(x) => x'), args(1, 2), 'c', LIMIT) as RunnerResult;
    const outcome = resultValue(result) as WireChunkOutcome;
    expect(outcome).to.include({ failed: true });
    expect(outcome.values).to.deep.equal([]);
  });
});

describe('removal of finished jobs (real redis-server)', function () {
  this.timeout(30_000);
  let redis: RedisServer;

  before(async function () {
    (this as Mocha.Context & { keepsWorkers?: boolean }).keepsWorkers = true;
    redis = await RedisServer.start();
  });

  after(async () => {
    await redis?.stop();
  });

  it('removes completed and failed jobs with all their keys, and nothing else', async () => {
    const queue = 'removal';
    const connection = { url: redis.url, maxRetriesPerRequest: null };
    const client = new Redis(redis.url);
    const producer = new Queue(queue, { connection });
    const link = new QueueLink(checkExecutorOptions({ connection: redis.url, queue }), 'x.', {
      job: () => {},
      heartbeat: () => {},
      disconnected: () => {},
      reconnected: () => {},
    });
    let worker: Worker | undefined;
    try {
      await link.start();
      await producer.addBulk([
        { name: 'ok', data: {}, opts: { jobId: 'x.1' } },
        { name: 'bad', data: {}, opts: { jobId: 'x.2' } },
      ]);
      const finished = new Set<string>();
      const allFinished = new Promise<void>((resolve) => {
        worker = new Worker(
          queue,
          async (job) => {
            await job.log('a line, so that the job has a :logs key');
            if (job.name === 'bad') throw new Error('failed on purpose');
            return 'done';
          },
          { connection },
        );
        const mark = (id: string | undefined) => {
          if (id !== undefined) finished.add(id);
          if (finished.size === 2) resolve();
        };
        worker.on('completed', (job) => mark(job.id));
        worker.on('failed', (job) => mark(job?.id));
      });
      await allFinished;
      await worker!.close();
      // Added after the worker closed: stays waiting.
      await producer.add('later', {}, { jobId: 'x.3' });
      expect(await client.exists('bull:removal:x.1:logs')).to.equal(1);

      const outcome = await link.removeFinished(['x.1', 'x.2', 'x.3', 'x.404']);
      expect(outcome).to.deep.equal(['removed', 'removed', 'held', 'gone']);
      expect(await client.keys('bull:removal:x.1*')).to.deep.equal([]);
      expect(await client.keys('bull:removal:x.2*')).to.deep.equal([]);
      expect(await client.zcard('bull:removal:completed')).to.equal(0);
      expect(await client.zcard('bull:removal:failed')).to.equal(0);
      // The waiting job is untouched, and still runs.
      expect(await producer.getJobState('x.3')).to.equal('waiting');
      expect(await client.hget('bull:removal:x.3', 'name')).to.equal('later');
    } finally {
      await worker?.close();
      await link.close();
      await producer.close();
      client.disconnect();
    }
  });
});

describe('reconciliation (in this process)', () => {
  /** A running task, tracked by a registry, whose outcomes are recorded instead of handled. */
  function setUp() {
    const live = new LiveTasks(
      new EventHub({}),
      { nodeOf: () => undefined, forget: () => {} },
      10,
      () => {},
    );
    const future = new Future<unknown>();
    future.setRunningOrNotifyCancel();
    const task: TrackedTask = {
      seq: 1,
      id: 'x.1',
      attempt: 0,
      kind: 'run',
      items: 1,
      name: 'fn',
      data: { v: 1, x: 'x', s: 1, k: 'r', f: { m: './t.js', e: 'fn' }, a: '', l: 1024 },
      future,
      state: 'running',
      retriesLeft: 1,
      node: undefined,
      submittedAt: 0,
      startedAt: 0,
      heardAt: 0,
      onProgress: undefined,
      signal: undefined,
    };
    live.track(task);
    const handled: string[] = [];
    const outcomes = {
      completed: (t: TrackedTask) => handled.push(`completed ${t.id}`),
      failedInQueue: (t: TrackedTask) => handled.push(`failed ${t.id}`),
      vanished: (t: TrackedTask) => handled.push(`vanished ${t.id}`),
    };
    const finished = { orphans: () => [], reconcile: () => {} };
    return { live, task, handled, outcomes, finished };
  }

  it('acts on what it read of a job', async () => {
    const { live, task, handled, outcomes, finished } = setUp();
    const link = { read: async () => [{ state: 'missing' as const }] };
    await reconcile({ live, link, finished, outcomes }, 0);
    expect(handled).to.deep.equal([`vanished ${task.id}`]);
  });

  it('ignores a reading of a job the task no longer has: it was added again meanwhile', async () => {
    const { live, task, handled, outcomes, finished } = setUp();
    const link = {
      read: async (ids: readonly string[]) => {
        expect(ids).to.deep.equal(['x.1']);
        // While the read is under way, the node is lost and the task runs again as x.1.1.
        live.forget(task);
        task.id = 'x.1.1';
        task.attempt = 1;
        live.track(task);
        return [{ state: 'missing' as const }];
      },
    };
    await reconcile({ live, link, finished, outcomes }, 0);
    expect(handled).to.deep.equal([]);
    expect(live.get('x.1.1')).to.equal(task);
  });
});
