import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';

const run = promisify(execFile);
const RUNNER = new URL('../bench/run.js', import.meta.url);

describe('benchmark smoke run', function () {
  this.timeout(120_000);

  it('runs every workload for every contestant and prints the tables (no timing assertions)', async () => {
    const { stdout } = await run(process.execPath, [RUNNER.pathname, '--quick'], {
      maxBuffer: 16 * 1024 * 1024,
    });
    for (const workload of ['tiny', 'map-chunked', 'map-large', 'startup', 'cpu', 'payload']) {
      expect(stdout).to.include(`### ${workload}:`);
    }
    expect(stdout).to.match(/\| \*\*ours-process\*\* \| [\d,.]+ \|/);
    expect(stdout).to.match(/\| \*\*ours-thread\*\* \| [\d,.]+ \|/);
    // The map-reduce section.
    expect(stdout).to.include('## Map-reduce: an unbalanced tree of 5,000 nodes on 2 workers');
    expect(stdout).to.match(/\| mapReduce-process \| \d+ \/ \d+ \/ \d+ \|/);
    expect(stdout).to.match(/\| naive-process \| \d+ \/ \d+ \/ \d+ \|/);
    // The distributed section (redis-server is installed wherever the suite runs).
    expect(stdout).to.include('## Distributed: DistributedExecutor against bare BullMQ');
    expect(stdout).to.match(/### tiny: 200 no-op tasks[\s\S]*\| \*\*ours\*\* \| [\d,.]+ \|/);
  });
});
