/**
 * `executor.mapReduce` with real workers, on both executors: Sage's
 * examples against the known answers and a serial run of the same
 * functions, for 1 to 4 workers; parent traffic against the node count;
 * stopping early (CancelAll, timeout, signal, cancel, a crashed worker);
 * bad input, an empty forest, a node that cannot be stolen, a reduce
 * that throws.
 *
 * Sequenced by files the task code writes and events of the executor;
 * deadlines only bound hangs. Task code for task() references is in
 * spec/fixtures/map-reduce.mjs.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { isCancelAll } from '../lib/errors.js';
import {
  ArgumentRangeError,
  ArgumentTypeError,
  CancelAll,
  CancelledError,
  type MapReduceSpec,
  type PoolExecutor,
  TaskTimeoutError,
  task,
  WorkerCrashedError,
} from '../lib/index.js';
import { EXECUTORS } from './support/executors.js';
import { rejectionOf, thrownBy } from './support/futures.js';
import { tempDir, touch, waitUntil } from './support/handshake.js';

const FIXTURE = new URL('../../spec/fixtures/map-reduce.mjs', import.meta.url);
const fixture = (await import(FIXTURE.href)) as Record<string, (...args: any[]) => any>;

/** The same functions as task() references (from one module). */
const ref = (name: string) => task(FIXTURE, name);

interface Perm {
  n: number;
  p: number[];
}

function inversionsSpec(n: number): MapReduceSpec<Perm, number[], number[]> {
  return {
    roots: [{ n, p: [] }],
    children: ref('permChildren'),
    postProcess: ref('permKeepFull'),
    map: ref('inversionMonomial'),
    reduce: ref('addPolynomials'),
    init: [],
  };
}

/** prod_{i=1..n} (1 + q + ... + q^(i-1)), the generating polynomial of inversions. */
function qFactorial(n: number): number[] {
  let product = [1];
  for (let i = 1; i <= n; i++) {
    const next = new Array(product.length + i - 1).fill(0);
    for (let a = 0; a < product.length; a++) {
      for (let b = 0; b < i; b++) next[a + b] += product[a]!;
    }
    product = next;
  }
  return product;
}

/** The serial answer: the same functions, depth-first, in this process. */
function serial(spec: {
  roots: unknown[];
  children: (node: any) => Iterable<unknown>;
  map: (node: any) => unknown;
  reduce: (a: any, b: any) => unknown;
  init: unknown;
  postProcess?: (node: any) => unknown;
}): unknown {
  let acc = spec.init;
  const stack = [...spec.roots];
  while (stack.length > 0) {
    const node = stack.pop();
    const kept = spec.postProcess === undefined ? node : spec.postProcess(node);
    if (kept !== undefined) acc = spec.reduce(acc, spec.map(kept));
    stack.push(...spec.children(node));
  }
  return acc;
}

/** Counts the nodes of the lopsided tree, with inline functions. */
function lopsidedSpec(size: number): MapReduceSpec<number, number, number> {
  return {
    roots: [size],
    children: (s: number) => {
      const rest = s - 1;
      if (rest <= 0) return [];
      const big = Math.ceil(rest * 0.9);
      return rest - big > 0 ? [big, rest - big] : [big];
    },
    map: () => 1,
    reduce: (a: number, b: number) => a + b,
    init: 0,
  };
}

/** Dots written by map, one per node, in one file per worker under `dir`. */
function dotsIn(dir: string): number {
  let count = 0;
  for (const name of readdirSync(dir)) {
    if (name.startsWith('dots-')) count += readFileSync(join(dir, name), 'utf8').length;
  }
  return count;
}

for (const { name, make } of EXECUTORS) {
  describe(`mapReduce (${name})`, function () {
    this.timeout(60_000);
    let pool: PoolExecutor | undefined;
    let dir: { path: string; cleanup: () => void };
    beforeEach(() => {
      dir = tempDir('cf-mr-');
    });
    afterEach(async () => {
      await pool?.shutdown({ cancelFutures: true });
      pool = undefined;
      dir.cleanup();
    });

    it("Sage's RESetMPExample: permutations of 8 by inversions give the q-factorial, for 1 to 4 workers", async () => {
      const expected = qFactorial(8);
      const spec = inversionsSpec(8);
      const serialAnswer = serial({
        roots: [{ n: 8, p: [] }],
        children: fixture.permChildren!,
        postProcess: fixture.permKeepFull!,
        map: fixture.inversionMonomial!,
        reduce: fixture.addPolynomials!,
        init: [],
      });
      expect(serialAnswer).to.deep.equal(expected);
      expect(expected.reduce((a, b) => a + b, 0)).to.equal(40320);
      for (let workers = 1; workers <= 4; workers++) {
        pool = make({ maxWorkers: workers });
        const future = pool.mapReduce(spec);
        expect(await future, `${workers} workers`).to.deep.equal(expected);
        // 0! + 1! + ... + 8! nodes, each explored once.
        expect(future.stats?.nodes).to.equal(46234);
        expect(future.stats?.explorers.length).to.be.within(1, workers);
        await pool.shutdown();
        pool = undefined;
      }
    });

    it('counts the nodes of a deliberately unbalanced tree, for 1 to 4 workers (inline functions)', async () => {
      const size = 30_000;
      expect(
        serial({ ...lopsidedSpec(size), roots: [size] } as Parameters<typeof serial>[0]),
      ).to.equal(size);
      expect(
        serial({
          roots: [size],
          children: fixture.lopsidedChildren!,
          map: fixture.one!,
          reduce: fixture.sum!,
          init: 0,
        }),
      ).to.equal(size);
      for (let workers = 1; workers <= 4; workers++) {
        pool = make({ maxWorkers: workers });
        const future = pool.mapReduce(lopsidedSpec(size));
        expect(await future, `${workers} workers`).to.equal(size);
        const stats = future.stats!;
        expect(stats.nodes).to.equal(size);
        const perExplorer = stats.explorers.reduce((total, explorer) => total + explorer.nodes, 0);
        expect(perExplorer).to.equal(size);
        for (const explorer of stats.explorers) {
          expect(explorer.idleTime).to.be.a('number').and.at.least(0);
          expect(explorer.pid).to.be.a('number');
        }
        await pool.shutdown();
        pool = undefined;
      }
    });

    it('parent traffic grows with the steals, not with the nodes', async () => {
      pool = make({ maxWorkers: 2 });
      const size = 60_000;
      const future = pool.mapReduce({ ...lopsidedSpec(size), roots: [size] });
      expect(await future).to.equal(size);
      const stats = future.stats!;
      // Each steal request costs at most: the request, its answer, the
      // nodes handed over, the thief's next idle notice and one "has work
      // again" notice; each steal may leave a reserve with the parent,
      // handed out once (the notice that asked, the nodes, one more
      // notice); each explorer: its start, roots, a low notice no steal
      // followed (a lone explorer has no one to steal from), last idle,
      // finish, and one to spare.
      expect(stats.messages).to.be.at.most(
        5 * stats.stealRequests + 3 * stats.steals + 6 * stats.explorers.length,
      );
      expect(stats.messages).to.be.below(size / 100);
      expect(stats.steals).to.be.at.most(stats.stealRequests);
      expect(stats.nodesStolen).to.be.at.least(stats.steals);
    });

    it('explorers are tasks of the executor: events of kind mapReduce, counted in stats', async () => {
      pool = make({ maxWorkers: 2 });
      const kinds: string[] = [];
      pool.on('taskStarted', (event) => kinds.push(event.kind));
      expect(await pool.mapReduce({ ...lopsidedSpec(2000) })).to.equal(2000);
      expect(kinds.length).to.be.within(1, 2);
      expect(new Set(kinds)).to.deep.equal(new Set(['mapReduce']));
      const stats = pool.stats();
      expect(stats.running).to.equal(0);
      expect(stats.submitted).to.equal(2);
    });

    it('an empty forest returns init without starting a worker', async () => {
      pool = make({ maxWorkers: 2 });
      const init = { total: 0 };
      const future = pool.mapReduce({ ...lopsidedSpec(1), roots: [], init: init as never });
      expect(await future).to.equal(init);
      expect(future.stats?.nodes).to.equal(0);
      expect(pool.workerIds()).to.deep.equal([]);
    });

    it('postProcess drops nodes (their children are still explored) or transforms them', async () => {
      pool = make({ maxWorkers: 2 });
      // Nodes 1..15 of a binary heap; keep the odd ones, mapped as their double.
      const total = await pool.mapReduce({
        roots: [1],
        children: (i: number) => (i < 8 ? [2 * i, 2 * i + 1] : []),
        postProcess: (i: number) => (i % 2 === 1 ? i * 2 : undefined),
        map: (x: number) => x,
        reduce: (a: number, b: number) => a + b,
        init: 0,
      });
      expect(total).to.equal(2 * (1 + 3 + 5 + 7 + 9 + 11 + 13 + 15));
    });

    it('async functions work, and children that are not iterable fail clearly', async () => {
      pool = make({ maxWorkers: 2 });
      const total = await pool.mapReduce({
        roots: [1],
        children: async (i: number) => (i < 64 ? [2 * i, 2 * i + 1] : []),
        map: async (i: number) => i,
        reduce: async (a: number, b: number) => a + b,
        init: 0,
      });
      expect(total).to.equal((127 * 128) / 2);
      const error = await rejectionOf(
        pool.mapReduce({
          ...lopsidedSpec(10),
          children: ((s: number) => (s > 5 ? [s - 1] : s)) as never,
        }),
      );
      expect(error).to.be.instanceOf(TypeError);
      expect((error as Error).message).to.equal(
        'Expected `children(node)` to return an iterable of nodes (or undefined), got number',
      );
    });

    it('runs on the free workers when others are busy; an explorer that never started is dropped', async () => {
      pool = make({ maxWorkers: 2 });
      const gate = join(dir.path, 'release');
      // Occupies one worker until the search is over.
      const blocker = pool.submit(
        async (file: string) => {
          const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
          while (!fs.existsSync(file)) await new Promise((r) => setTimeout(r, 10));
          return 'released';
        },
        [gate],
      );
      await waitUntil(() => blocker.running(), 'the blocker to run');
      const future = pool.mapReduce(lopsidedSpec(3000));
      expect(await future).to.equal(3000);
      expect(future.stats?.explorers.length).to.equal(1);
      touch(gate);
      expect(await blocker).to.equal('released');
      expect(pool.stats().running).to.equal(0);
    });

    it('shutdown() waits for a running search, which completes', async () => {
      pool = make({ maxWorkers: 2 });
      const future = pool.mapReduce(inversionsSpec(7));
      const closed = pool.shutdown();
      expect(await future).to.deep.equal(qFactorial(7));
      await closed;
      expect(pool.workerIds()).to.deep.equal([]);
      pool = undefined;
    });

    it('CancelAll thrown by map stops the whole search: the future rejects with it, nodes after it are not explored', async () => {
      pool = make({ maxWorkers: 2 });
      const size = 20_000;
      const future = pool.mapReduce({
        roots: [{ size, dir: dir.path }],
        children: ({ size: s, dir: d }: { size: number; dir: string }) => {
          const rest = s - 1;
          if (rest <= 0) return [];
          const big = Math.ceil(rest * 0.9);
          return (rest - big > 0 ? [big, rest - big] : [big]).map((x) => ({ size: x, dir: d }));
        },
        map: ({ dir: d }: { dir: string }) => {
          const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
          const { threadId } = process.getBuiltinModule(
            'node:worker_threads',
          ) as typeof import('node:worker_threads');
          fs.appendFileSync(`${d}/dots-${process.pid}-${threadId}`, '.');
          const g = globalThis as { mapped?: number };
          g.mapped = (g.mapped ?? 0) + 1;
          if (g.mapped === 300) throw new CancelAll('found a counterexample');
          const until = performance.now() + 0.2;
          while (performance.now() < until) {}
          return 1;
        },
        reduce: (a: number, b: number) => a + b,
        init: 0,
      });
      const error = await rejectionOf(future);
      expect(isCancelAll(error), String(error)).to.equal(true);
      expect((error as { reason: unknown }).reason).to.equal('found a counterexample');
      // The other explorer is stopped too: wait until nothing runs, then count.
      await waitUntil(() => pool!.stats().running === 0, 'the explorers to stop');
      const explored = dotsIn(dir.path);
      expect(explored).to.be.at.least(300);
      expect(explored).to.be.below(size / 2);
      // The executor stays usable.
      expect(await pool.submit((x: number) => x + 1, [1])).to.equal(2);
    });

    it('a timeout stops the search: TaskTimeoutError, the explorers are stopped, the executor stays usable', async () => {
      pool = make({ maxWorkers: 2, cancelGrace: 1000 });
      // An endless chain: only the time limit ends it.
      const future = pool.mapReduce(
        {
          roots: [0],
          children: (n: number) => [n + 1],
          map: () => 1,
          reduce: (a: number, b: number) => a + b,
          init: 0,
        },
        { timeout: 300 },
      );
      const error = await rejectionOf(future);
      expect(error).to.be.instanceOf(TaskTimeoutError);
      expect((error as TaskTimeoutError).timeout).to.equal(300);
      expect(future.stats?.nodes).to.be.a('number');
      await waitUntil(() => pool!.stats().running === 0, 'the explorers to stop');
      expect(await pool.submit((x: number) => x * 2, [21])).to.equal(42);
    });

    it('a timeout stops an explorer stuck in a synchronous map: its worker is killed after cancelGrace', async () => {
      pool = make({ maxWorkers: 1, cancelGrace: 200 });
      const exited: string[] = [];
      pool.on('workerExited', (event) => exited.push(event.reason));
      const future = pool.mapReduce(
        {
          roots: [dir.path],
          children: () => [],
          map: (d: string) => {
            const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
            fs.writeFileSync(`${d}/stuck`, '');
            while (true) {}
          },
          reduce: (a: number, b: number) => a + b,
          init: 0,
        },
        { timeout: 500 },
      );
      expect(await rejectionOf(future)).to.be.instanceOf(TaskTimeoutError);
      expect(existsSync(join(dir.path, 'stuck'))).to.equal(true);
      await waitUntil(() => exited.length > 0, 'the stuck worker to be killed');
      expect(exited[0]).to.equal('cancelled');
      expect(await pool.submit((x: number) => x * 2, [21])).to.equal(42);
    });

    it('a signal cancels the search, and so does cancel({ running: true })', async () => {
      pool = make({ maxWorkers: 2 });
      const endless = (marker: string) => ({
        roots: [marker],
        children: (m: string) => [m],
        map: (m: string) => {
          const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
          if (!fs.existsSync(m)) fs.writeFileSync(m, '');
          return 1;
        },
        reduce: (a: number, b: number) => a + b,
        init: 0,
      });
      const controller = new AbortController();
      const first = pool.mapReduce(endless(join(dir.path, 'first')), {
        signal: controller.signal,
      });
      await waitUntil(() => existsSync(join(dir.path, 'first')), 'the first search to run');
      controller.abort('enough');
      expect(first.cancelled()).to.equal(true);
      const firstError = await rejectionOf(first);
      expect(firstError).to.be.instanceOf(CancelledError);
      expect((firstError as CancelledError).cause).to.equal('enough');

      const second = pool.mapReduce(endless(join(dir.path, 'second')));
      await waitUntil(() => existsSync(join(dir.path, 'second')), 'the second search to run');
      expect(second.running()).to.equal(true);
      expect(second.cancel()).to.equal(false);
      expect(second.cancel({ running: true })).to.equal(true);
      expect(await rejectionOf(second)).to.be.instanceOf(CancelledError);
      await waitUntil(() => pool!.stats().running === 0, 'the explorers to stop');
    });

    it('a crashed worker fails the search with WorkerCrashedError (its nodes are lost)', async () => {
      pool = make({ maxWorkers: 2 });
      const future = pool.mapReduce({
        roots: [400],
        children: (s: number) => (s > 1 ? [s - 1] : []),
        map: (s: number) => {
          if (s === 200) process.exit(7);
          return 1;
        },
        reduce: (a: number, b: number) => a + b,
        init: 0,
      });
      const error = await rejectionOf(future);
      expect(error).to.be.instanceOf(WorkerCrashedError);
      // The pool replaces the worker and goes on.
      expect(await pool.submit((x: number) => x + 1, [41])).to.equal(42);
    });

    it('a reduce that throws fails the search with its error', async () => {
      pool = make({ maxWorkers: 2 });
      const future = pool.mapReduce({
        ...lopsidedSpec(5000),
        reduce: (a: number, b: number) => {
          if (a === 1000) throw new RangeError('reduce gave up at 1000');
          return a + b;
        },
      });
      const error = await rejectionOf(future);
      expect(error).to.be.instanceOf(RangeError);
      expect((error as Error).message).to.equal('reduce gave up at 1000');
    });

    it('a node that cannot be cloned when stolen fails the search clearly', async () => {
      pool = make({ maxWorkers: 2 });
      let explorers = 0;
      const gate = join(dir.path, 'go');
      pool.on('taskStarted', (event) => {
        if (event.kind === 'mapReduce' && ++explorers === 2) touch(gate);
      });
      const future = pool.mapReduce({
        roots: [gate],
        // Children carry a function: they cannot leave their worker.
        children: (node: unknown) =>
          typeof node === 'string'
            ? Array.from({ length: 400 }, (_, i) => ({ i, f: () => i }))
            : [],
        map: (node: unknown) => {
          const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
          if (typeof node === 'string') {
            // Wait until both explorers run, so that one steals from the other.
            while (!fs.existsSync(node)) {}
          } else {
            const until = performance.now() + 5;
            while (performance.now() < until) {}
          }
          return 1;
        },
        reduce: (a: number, b: number) => a + b,
        init: 0,
      });
      const error = await rejectionOf(future);
      expect(error).to.be.instanceOf(TypeError);
      expect((error as Error).message).to.match(
        /A node of the map-reduce cannot be sent to another worker \(it was stolen\)/,
      );
    });

    it('refuses bad input at once, naming the field, what was expected and what was given', () => {
      pool = make({ maxWorkers: 2 });
      const p = pool;
      const good = lopsidedSpec(10);
      const cases: Array<[unknown, unknown, RegExp, new (...args: any[]) => Error]> = [
        [undefined, undefined, /Expected `spec` to be an object/, ArgumentTypeError],
        [
          { ...good, roots: 5 },
          undefined,
          /Expected `roots` to be an iterable.*got `5` \(number\)/,
          ArgumentTypeError,
        ],
        [
          { ...good, roots: [() => 1] },
          undefined,
          /`roots\[0\]` to be a structured-cloneable value/,
          ArgumentTypeError,
        ],
        [
          { ...good, children: 'kids' },
          undefined,
          /Expected `children` to be a function or a task\(\) reference, got .*kids/,
          ArgumentTypeError,
        ],
        [
          { ...good, map: undefined },
          undefined,
          /Expected `map` to be a function/,
          ArgumentTypeError,
        ],
        [
          { ...good, reduce: Math.max },
          undefined,
          /Expected `reduce` to be a function with JavaScript source/,
          ArgumentTypeError,
        ],
        [
          { ...good, postProcess: 3 },
          undefined,
          /Expected `postProcess` to be a function/,
          ArgumentTypeError,
        ],
        [
          { roots: [1], children: good.children, map: good.map, reduce: good.reduce },
          undefined,
          /Expected `init`/,
          ArgumentTypeError,
        ],
        [
          { ...good, init: Symbol('zero') },
          undefined,
          /`init` to be a structured-cloneable value/,
          ArgumentTypeError,
        ],
        [{ ...good, mapper: good.map }, undefined, /Unknown field `mapper`/, ArgumentTypeError],
        [
          good,
          { maxWorkers: 0 },
          /Expected `maxWorkers` to be an integer >= 1, got `0`/,
          ArgumentRangeError,
        ],
        [good, { maxWorkers: '2' }, /Expected `maxWorkers`/, ArgumentTypeError],
        [good, { timeout: -1 }, /Expected `timeout`/, ArgumentRangeError],
        [good, { signal: 'stop' }, /Expected `signal` to be an AbortSignal/, ArgumentTypeError],
        [good, 7, /Expected `options` to be an options object/, ArgumentTypeError],
      ];
      for (const [spec, options, message, kind] of cases) {
        const error = thrownBy(() => p.mapReduce(spec as never, options as never));
        expect(error, String(message)).to.be.instanceOf(kind);
        expect((error as Error).message).to.match(message);
      }
      expect(p.workerIds()).to.deep.equal([]);
      expect(p.stats().submitted).to.equal(0);
    });
  });
}
