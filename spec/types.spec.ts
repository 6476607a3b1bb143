/**
 * Type-level tests: these assertions are checked by the compiler (`npm run
 * build` fails if one is wrong); the runtime part only proves they execute.
 */
import { expect } from 'chai';
import { expectTypeOf } from 'expect-type';
import type { Executor, MapResult } from '../lib/index.js';
import { Future, task, wait } from '../lib/index.js';
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
    const { done } = await wait<unknown>([f]);
    expectTypeOf(done).toEqualTypeOf<Set<Future<unknown>>>();
    expect(done.has(f)).to.equal(true);
  });
});
