/**
 * Type-level tests against the concrete pools, ProcessPoolExecutor and
 * ThreadPoolExecutor (spec/types.spec.ts covers the `Executor` interface).
 *
 * The assertions are checked by the compiler: `npm run build` runs tsc over
 * spec/, so a wrong `expectTypeOf` fails the build, and so does a
 * `// @ts-expect-error` line that is not an error. The misuses sit in
 * functions that are type-checked but never called; the runtime part runs
 * the well-typed calls on real workers and checks that the values match the
 * inferred types.
 */
import { expect } from 'chai';
import { expectTypeOf } from 'expect-type';
import {
  type Distribution,
  type Future,
  type MapResult,
  type PoolStats,
  ProcessPoolExecutor,
  type TaskFinishedEvent,
  type TaskOutput,
  type TaskRef,
  ThreadPoolExecutor,
  task,
} from '../lib/index.js';
import type { Point } from './fixtures/typed-tasks.js';

type Tasks = typeof import('./fixtures/typed-tasks.js');

/** The compiled module next to this compiled spec: dist/spec/fixtures/typed-tasks.js. */
const TASKS = new URL('./fixtures/typed-tasks.js', import.meta.url);
const scale = task<Tasks['scale']>(TASKS, 'scale');
const label = task<Tasks['label']>(TASKS, 'label');
const size = task<Tasks['size']>(TASKS, 'size');
const shout = task<Tasks['shout']>(TASKS, 'shout');

describe('types of the concrete pools', () => {
  it('task<typeof fn>() makes a TaskRef of exactly that function type', () => {
    expectTypeOf(scale).toEqualTypeOf<TaskRef<(point: Point, factor: number) => Point>>();
    expectTypeOf(label).toEqualTypeOf<TaskRef<(n: number) => Promise<string>>>();
    expect(scale.exportName).to.equal('scale');
  });

  it('submit of a task reference infers Future<R>, with R unwrapped from a promise, on both pools', async () => {
    const processes = new ProcessPoolExecutor({ maxWorkers: 1 });
    const threads = new ThreadPoolExecutor({ maxWorkers: 1 });
    try {
      const scaled = processes.submit(scale, [{ x: 1, y: 2 }, 3]);
      expectTypeOf(scaled).toEqualTypeOf<Future<Point>>();
      const labelled = threads.submit(label, [7]);
      expectTypeOf(labelled).toEqualTypeOf<Future<string>>();
      expectTypeOf(threads.submit(scale, [{ x: 0, y: 0 }, 1])).toEqualTypeOf<Future<Point>>();
      expectTypeOf(processes.submit(label, [1])).toEqualTypeOf<Future<string>>();

      const point = await scaled;
      expectTypeOf(point).toEqualTypeOf<Point>();
      expect(point).to.deep.equal({ x: 3, y: 6 });
      const text = await labelled.result();
      expectTypeOf(text).toEqualTypeOf<string>();
      expect(text).to.equal('#7');
    } finally {
      await Promise.all([processes.shutdown(), threads.shutdown()]);
    }
  });

  it('submit refuses wrong argument types and counts, for task references and inline functions', () => {
    // Type-checked, never called: each @ts-expect-error must be an error.
    const misuse = (pool: ProcessPoolExecutor | ThreadPoolExecutor) => {
      // @ts-expect-error: a string where the point is expected.
      pool.submit(scale, ['not a point', 2]);
      // @ts-expect-error: the factor is missing.
      pool.submit(scale, [{ x: 1, y: 1 }]);
      // @ts-expect-error: one argument too many.
      pool.submit(label, [1, 2]);
      // @ts-expect-error: the point lacks y.
      pool.submit(scale, [{ x: 1 }, 2]);
      // @ts-expect-error: an inline function gets a string for a number.
      pool.submit((n: number) => n * 2, ['2']);
      // @ts-expect-error: an inline function gets too few arguments.
      pool.submit((a: number, b: number) => a + b, [1]);
      // @ts-expect-error: an inline function gets too many arguments.
      pool.submit(() => 1, [1]);
      // @ts-expect-error: timeout is a number of milliseconds.
      pool.submit(label, [1], { timeout: '100' });
      // @ts-expect-error: retries is a number.
      pool.submit(label, [1], { retries: true });
    };
    expectTypeOf(misuse).returns.toBeVoid();
    // The well-typed counterparts compile.
    const fine = (pool: ProcessPoolExecutor | ThreadPoolExecutor) => [
      pool.submit(scale, [{ x: 1, y: 1 }, 2], { timeout: 100, retries: 1 }),
      pool.submit((a: number, b: number) => a + b, [1, 2]),
      pool.submit(() => 1),
    ];
    expectTypeOf(fine).returns.toEqualTypeOf<Array<Future<Point> | Future<number>>>();
  });

  it('map with a task reference infers its element type, and checks the items', async () => {
    const pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    try {
      const sizes = pool.map(size, ['a', 'bb', 'ccc']);
      expectTypeOf(sizes).toEqualTypeOf<MapResult<number>>();
      const labels = pool.map(label, [1, 2]);
      expectTypeOf(labels).toEqualTypeOf<MapResult<string>>();
      const all = await sizes;
      expectTypeOf(all).toEqualTypeOf<number[]>();
      expect(all).to.deep.equal([1, 2, 3]);
      const seen: string[] = [];
      for await (const each of labels) {
        expectTypeOf(each).toEqualTypeOf<string>();
        seen.push(each);
      }
      expect(seen).to.deep.equal(['#1', '#2']);
    } finally {
      await pool.shutdown();
    }
    const misuse = (other: ProcessPoolExecutor) => {
      // @ts-expect-error: size takes strings.
      other.map(size, [1, 2]);
      // @ts-expect-error: chunksize is a number.
      other.map(size, ['a'], { chunksize: '2' });
    };
    expectTypeOf(misuse).returns.toBeVoid();
  });

  it('stats() returns PoolStats whose distributions are numbers', async () => {
    const pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    try {
      await pool.submit(size, ['abc']);
      const stats = pool.stats();
      expectTypeOf(stats).toEqualTypeOf<PoolStats>();
      expectTypeOf(stats.runTime).toEqualTypeOf<Distribution>();
      expectTypeOf(stats.runTime.p50).toEqualTypeOf<number>();
      expectTypeOf(stats.waitTime.p99).toEqualTypeOf<number>();
      expectTypeOf(stats.workers).toEqualTypeOf<number>();
      expectTypeOf(stats.perWorker[0]?.pid).toEqualTypeOf<number | undefined>();
      expect(stats.runTime.p50).to.be.a('number');
      expect(stats.runTime.count).to.equal(1);
      expectTypeOf<ReturnType<ThreadPoolExecutor['stats']>>().toEqualTypeOf<PoolStats>();
    } finally {
      await pool.shutdown();
    }
  });

  it("on('taskFinished') types its event: value is unknown, runTime a number; on() returns the pool", async () => {
    const pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    try {
      const finished: TaskFinishedEvent[] = [];
      const returned = pool.on('taskFinished', (event) => {
        expectTypeOf(event).toEqualTypeOf<TaskFinishedEvent>();
        expectTypeOf(event.value).toEqualTypeOf<unknown>();
        expectTypeOf(event.runTime).toEqualTypeOf<number>();
        expectTypeOf(event.taskId).toEqualTypeOf<number>();
        finished.push(event);
      });
      expectTypeOf(returned).toEqualTypeOf<ThreadPoolExecutor>();
      const chain = (other: ProcessPoolExecutor) =>
        other.on('idle', () => {}).on('drain', () => {});
      expectTypeOf(chain).returns.toEqualTypeOf<ProcessPoolExecutor>();
      await pool.submit(size, ['four']);
      expect(finished).to.have.length(1);
      expect(finished[0]?.value).to.equal(4);
      expect(finished[0]?.runTime).to.be.a('number');
    } finally {
      await pool.shutdown();
    }
    const misuse = (other: ProcessPoolExecutor) => {
      // @ts-expect-error: there is no such event.
      other.on('taskFinshed', () => {});
      other.on('workerSpawned', (event) => {
        // @ts-expect-error: a workerSpawned event has a pid, no value.
        return event.value;
      });
    };
    expectTypeOf(misuse).returns.toBeVoid();
  });

  it('future.output is TaskOutput | undefined, and holds the output with stdio capture', async () => {
    const pool = new ProcessPoolExecutor({ maxWorkers: 1, stdio: 'capture' });
    try {
      const future = pool.submit(shout, ['hello']);
      expectTypeOf(future.output).toEqualTypeOf<TaskOutput | undefined>();
      expect(await future).to.equal('hello');
      expect(future.output?.stdout).to.equal('HELLO\n');
      expectTypeOf(future.output?.stdout).toEqualTypeOf<string | undefined>();
      expectTypeOf(future.output?.truncated).toEqualTypeOf<boolean | undefined>();
    } finally {
      await pool.shutdown();
    }
  });
});
