import { expect } from 'chai';
import {
  ArgumentRangeError,
  ArgumentTypeError,
  CancelledError,
  ExecutorShutdownError,
  TimeoutError,
} from '../lib/index.js';
import { InlineExecutor } from './support/inline-executor.js';

/** Resolves after `n` turns of the event loop: lets tasks finish in a chosen order without clocks. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** A gate a test opens by hand. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

function* naturals(log?: number[]): Generator<number> {
  for (let i = 0; ; i++) {
    log?.push(i);
    yield i;
  }
}

describe('Executor.map (transport-independent machinery)', () => {
  let ex: InlineExecutor;
  beforeEach(() => {
    ex = new InlineExecutor(3);
  });
  afterEach(async () => {
    await ex.shutdown({ cancelFutures: true });
  });

  it('resolves with the results in input order even when items finish out of order', async () => {
    const results = await ex.map(
      async (x: number) => {
        await turns(10 - x);
        return x * x;
      },
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    expect(results).to.deep.equal([0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
  });

  it('streams results in input order through for await', async () => {
    const seen: number[] = [];
    for await (const value of ex.map(
      async (x: number) => {
        await turns(x % 3);
        return x + 100;
      },
      [1, 2, 3, 4, 5],
    )) {
      seen.push(value);
    }
    expect(seen).to.deep.equal([101, 102, 103, 104, 105]);
  });

  it('resolves an empty input with an empty array', async () => {
    expect(await ex.map((x: number) => x, [])).to.deep.equal([]);
  });

  it('sends chunksize items per unit of work', async () => {
    const results = await ex.map((x: number) => x * 2, [1, 2, 3, 4, 5, 6, 7], { chunksize: 3 });
    expect(results).to.deep.equal([2, 4, 6, 8, 10, 12, 14]);
    expect(ex.chunks).to.deep.equal([[1, 2, 3], [4, 5, 6], [7]]);
  });

  it('reads an array in slices of chunksize, joining many chunks in order', async () => {
    const input = Array.from({ length: 10_000 }, (_, i) => i);
    const results = await ex.map((x: number) => x + 1, input, { chunksize: 7 });
    expect(results).to.deep.equal(input.map((x) => x + 1));
    expect(ex.chunks).to.have.length(Math.ceil(10_000 / 7));
    expect(ex.chunks.every((chunk, i) => chunk[0] === i * 7)).to.equal(true);
  });

  it('sees items appended to an input array while the map reads it, like the array iterator', async () => {
    const input = [1, 2, 3];
    const seen: number[] = [];
    for await (const value of ex.map((x: number) => x, input, { chunksize: 1, buffersize: 1 })) {
      seen.push(value);
      if (value === 1) input.push(4);
    }
    expect(seen).to.deep.equal([1, 2, 3, 4]);
  });

  it('reads an array with a custom iterator through that iterator', async () => {
    class Reversed extends Array<number> {
      override *[Symbol.iterator](): ArrayIterator<number> {
        for (let i = this.length - 1; i >= 0; i--) yield this[i]!;
      }
    }
    const input = Reversed.from([1, 2, 3]) as Reversed;
    expect(await ex.map((x: number) => x * 10, input, { chunksize: 2 })).to.deep.equal([
      30, 20, 10,
    ]);
  });

  it('consumes an endless generator lazily within buffersize', async () => {
    const pulled: number[] = [];
    const seen: number[] = [];
    for await (const value of ex.map((x: number) => x * 10, naturals(pulled), { buffersize: 4 })) {
      seen.push(value);
      // Never more than buffersize items read beyond what was handed out.
      expect(pulled.length - seen.length).to.be.at.most(4);
      if (seen.length === 20) break;
    }
    expect(seen).to.deep.equal(Array.from({ length: 20 }, (_, i) => i * 10));
  });

  it('reads an async iterable input', async () => {
    async function* source(): AsyncGenerator<number> {
      for (let i = 0; i < 5; i++) {
        await turns(1);
        yield i;
      }
    }
    expect(await ex.map((x: number) => -x, source(), { chunksize: 2 })).to.deep.equal([
      -0, -1, -2, -3, -4,
    ]);
  });

  it('closes the input and cancels the rest when the loop breaks early', async () => {
    let closed = false;
    const ran: number[] = [];
    function* source(): Generator<number> {
      try {
        yield* naturals();
      } finally {
        closed = true;
      }
    }
    const single = new InlineExecutor(1);
    try {
      for await (const value of single.map(
        (x: number) => {
          ran.push(x);
          return x;
        },
        source(),
        { buffersize: 5 },
      )) {
        if (value === 2) break;
      }
      expect(closed).to.equal(true);
      await turns(5);
      // The one worker may have started item 3 before the loop saw item 2;
      // everything queued behind it was cancelled, not run.
      expect(ran.slice(0, 3)).to.deep.equal([0, 1, 2]);
      expect(Math.max(...ran)).to.be.at.most(3);
    } finally {
      await single.shutdown();
    }
  });

  it('rejects with the first failing item in input order after yielding the items before it', async () => {
    const seen: number[] = [];
    const run = ex.map(
      async (x: number) => {
        // Item 7 fails first in time; item 3 is first in input order.
        await turns(x === 7 ? 0 : 5);
        if (x === 3 || x === 7) throw new Error(`item ${x}`);
        return x;
      },
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      { buffersize: 100 },
    );
    let caught: unknown;
    try {
      for await (const value of run) seen.push(value);
    } catch (error) {
      caught = error;
    }
    expect(seen).to.deep.equal([0, 1, 2]);
    expect(caught).to.be.instanceOf(Error).with.property('message', 'item 3');
  });

  it('rejects the awaited array with the first failing item', async () => {
    let error: unknown;
    try {
      await ex.map(
        (x: number) => {
          if (x >= 2) throw new RangeError(`bad ${x}`);
          return x;
        },
        [0, 1, 2, 3],
      );
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(RangeError).with.property('message', 'bad 2');
  });

  it('keeps values before the failing item of the same chunk', async () => {
    const seen: number[] = [];
    let caught: unknown;
    try {
      for await (const value of ex.map(
        (x: number) => {
          if (x === 4) throw new Error('four');
          return x;
        },
        [1, 2, 3, 4, 5, 6],
        { chunksize: 3 },
      )) {
        seen.push(value);
      }
    } catch (error) {
      caught = error;
    }
    expect(seen).to.deep.equal([1, 2, 3]);
    expect(caught).to.have.property('message', 'four');
  });

  it('treats a falsy thrown value as a failure', async () => {
    let caught: unknown = 'not thrown';
    try {
      await ex.map(
        (x: number) => {
          if (x === 1) throw 0;
          return x;
        },
        [0, 1, 2],
      );
    } catch (error) {
      caught = error;
    }
    expect(caught).to.equal(0);
  });

  it('cancels the items after a failure as soon as it is known', async () => {
    const single = new InlineExecutor(1);
    const ran: number[] = [];
    try {
      let caught: unknown;
      try {
        await single.map(
          (x: number) => {
            ran.push(x);
            if (x === 0) throw new Error('first');
            return x;
          },
          [0, 1, 2, 3, 4, 5],
          { buffersize: 6 },
        );
      } catch (error) {
        caught = error;
      }
      expect(caught).to.have.property('message', 'first');
      await turns(5);
      expect(ran).to.deep.equal([0]);
    } finally {
      await single.shutdown();
    }
  });

  it('rejects with the error the input throws, after the items before it', async () => {
    function* source(): Generator<number> {
      yield 1;
      yield 2;
      throw new SyntaxError('bad input');
    }
    const seen: number[] = [];
    let caught: unknown;
    try {
      for await (const value of ex.map((x: number) => x, source())) seen.push(value);
    } catch (error) {
      caught = error;
    }
    expect(seen).to.deep.equal([1, 2]);
    expect(caught).to.be.instanceOf(SyntaxError);
  });

  it('rejects with TimeoutError when the whole map outlives its timeout, after the finished items', async () => {
    const blocker = gate();
    const seen: number[] = [];
    let caught: unknown;
    try {
      for await (const value of ex.map(
        async (x: number) => {
          if (x === 2) await blocker.wait;
          return x;
        },
        [0, 1, 2, 3],
        { timeout: 50 },
      )) {
        seen.push(value);
      }
    } catch (error) {
      caught = error;
    } finally {
      blocker.open();
    }
    expect(seen).to.deep.equal([0, 1]);
    expect(caught).to.be.instanceOf(TimeoutError);
  });

  it('measures the map timeout from the call: a zero timeout expires before any result', async () => {
    let caught: unknown;
    try {
      await ex.map((x: number) => x, [1, 2], { timeout: 0 });
    } catch (error) {
      caught = error;
    }
    expect(caught).to.be.instanceOf(TimeoutError);
  });

  it('rejects with the signal reason when its signal aborts', async () => {
    const controller = new AbortController();
    const blocker = gate();
    const run = ex.map(
      async (x: number) => {
        if (x === 1) {
          controller.abort(new Error('stop now'));
          await blocker.wait;
        }
        return x;
      },
      [0, 1, 2],
      { signal: controller.signal },
    );
    let caught: unknown;
    try {
      await run;
    } catch (error) {
      caught = error;
    } finally {
      blocker.open();
    }
    expect(caught).to.be.instanceOf(Error).with.property('message', 'stop now');
  });

  it('refuses to be both iterated and awaited', async () => {
    const run = ex.map((x: number) => x, [1, 2, 3]);
    await run.next();
    let caught: unknown;
    try {
      await run;
    } catch (error) {
      caught = error;
    }
    expect(caught).to.be.instanceOf(TypeError);
    await run.return();
  });

  it('does not cause an unhandled rejection when a failing map is never consumed', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      ex.map(
        (_x: number) => {
          throw new Error('nobody listens');
        },
        [1, 2],
      );
      await turns(10);
      expect(unhandled).to.deep.equal([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  describe('validates its options at once', () => {
    const cases: Array<[string, Record<string, unknown>, unknown, RegExp]> = [
      ['chunksize 0', { chunksize: 0 }, ArgumentRangeError, /`chunksize`.*>= 1.*`0` \(number\)/],
      ['chunksize 1.5', { chunksize: 1.5 }, ArgumentRangeError, /`chunksize`/],
      ['chunksize "2"', { chunksize: '2' }, ArgumentTypeError, /`chunksize`.*'2'.*\(string\)/],
      ['buffersize 0', { buffersize: 0 }, ArgumentRangeError, /`buffersize`/],
      ['timeout -1', { timeout: -1 }, ArgumentRangeError, /`timeout`.*`-1` \(number\)/],
      ['timeout NaN', { timeout: Number.NaN }, ArgumentRangeError, /`timeout`/],
      ['timeout "1"', { timeout: '1' }, ArgumentTypeError, /`timeout`/],
      ['signal {}', { signal: {} }, ArgumentTypeError, /`signal`/],
    ];
    for (const [label, options, cls, message] of cases) {
      it(`throws for ${label}`, () => {
        expect(() => ex.map((x: number) => x, [1], options)).to.throw(
          cls as new () => Error,
          message,
        );
      });
    }

    it('throws a TypeError for an input that is not iterable', () => {
      expect(() => ex.map((x: number) => x, 5 as unknown as number[])).to.throw(
        ArgumentTypeError,
        /`iterable`/,
      );
    });

    it('throws a TypeError for something that is not a function', () => {
      expect(() => ex.map(42 as unknown as (x: number) => number, [1])).to.throw(TypeError, /`fn`/);
    });
  });
});

describe('Executor shutdown state (transport-independent)', () => {
  it('throws ExecutorShutdownError synchronously from submit and map after shutdown', async () => {
    const ex = new InlineExecutor();
    await ex.shutdown();
    expect(() => ex.submit(() => 1)).to.throw(ExecutorShutdownError, /submit/);
    expect(() => ex.map((x: number) => x, [1])).to.throw(ExecutorShutdownError, /map/);
    expect(new ExecutorShutdownError().code).to.equal('ERR_EXECUTOR_SHUTDOWN');
  });

  it('can be shut down twice', async () => {
    const ex = new InlineExecutor();
    const f = ex.submit(() => 7);
    await ex.shutdown();
    await ex.shutdown();
    expect(await f).to.equal(7);
  });

  it('waits for running tasks and lets queued ones finish by default', async () => {
    const ex = new InlineExecutor(1);
    const futures = [1, 2, 3].map((x) => ex.submit(async () => x));
    await ex.shutdown({ wait: true });
    expect(futures.map((f) => f.state)).to.deep.equal(['finished', 'finished', 'finished']);
  });

  it('cancels pending tasks with cancelFutures', async () => {
    const ex = new InlineExecutor(1);
    const futures = [1, 2, 3].map((x) => ex.submit(async () => x));
    await turns(0);
    await ex.shutdown({ cancelFutures: true });
    expect(futures[0]!.state).to.equal('finished');
    expect(futures[1]!.cancelled()).to.equal(true);
    expect(futures[2]!.cancelled()).to.equal(true);
    let caught: unknown;
    try {
      await futures[2];
    } catch (error) {
      caught = error;
    }
    expect(caught).to.be.instanceOf(CancelledError);
  });

  it('returns at once without waiting when wait is false', async () => {
    const ex = new InlineExecutor(1);
    const blocker = gate();
    const f = ex.submit(() => blocker.wait.then(() => 'late'));
    await ex.shutdown({ wait: false });
    expect(f.done()).to.equal(false);
    blocker.open();
    expect(await f).to.equal('late');
    await ex.shutdown();
  });

  it('supports await using through Symbol.asyncDispose', async () => {
    let f: PromiseLike<number> | undefined;
    {
      await using ex = new InlineExecutor();
      f = ex.submit(() => 5);
    }
    expect(await f).to.equal(5);
  });

  it('rejects bad shutdown options', async () => {
    const ex = new InlineExecutor();
    let caught: unknown;
    try {
      await ex.shutdown({ wait: 'yes' as unknown as boolean });
    } catch (error) {
      caught = error;
    }
    expect(caught).to.be.instanceOf(ArgumentTypeError);
    await ex.shutdown();
  });
});
