/**
 * "The function's source text is sent to each worker once (cached by
 * content)" (docs/executors.md), seen from the worker side, on both
 * executors.
 *
 * How it is observed: a first task installs a second listener on the
 * worker's own channel (`process.on('message')` in a worker process,
 * `parentPort.on('message')` in a worker thread), next to the pool's. From
 * then on it sees every message the parent sends to that worker, and counts
 * how often marker strings occur anywhere in them. The markers are string
 * literals inside the submitted functions' source (and a module task's
 * URL), and in each task's arguments. The argument markers are the control:
 * they must be seen once per task, which proves that the spy sees all the
 * traffic; the source markers must be seen once in all.
 *
 * The markers reach the spy only as its own arguments, in the message that
 * was read before it was installed, and the task that reads the counts has
 * no marker in its source.
 */
import { expect } from 'chai';
import {
  ProcessPoolExecutor,
  type ProcessPoolOptions,
  ThreadPoolExecutor,
  task,
} from '../lib/index.js';

type Pool = ProcessPoolExecutor | ThreadPoolExecutor;

const EXECUTORS: ReadonlyArray<{ name: string; make: (options: ProcessPoolOptions) => Pool }> = [
  { name: 'ProcessPoolExecutor', make: (o) => new ProcessPoolExecutor(o) },
  { name: 'ThreadPoolExecutor', make: (o) => new ThreadPoolExecutor(o) },
];

const TASKS_MJS = new URL('../../spec/fixtures/tasks.mjs', import.meta.url);

interface Seen {
  messages: number;
  counts: Record<string, number>;
}

/**
 * Runs in the worker: adds a listener to its channel that counts, for each
 * marker, how often it occurs in the strings (and bytes) of every message
 * received from now on. Returns the worker's id.
 */
const installSpy = (markers: string[]): number => {
  const seen = { messages: 0, counts: {} as Record<string, number> };
  for (const m of markers) seen.counts[m] = 0;
  (globalThis as Record<string, unknown>).__cfSpecSpy = seen;
  const inString = (text: string) => {
    for (const m of markers) {
      for (let at = text.indexOf(m); at >= 0; at = text.indexOf(m, at + m.length)) {
        seen.counts[m] = (seen.counts[m] ?? 0) + 1;
      }
    }
  };
  const walk = (value: unknown, visited: Set<object>): void => {
    if (typeof value === 'string') {
      inString(value);
    } else if (ArrayBuffer.isView(value)) {
      inString(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString());
    } else if (value !== null && typeof value === 'object' && !visited.has(value)) {
      visited.add(value);
      for (const key of Object.keys(value)) walk((value as Record<string, unknown>)[key], visited);
    }
  };
  const listener = (message: unknown) => {
    seen.messages++;
    walk(message, new Set());
  };
  const threads = process.getBuiltinModule(
    'node:worker_threads',
  ) as typeof import('node:worker_threads');
  if (threads.isMainThread) process.on('message', listener);
  else threads.parentPort?.on('message', listener);
  return threads.isMainThread ? process.pid : threads.threadId;
};

/** Runs in the worker: what the spy counted. No marker in this source. */
const readSpy = (): Seen => (globalThis as Record<string, unknown>).__cfSpecSpy as Seen;

/** The two inline functions under test; each has its marker in its source. */
const first = (arg: string) => ['cf-spec-source-first', arg].join(' ').length;
const second = (arg: string) => ['cf-spec-source-second', arg].join(' ').length;

/** Fresh function objects with the same source as `first`, one per call. */
const freshFirst = () => (arg: string) => ['cf-spec-source-first', arg].join(' ').length;

const ARG = 'cf-spec-argument';

for (const { name, make } of EXECUTORS) {
  describe(`inline source is sent once per worker (${name})`, function () {
    this.timeout(60_000);

    it('sends the source of an inline function, and the URL of a module task, once to a worker that runs them hundreds of times', async () => {
      const pool = make({ maxWorkers: 1 });
      try {
        const add = task<(a: number, b: number) => number>(TASKS_MJS, 'add');
        const url = add.url;
        const worker = await pool.submit(installSpy, [
          ['cf-spec-source-first', 'cf-spec-source-second', url, ARG],
        ]);

        const futures: Array<PromiseLike<unknown>> = [];
        for (let i = 0; i < 100; i++) {
          // The same function object every time...
          futures.push(pool.submit(first, [`${ARG}-${i}`]));
          // ...and a new function object with the same source every time.
          futures.push(pool.submit(freshFirst(), [`${ARG}-fresh-${i}`]));
        }
        for (let i = 0; i < 50; i++) {
          futures.push(pool.submit(second, [`${ARG}-second-${i}`]));
          futures.push(pool.submit(add, [i, 1]));
        }
        await Promise.all(futures);
        const seen = await pool.submit(readSpy);

        // One worker ran everything.
        expect(pool.workerIds()).to.deep.equal([worker]);
        // Control: every one of the 250 inline tasks' arguments came through the spy.
        expect(seen.counts[ARG]).to.equal(250);
        expect(seen.messages).to.be.greaterThan(0);
        // Each source, and the module's URL, crossed the channel once.
        expect(seen.counts['cf-spec-source-first']).to.equal(1);
        expect(seen.counts['cf-spec-source-second']).to.equal(1);
        expect(seen.counts[url]).to.equal(1);
      } finally {
        await pool.shutdown();
      }
    });

    it('sends the source again to each new worker: a replacement worker runs the same inline function', async () => {
      // maxTasksPerWorker 1: every task gets a fresh worker, which knows no
      // function yet. Had the engine sent the source only once per executor,
      // the second worker could not run it.
      const pool = make({ maxWorkers: 1, maxTasksPerWorker: 1 });
      try {
        const whoAmI = (tag: string) => {
          const threads = process.getBuiltinModule(
            'node:worker_threads',
          ) as typeof import('node:worker_threads');
          return { tag, worker: threads.isMainThread ? process.pid : threads.threadId };
        };
        const seen: Array<{ tag: string; worker: number }> = [];
        for (const tag of ['a', 'b', 'c']) seen.push(await pool.submit(whoAmI, [tag]));
        expect(seen.map((s) => s.tag)).to.deep.equal(['a', 'b', 'c']);
        expect(new Set(seen.map((s) => s.worker)).size).to.equal(3);
      } finally {
        await pool.shutdown();
      }
    });
  });
}
