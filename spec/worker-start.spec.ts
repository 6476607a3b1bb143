/**
 * Starting workers: those the queued tasks need start at once; those kept
 * by `minWorkers` only once a first worker is ready, so that their starts
 * (a whole Node process each) do not take the cores from the start the
 * first tasks wait for.
 */
import { expect } from 'chai';
import { ProcessPoolExecutor, type ProcessPoolOptions, ThreadPoolExecutor } from '../lib/index.js';
import { waitUntil } from './support/handshake.js';

const EXECUTORS = [
  { name: 'ProcessPoolExecutor', make: (o: ProcessPoolOptions) => new ProcessPoolExecutor(o) },
  { name: 'ThreadPoolExecutor', make: (o: ProcessPoolOptions) => new ThreadPoolExecutor(o) },
];

for (const { name, make } of EXECUTORS) {
  describe(`starting workers (${name})`, function () {
    this.timeout(60_000);

    it('starts the workers minWorkers keeps only once a first worker is ready', async () => {
      const pool = make({ maxWorkers: 3, minWorkers: 3 });
      const atSpawn: number[] = [];
      pool.on('workerSpawned', () => {
        const { idle, busy } = pool.stats();
        atSpawn.push(idle + busy);
      });
      try {
        // Workers start on the first submit: one task needs one worker.
        expect(await pool.submit((x: number) => x + 1, [1])).to.equal(2);
        await waitUntil(() => pool.stats().idle === 3, 'three idle workers');
        expect(atSpawn).to.have.length(3);
        // The first started with nothing ready; the two others after it was ready.
        expect(atSpawn[0]).to.equal(0);
        expect(atSpawn[1]).to.be.at.least(1);
        expect(atSpawn[2]).to.be.at.least(1);
      } finally {
        await pool.shutdown();
      }
    });

    it('starts at once as many workers as the queued tasks need', async () => {
      const pool = make({ maxWorkers: 3, minWorkers: 0 });
      const atSpawn: number[] = [];
      pool.on('workerSpawned', () => {
        const { idle, busy } = pool.stats();
        atSpawn.push(idle + busy);
      });
      try {
        const results = await Promise.all([1, 2, 3].map((x) => pool.submit((v: number) => v, [x])));
        expect(results).to.deep.equal([1, 2, 3]);
        expect(atSpawn).to.deep.equal([0, 0, 0]);
      } finally {
        await pool.shutdown();
      }
    });
  });
}
