import { expect } from 'chai';
import { Future } from '../lib/index.js';

describe('smoke', () => {
  it('a future resolves with its result', async () => {
    const f = new Future<number>();
    f.setResult(42);
    expect(await f).to.equal(42);
    expect(String(f)).to.equal('Future<finished: returned 42>');
  });
});
