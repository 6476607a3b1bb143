import { expect } from 'chai';
import { runChaos } from '../tools/chaos.js';

describe('chaos soak (short)', function () {
  this.timeout(120_000);

  it('settles every future with the expected outcome under random faults and leaves no process', async () => {
    const report = await runChaos({ tasks: 150, faultRate: 0.25, workers: 2, seed: 20261122 });
    expect(report.mismatches).to.deep.equal([]);
    expect(report.leftoverChildren).to.deep.equal([]);
    // The seed yields a mix of faults, so the run exercised more than the happy path.
    expect(Object.keys(report.byFault).length).to.be.greaterThan(5);
    expect(report.ok).to.equal(true);
  });
});
