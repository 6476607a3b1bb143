/**
 * The engine's task queue: order, putting back at the front, dead entries
 * (cancelled while waiting) and compaction, at sizes that trigger it.
 */
import { expect } from 'chai';
import { TaskQueue } from '../lib/engine/queue.js';

interface Entry {
  n: number;
  deadInQueue: boolean;
}

const entry = (n: number): Entry => ({ n, deadInQueue: false });

function drainNumbers(queue: TaskQueue<Entry>): number[] {
  const out: number[] = [];
  for (let item = queue.shift(); item !== undefined; item = queue.shift()) out.push(item.n);
  return out;
}

describe('TaskQueue', () => {
  it('hands entries out in the order they were pushed', () => {
    const queue = new TaskQueue<Entry>();
    for (let i = 0; i < 5; i++) queue.push(entry(i));
    expect(queue.size).to.equal(5);
    expect(drainNumbers(queue)).to.deep.equal([0, 1, 2, 3, 4]);
    expect(queue.size).to.equal(0);
    expect(queue.shift()).to.equal(undefined);
  });

  it('puts an entry back at the front, before and after entries were taken', () => {
    const queue = new TaskQueue<Entry>();
    for (let i = 0; i < 3; i++) queue.push(entry(i));
    const first = queue.shift()!;
    queue.unshift(entry(9));
    queue.unshift(first);
    expect(drainNumbers(queue)).to.deep.equal([0, 9, 1, 2]);
    queue.unshift(entry(7));
    expect(drainNumbers(queue)).to.deep.equal([7]);
  });

  it('counts dead entries out of live and forgets them once taken', () => {
    const queue = new TaskQueue<Entry>();
    const items = [0, 1, 2, 3].map(entry);
    for (const item of items) queue.push(item);
    queue.markDead(items[1]!);
    queue.markDead(items[1]!);
    expect(queue.size).to.equal(4);
    expect(queue.live).to.equal(3);
    expect(drainNumbers(queue)).to.deep.equal([0, 1, 2, 3]);
    expect(queue.live).to.equal(0);
    expect(items[1]!.deadInQueue).to.equal(false);
  });

  it('drops dead entries on request and keeps the live ones in order', () => {
    const queue = new TaskQueue<Entry>();
    const items = Array.from({ length: 10 }, (_, i) => entry(i));
    for (const item of items) queue.push(item);
    for (const i of [0, 3, 4, 9]) queue.markDead(items[i]!);
    queue.dropDead();
    expect(queue.size).to.equal(6);
    expect(queue.live).to.equal(6);
    expect(drainNumbers(queue)).to.deep.equal([1, 2, 5, 6, 7, 8]);
  });

  it('compacts itself when most of a long queue was cancelled', () => {
    const queue = new TaskQueue<Entry>();
    const items = Array.from({ length: 3_000 }, (_, i) => entry(i));
    for (const item of items) queue.push(item);
    // Cancel every even entry: at 1,500 dead of 3,000 the queue compacts.
    for (let i = 0; i < items.length; i += 2) queue.markDead(items[i]!);
    expect(queue.size).to.equal(1_500);
    expect(queue.live).to.equal(1_500);
    const out = drainNumbers(queue);
    expect(out).to.have.length(1_500);
    expect(out.every((n) => n % 2 === 1)).to.equal(true);
  });

  it('stays in order across the compaction of consumed slots', () => {
    const queue = new TaskQueue<Entry>();
    let next = 0;
    const out: number[] = [];
    // Take two for every three pushed: the head runs far into the array.
    for (let round = 0; round < 5_000; round++) {
      for (let k = 0; k < 3; k++) queue.push(entry(next++));
      out.push(queue.shift()!.n, queue.shift()!.n);
    }
    out.push(...drainNumbers(queue));
    expect(out).to.deep.equal(Array.from({ length: next }, (_, i) => i));
  });

  it('drain returns every entry, dead ones too, and leaves the queue empty', () => {
    const queue = new TaskQueue<Entry>();
    const items = [0, 1, 2].map(entry);
    for (const item of items) queue.push(item);
    queue.shift();
    queue.markDead(items[2]!);
    expect(queue.drain().map((item) => item.n)).to.deep.equal([1, 2]);
    expect(queue.size).to.equal(0);
    expect(queue.live).to.equal(0);
    expect(items[2]!.deadInQueue).to.equal(false);
  });
});
