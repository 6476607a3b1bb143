/**
 * Type-level tests of concurrent-futures/distributed: checked by the
 * compiler (`npm run build` fails if one is wrong). The executor here never
 * reaches Redis (a closed port, a short connectTimeout): only types matter.
 */
import { expect } from 'chai';
import { expectTypeOf } from 'expect-type';
import {
  DistributedExecutor,
  type DistributedStats,
  type NodeStats,
  startWorker,
  task,
  type WorkerNode,
} from '../lib/distributed/index.js';
import type { Executor, Future, MapResult } from '../lib/index.js';

describe('types of concurrent-futures/distributed', () => {
  it('DistributedExecutor is an Executor whose submit and map infer from task() references', async () => {
    const ex = new DistributedExecutor({
      connection: 'redis://127.0.0.1:1',
      queue: 'types',
      connectTimeout: 50,
    });
    expectTypeOf(ex).toMatchTypeOf<Executor>();
    const resize = task<(key: string, width: number) => Promise<Uint8Array>>(
      './tasks.js',
      'resize',
    );
    const future = ex.submit(resize, ['a.jpg', 100], { timeout: 1000, retries: 1 });
    expectTypeOf(future).toEqualTypeOf<Future<Uint8Array>>();
    // @ts-expect-error: the arguments must match the function's parameters.
    ex.submit(resize, ['a.jpg', 'wide']).cancel();
    const lengths = ex.map(task<(s: string) => number>('./tasks.js', 'len'), ['a', 'bb']);
    expectTypeOf(lengths).toEqualTypeOf<MapResult<number>>();
    await lengths.return();
    expectTypeOf(ex.stats()).toEqualTypeOf<DistributedStats>();
    expectTypeOf(ex.stats().nodes).toEqualTypeOf<NodeStats[]>();
    ex.on('taskRetried', (event) => {
      expectTypeOf(event.attempt).toEqualTypeOf<number>();
      expectTypeOf(event.node).toEqualTypeOf<string | undefined>();
    });
    expectTypeOf(startWorker).returns.toEqualTypeOf<Promise<WorkerNode>>();
    expect(await future.exception()).to.be.instanceOf(Error);
    await ex.shutdown();
  });
});
