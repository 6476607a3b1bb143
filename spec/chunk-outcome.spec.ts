/**
 * The chunk outcome encoding of wire/chunk-outcome.ts: numbers travel
 * packed in a Float64Array and come back as the same plain array.
 */
import { deserialize, serialize } from 'node:v8';
import { expect } from 'chai';
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
    numbers.forEach((x, i) => expect(Object.is(back[i], x), `item ${i}`).to.equal(true));
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

  it('decodes a packed outcome to plain values', () => {
    const outcome = decodeChunkOutcome({ values: new Float64Array([1, 2, 3]), failed: false });
    expect(outcome).to.deep.equal({ values: [1, 2, 3], failed: false });
  });
});
