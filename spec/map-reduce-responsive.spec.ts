/**
 * An explorer grinding through a long run of synchronous nodes still
 * answers its channel: it reads the clock every few nodes and yields to
 * its event loop about every millisecond (worker/explorer.ts). Without
 * that, a steal request or a cancellation would wait for the end of the
 * explorer's whole run (here: forever, bounded by a deadline the task code
 * itself keeps and reports).
 *
 * Sequenced by files the task code writes; deadlines only bound hangs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { CancelledError, type PoolExecutor } from '../lib/index.js';
import { EXECUTORS } from './support/executors.js';
import { rejectionOf } from './support/futures.js';
import { tempDir, waitUntil } from './support/handshake.js';

interface Node {
  d: string;
  i: number;
}

for (const { name, make } of EXECUTORS) {
  describe(`mapReduce explorers stay responsive (${name})`, function () {
    this.timeout(60_000);
    let pool: PoolExecutor | undefined;
    let dir: { path: string; cleanup: () => void };
    beforeEach(() => {
      dir = tempDir('cf-mr-resp-');
    });
    afterEach(async () => {
      await pool?.shutdown({ cancelFutures: true });
      pool = undefined;
      dir.cleanup();
    });

    it('a steal request gets in while the explorer holding the root grinds on synchronously', async () => {
      pool = make({ maxWorkers: 2 });
      // The tree grows (two children per node) until a node is explored
      // by another worker than the root's: only a steal answered in the
      // middle of the root explorer's run can end it. The task code gives
      // up after 20 s and says so, rather than grow forever.
      const future = pool.mapReduce({
        roots: [{ d: dir.path, i: 0 }],
        children: ({ d, i }: Node) => {
          const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
          if (fs.existsSync(`${d}/stolen`)) return [];
          const g = globalThis as { startedAt?: number };
          g.startedAt ??= Date.now();
          if (Date.now() - g.startedAt > 20_000) {
            fs.writeFileSync(`${d}/gave-up`, '');
            return [];
          }
          return [
            { d, i: 2 * i + 1 },
            { d, i: 2 * i + 2 },
          ];
        },
        map: ({ d, i }: Node) => {
          const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
          const { threadId } = process.getBuiltinModule(
            'node:worker_threads',
          ) as typeof import('node:worker_threads');
          const me = `${process.pid}-${threadId}`;
          if (i === 0) fs.writeFileSync(`${d}/owner`, me);
          else if (fs.readFileSync(`${d}/owner`, 'utf8') !== me)
            fs.writeFileSync(`${d}/stolen`, '');
          return 1;
        },
        reduce: (a: number, b: number) => a + b,
        init: 0,
      });
      const count = await future;
      expect(
        existsSync(join(dir.path, 'gave-up')),
        'the root explorer ran 20 s unanswered',
      ).to.equal(false);
      expect(existsSync(join(dir.path, 'stolen'))).to.equal(true);
      const stats = future.stats!;
      expect(count).to.equal(stats.nodes);
      expect(stats.steals).to.be.at.least(1);
      expect(stats.explorers).to.have.length(2);
    });

    it('explorers that ask for work before they run dry lose no node: exact counts over many searches', async () => {
      pool = make({ maxWorkers: 2 });
      // An unbalanced tree whose nodes cost a few microseconds: explorers
      // run low every few milliseconds, and often run dry while the work
      // they asked for is on its way (the notice that they are idle is
      // then out of date: taking it for idle would end the search early).
      const spec = {
        children: (s: number) => {
          const rest = s - 1;
          if (rest <= 0) return [];
          const big = Math.ceil(rest * 0.95);
          return rest - big > 0 ? [big, rest - big] : [big];
        },
        map: (s: number) => {
          let x = s;
          for (let i = 0; i < 200; i++) x = (x * 1103515245 + 12345) % 2147483648;
          return x >= 0 ? 1 : 0;
        },
        reduce: (a: number, b: number) => a + b,
        init: 0,
      };
      let lows = 0;
      for (let run = 0; run < 12; run++) {
        const size = 15_000 + run;
        const future = pool.mapReduce({ ...spec, roots: [size] });
        expect(await future, `search ${run}`).to.equal(size);
        const stats = future.stats!;
        expect(stats.nodes).to.equal(size);
        lows += stats.stealRequests;
      }
      // The searches did steal (else this would show nothing).
      expect(lows).to.be.at.least(12);
    });

    it('one explorer explores depth first, the first child first (as a recursive search would)', async () => {
      pool = make({ maxWorkers: 1 });
      const log = join(dir.path, 'order');
      const tree: Record<string, string[]> = { r: ['a', 'b', 'c'], a: ['a1', 'a2'], c: ['c1'] };
      const count = await pool.mapReduce({
        roots: [{ log, name: 'r', tree }],
        children: ({
          log: l,
          name,
          tree: t,
        }: {
          log: string;
          name: string;
          tree: Record<string, string[]>;
        }) => (t[name] ?? []).map((child) => ({ log: l, name: child, tree: t })),
        map: ({ log: l, name }: { log: string; name: string }) => {
          const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
          fs.appendFileSync(l, `${name} `);
          return 1;
        },
        reduce: (a: number, b: number) => a + b,
        init: 0,
      });
      expect(count).to.equal(7);
      expect(readFileSync(log, 'utf8').trim()).to.equal('r a a1 a2 b c c1');
    });

    it('a cancel gets in while an explorer grinds through an endless synchronous chain: it stops, its worker is not killed', async () => {
      // A grace long enough that a worker killed for not answering would
      // fail the wait below: the explorer must stop on its own.
      pool = make({ maxWorkers: 1, cancelGrace: 60_000 });
      const exited: string[] = [];
      pool.on('workerExited', (event) => exited.push(event.reason));
      const marker = join(dir.path, 'running');
      const future = pool.mapReduce({
        roots: [marker],
        children: (m: string) => [m],
        map: (m: string) => {
          const g = globalThis as { marked?: boolean };
          if (g.marked !== true) {
            const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
            fs.writeFileSync(m, '');
            g.marked = true;
          }
          return 1;
        },
        reduce: (a: number, b: number) => a + b,
        init: 0,
      });
      await waitUntil(() => existsSync(marker), 'the search to run');
      const workers = pool.workerIds();
      expect(future.cancel({ running: true })).to.equal(true);
      expect(await rejectionOf(future)).to.be.instanceOf(CancelledError);
      await waitUntil(() => pool!.stats().running === 0, 'the explorer to stop', 30_000);
      expect(exited).to.deep.equal([]);
      expect(pool.workerIds()).to.deep.equal(workers);
      expect(await pool.submit((x: number) => x * 2, [21])).to.equal(42);
    });
  });
}
