/**
 * Type-level tests: these assertions are checked by the compiler (`npm run
 * build` fails if one is wrong); the runtime part only proves they execute.
 */
import { expect } from 'chai';
import { expectTypeOf } from 'expect-type';
import type { DoneAndNotDone, Executor, MapResult } from '../lib/index.js';
import { asCompleted, Future, task, wait } from '../lib/index.js';
import { InlineExecutor } from './support/inline-executor.js';

describe('types', () => {
  it('submit infers the result type of sync and async functions', async () => {
    const ex: Executor = new InlineExecutor();
    const sum = ex.submit((a: number, b: number) => a + b, [1, 2]);
    expectTypeOf(sum).toEqualTypeOf<Future<number>>();
    const text = ex.submit(async (n: number) => `#${n}`, [3]);
    expectTypeOf(text).toEqualTypeOf<Future<string>>();
    expectTypeOf(await sum).toEqualTypeOf<number>();
    // @ts-expect-error: the arguments must match the function's parameters.
    expect(() => ex.submit((a: number) => a, ['x'])).to.not.throw();
    // @ts-expect-error: too few arguments.
    ex.submit((a: number, b: number) => a + b, [1]).cancel();
    expect(await text).to.equal('#3');
    await ex.shutdown({ cancelFutures: true });
  });

  it('map infers its element type and is awaitable as an array', async () => {
    const ex: Executor = new InlineExecutor();
    const squares = ex.map((x: number) => x * x, [1, 2, 3]);
    expectTypeOf(squares).toEqualTypeOf<MapResult<number>>();
    expectTypeOf(await squares).toEqualTypeOf<number[]>();
    const lengths = ex.map(async (s: string) => s.length, ['a', 'bb']);
    expectTypeOf(lengths).toEqualTypeOf<MapResult<number>>();
    // @ts-expect-error: items must match the function's parameter.
    ex.map((x: number) => x, ['not a number']).return();
    expect(await lengths).to.deep.equal([1, 2]);
    await ex.shutdown({ cancelFutures: true });
  });

  it('task() carries the function type to submit', () => {
    const fib = task<(n: number) => Promise<bigint>>('/abs/tasks.js', 'fib');
    type Submit = Executor['submit'];
    expectTypeOf<ReturnType<typeof call>>().toEqualTypeOf<Future<bigint>>();
    function call(submit: Submit) {
      return submit(fib, [30]);
    }
    expect(fib.exportName).to.equal('fib');
  });

  it('a Future<number> is usable where a Future<unknown> is expected', async () => {
    const f = new Future<number>();
    f.setResult(1);
    const { done } = await wait<Future<unknown>>([f]);
    expectTypeOf(done).toEqualTypeOf<Set<Future<unknown>>>();
    expect(done.has(f)).to.equal(true);
  });

  it('wait() takes futures of different result types and keeps each future type', async () => {
    const n = new Future<number>();
    const s = new Future<string>();
    n.setResult(1);
    s.setResult('one');
    const { done, notDone } = await wait([n, s]);
    expectTypeOf(done).toEqualTypeOf<Set<Future<number> | Future<string>>>();
    expectTypeOf(notDone).toEqualTypeOf<Set<Future<number> | Future<string>>>();
    expectTypeOf(await wait([n])).toEqualTypeOf<DoneAndNotDone<Future<number>>>();
    const values: Array<number | string> = [];
    for (const future of done) values.push(await future);
    expectTypeOf(values[0]!).toEqualTypeOf<number | string>();
    expect(values).to.have.members([1, 'one']);
    // From a Set, or an array of one type: the same rule.
    expectTypeOf(await wait(new Set([s]))).toEqualTypeOf<DoneAndNotDone<Future<string>>>();
    // @ts-expect-error: only futures.
    expect(await wait([n, 1]).catch(() => 'rejected')).to.equal('rejected');
  });

  it('asCompleted() takes mixed futures; with { entries: true } each element is typed as the Future', async () => {
    const n = new Future<number>();
    const s = new Future<string>();
    n.setResult(2);
    s.setResult('two');
    const plain = asCompleted([n, s]);
    expectTypeOf(plain).toEqualTypeOf<AsyncIterableIterator<Future<number> | Future<string>>>();
    // A plain for-await loop: TypeScript awaits the element type of an async
    // iterable, so the variable is typed as the value although it holds the
    // Future at run time (docs/futures.md). This pins that behaviour.
    const values: Array<number | string> = [];
    for await (const element of plain) {
      expectTypeOf(element).toEqualTypeOf<number | string>();
      expect(element).to.be.instanceOf(Future);
      values.push(await element);
    }
    expect(values).to.deep.equal([2, 'two']);
    // next() gives the Future its type.
    const step = await asCompleted([s]).next();
    if (step.done !== true) expectTypeOf(step.value).toEqualTypeOf<Future<string>>();
    expect(step.value).to.equal(s);
    // The typed overload: [index, future] pairs.
    const seen: Array<[number, number | string]> = [];
    for await (const entry of asCompleted([n, s, n], { entries: true })) {
      expectTypeOf(entry).toEqualTypeOf<[index: number, future: Future<number> | Future<string>]>();
      const [index, future] = entry;
      expectTypeOf(future.exception()).toEqualTypeOf<Promise<unknown>>();
      expect(await future.exception()).to.equal(undefined);
      seen.push([index, await future]);
    }
    expect(seen).to.deep.equal([
      [0, 2],
      [1, 'two'],
    ]);
    for await (const [, future] of asCompleted(new Set([n]), { entries: true, timeout: 1000 })) {
      expectTypeOf(future).toEqualTypeOf<Future<number>>();
    }
    // @ts-expect-error: entries takes a boolean.
    expect(() => asCompleted([n], { entries: 'yes' })).to.throw(TypeError, /entries/);
  });
});
