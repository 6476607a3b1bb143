/**
 * The chunk outcome encoding of wire/chunk-outcome.ts: numbers travel
 * packed in a Float64Array and come back as the same plain array.
 */
import { deserialize, serialize } from 'node:v8';
import { expect } from 'chai';
import { flatten } from '../lib/map-input.js';
import { decodeChunkOutcome, packNumbers, unpackNumbers } from '../lib/wire/chunk-outcome.js';

describe('chunk outcome encoding', () => {
  const numbers = Array.from({ length: 64 }, (_, i) =>
    i === 3 ? -0 : i === 5 ? Number.NaN : i / 3,
  );

  it('packs a chunk of numbers into one Float64Array that unpacks to an equal plain array', () => {
    const packed = packNumbers(numbers);
    expect(packed).to.be.instanceOf(Float64Array);
    // Through the structured clone, as on the channel.
    const back = unpackNumbers(deserialize(serialize(packed)) as Float64Array);
    expect(Array.isArray(back)).to.equal(true);
    expect(back).to.have.length(numbers.length);
    for (const [i, x] of numbers.entries())
      expect(Object.is(back[i], x), `item ${i}`).to.equal(true);
  });

  it('leaves alone a chunk that holds anything but numbers, and short chunks', () => {
    for (const odd of ['1', 1n, null, undefined, {}, [1], new Number(1)]) {
      const mixed: unknown[] = numbers.slice();
      mixed[40] = odd;
      expect(packNumbers(mixed)).to.equal(mixed);
    }
    const short = numbers.slice(0, 15);
    expect(packNumbers(short)).to.equal(short);
    expect(unpackNumbers(short)).to.equal(short);
  });

  it('keeps a packed outcome packed until the map joins it, then gives one plain array', () => {
    const outcome = decodeChunkOutcome({ values: new Float64Array([1, 2, 3]), failed: false });
    expect(outcome.values).to.be.instanceOf(Float64Array);
    const joined = flatten<unknown>([outcome.values, ['four', 5], new Float64Array([-0, 7])]);
    expect(Array.isArray(joined)).to.equal(true);
    expect(joined).to.deep.equal([1, 2, 3, 'four', 5, -0, 7]);
    expect(Object.is(joined[5], -0)).to.equal(true);
    // Plain chunks only: joined as before, a single one returned as it is.
    const single = [1, 'two'];
    expect(flatten([single])).to.equal(single);
    expect(flatten([[1], [2, 3]])).to.deep.equal([1, 2, 3]);
    expect(flatten([new Float64Array([1.5])])).to.deep.equal([1.5]);
  });
});
