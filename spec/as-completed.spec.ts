/**
 * Behaviour of `asCompleted()`, ported from CPython's
 * Lib/test/test_concurrent_futures/test_as_completed.py and extended to the
 * async-iterator API: ordering, duplicates, timeouts measured from the call,
 * leaving the loop early, and rejection hygiene.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect } from 'chai';
import {
  ArgumentRangeError,
  ArgumentTypeError,
  asCompleted,
  Future,
  TimeoutError,
  wait,
} from '../lib/index.js';
import {
  activeTimerCount,
  cancelledAndNotifiedFuture,
  cancelledFuture,
  exceptionFuture,
  FixtureError,
  failureOf,
  macrotasks,
  pendingFuture,
  runningFuture,
  sleep,
  successfulFuture,
  track,
  watchUnhandledRejections,
} from './support/futures.js';

type AnyFuture = Future<unknown>;

/** A forced full garbage collection (V8's `gc`, exposed for a fresh context). */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

interface Drained {
  /** Every future yielded, in order. */
  yielded: AnyFuture[];
  /** What the iteration threw, if it threw. */
  error: unknown;
  threw: boolean;
}

/** Iterates to the end (or the first error), recording what was yielded. */
async function drain(iterable: AsyncIterable<AnyFuture>): Promise<Drained> {
  const drained: Drained = { yielded: [], error: undefined, threw: false };
  try {
    // TypeScript types a for-await variable as Awaited<T>, which for a
    // (thenable) Future is its value type; at runtime it is the Future itself.
    for await (const future of iterable) drained.yielded.push(future as unknown as AnyFuture);
  } catch (error) {
    drained.error = error;
    drained.threw = true;
  }
  return drained;
}

function expectTimedOut(error: unknown): void {
  expect(error).to.be.instanceOf(TimeoutError);
  expect((error as TimeoutError).code).to.equal('ERR_FUTURE_TIMEOUT');
}

/** Asserts identity-wise that `actual` holds exactly `members`, in any order. */
function expectSameMembers(actual: AnyFuture[], members: AnyFuture[]): void {
  expect(actual).to.have.length(members.length);
  for (const member of members) {
    expect(actual.includes(member), `missing ${member}`).to.equal(true);
  }
}

describe('asCompleted()', () => {
  describe('without a timeout', () => {
    it('yields every future once, those already done and those completing later', async () => {
      const notified = cancelledAndNotifiedFuture();
      const failed = exceptionFuture();
      const successful = successfulFuture();
      const first = pendingFuture();
      const second = runningFuture();
      const draining = drain(asCompleted([notified, failed, successful, first, second]));
      setImmediate(() => {
        first.setResult(42);
        setImmediate(() => second.setResult(42));
      });
      const { yielded, threw } = await draining;
      expect(threw).to.equal(false);
      expectSameMembers(yielded, [notified, failed, successful, first, second]);
    });

    it('yields the Future objects themselves, failed and cancelled ones included, without throwing', async () => {
      const failed = exceptionFuture(new FixtureError('not thrown by the iteration'));
      const cancelled = cancelledFuture();
      const { yielded, threw } = await drain(asCompleted([failed, cancelled]));
      expect(threw).to.equal(false);
      expect(yielded).to.have.length(2);
      for (const future of yielded) expect(future).to.be.instanceOf(Future);
      expectSameMembers(yielded, [failed, cancelled]);
    });

    it('yields futures that failed with falsy values like any other', async () => {
      const futures = [0, '', null, undefined].map((value) => exceptionFuture(value));
      const { yielded, threw } = await drain(asCompleted(futures));
      expect(threw).to.equal(false);
      expect(yielded).to.deep.equal(futures);
    });

    it('yields the already-done futures first, in input order', async () => {
      const successful = successfulFuture();
      const laterA = pendingFuture();
      const failed = exceptionFuture();
      const laterB = runningFuture();
      const notified = cancelledAndNotifiedFuture();
      const iterator = asCompleted([successful, laterA, failed, laterB, notified]);
      const early: AnyFuture[] = [];
      for (let i = 0; i < 3; i += 1) {
        const step = await iterator.next();
        expect(step.done).to.equal(false);
        early.push(step.value as AnyFuture);
      }
      expect(early).to.deep.equal([successful, failed, notified]);
      expect(laterA.done()).to.equal(false);
      expect(laterB.done()).to.equal(false);
      setImmediate(() => {
        laterB.setResult('b');
        laterA.setResult('a');
      });
      const { yielded } = await drain(iterator);
      expect(yielded).to.deep.equal([laterB, laterA]);
    });

    it('yields futures in the order they complete', async () => {
      const a = pendingFuture();
      const b = pendingFuture();
      const c = runningFuture();
      const draining = drain(asCompleted([a, b, c]));
      setImmediate(() => {
        c.setResult('c');
        a.setException(new FixtureError('a'));
        b.cancel();
      });
      const { yielded, threw } = await draining;
      expect(threw).to.equal(false);
      expect(yielded).to.deep.equal([c, a, b]);
    });

    it('keeps the completion order of futures that finish between the call and the first next()', async () => {
      const a = pendingFuture();
      const b = pendingFuture();
      const iterator = asCompleted([a, b]);
      b.setResult('b');
      a.setResult('a');
      const { yielded } = await drain(iterator);
      expect(yielded).to.deep.equal([b, a]);
    });

    it('yields a future cancelled with cancel() at once, before the executor is notified', async () => {
      const cancelled = cancelledFuture();
      const pending = pendingFuture();
      const iterator = asCompleted([pending, cancelled]);
      const step = await iterator.next();
      expect(step.value).to.equal(cancelled);
      expect(cancelled.setRunningOrNotifyCancel()).to.equal(false);
      await iterator.return?.();
    });

    it('yields a future passed several times only once', async () => {
      const future = pendingFuture();
      function* repeat(): Generator<AnyFuture> {
        for (let i = 0; i < 3; i += 1) yield future;
      }
      const draining = drain(asCompleted(repeat()));
      setImmediate(() => future.setResult(1));
      const { yielded } = await draining;
      expect(yielded).to.deep.equal([future]);
    });

    it('yields an already-done future passed several times only once', async () => {
      const done = successfulFuture();
      const { yielded } = await drain(asCompleted([done, done, done]));
      expect(yielded).to.deep.equal([done]);
    });

    it('ends at once for an empty input', async () => {
      const { yielded, threw } = await drain(asCompleted([]));
      expect(threw).to.equal(false);
      expect(yielded).to.deep.equal([]);
    });

    it('is its own async iterator', () => {
      const iterator = asCompleted([successfulFuture()]);
      expect(iterator[Symbol.asyncIterator]()).to.equal(iterator);
    });

    it('holds no timer while it waits without a timeout', async () => {
      const future = pendingFuture();
      await macrotasks(1); // mocha's own timeout timer is armed by now
      const before = activeTimerCount();
      const iterator = asCompleted([future]);
      const step = track(iterator.next());
      await macrotasks(3);
      expect(step.settled).to.equal(false);
      expect(activeTimerCount()).to.be.at.most(before);
      future.setResult(1);
      await step.promise;
      expect(step.value?.value).to.equal(future);
    });

    it('two concurrent next() calls each receive a distinct future', async () => {
      const a = pendingFuture();
      const b = pendingFuture();
      const iterator = asCompleted([a, b]);
      const first = track(iterator.next());
      const second = track(iterator.next());
      setImmediate(() => {
        a.setResult('a');
        b.setResult('b');
      });
      // Bounded so that a lost wake-up fails the test instead of hanging it.
      await Promise.race([Promise.all([first.promise, second.promise]), sleep(500)]);
      expect(first.settled, 'the first next() never settled').to.equal(true);
      expect(second.settled, 'the second next() never settled').to.equal(true);
      expect([first.value?.value, second.value?.value]).to.deep.equal([a, b]);
      await iterator.return?.();
    });
    it('keeps no reference to the futures it has yielded', async () => {
      // Like CPython's test_free_reference_yielded_future: the caller drops each
      // yielded future; nothing in the iterator may keep it alive.
      const futures: AnyFuture[] = [pendingFuture(), pendingFuture(), successfulFuture()];
      const iterator = asCompleted(futures);
      const takeOne = async (): Promise<WeakRef<AnyFuture>> => {
        const step = await iterator.next();
        const future = step.value as AnyFuture;
        futures.splice(futures.indexOf(future), 1);
        return new WeakRef(future);
      };
      const refs: WeakRef<AnyFuture>[] = [];
      refs.push(await takeOne());
      while (futures.length > 0) {
        futures[0]!.setResult('test');
        refs.push(await takeOne());
      }
      expect((await iterator.next()).done).to.equal(true);
      await macrotasks(1); // WeakRef targets stay alive until the current job ends
      collectGarbage();
      expect(refs.map((ref) => ref.deref())).to.deep.equal([undefined, undefined, undefined]);
    });
  });

  describe('with a timeout', () => {
    for (const timeout of [0, 50]) {
      it(`with timeout ${timeout} it yields the done futures, then rejects with TimeoutError`, async () => {
        const notified = cancelledAndNotifiedFuture();
        const failed = exceptionFuture();
        const successful = successfulFuture();
        const slow = pendingFuture();
        const { yielded, error, threw } = await drain(
          asCompleted([notified, failed, successful, slow], { timeout }),
        );
        expectSameMembers(yielded, [notified, failed, successful]);
        expect(threw).to.equal(true);
        expectTimedOut(error);
        expect(slow.state).to.equal('pending');
      });
    }

    it('reports exactly how many futures are unfinished: "2 (of 4) futures unfinished"', async () => {
      const { error } = await drain(
        asCompleted(
          [cancelledAndNotifiedFuture(), pendingFuture(), runningFuture(), successfulFuture()],
          { timeout: 0 },
        ),
      );
      expectTimedOut(error);
      expect((error as Error).message).to.contain('2 (of 4) futures unfinished');
    });

    it('counts duplicates once in the unfinished-count message', async () => {
      const pending = pendingFuture();
      const { error } = await drain(
        asCompleted([pending, successfulFuture(), pending], { timeout: 0 }),
      );
      expect((error as Error).message).to.contain('1 (of 2) futures unfinished');
    });

    it('yields futures completing within the timeout and does not time out', async () => {
      const a = pendingFuture();
      const b = runningFuture();
      const draining = drain(asCompleted([a, b], { timeout: 60_000 }));
      setImmediate(() => {
        b.setResult('b');
        setImmediate(() => a.setResult('a'));
      });
      const { yielded, threw } = await draining;
      expect(threw).to.equal(false);
      expect(yielded).to.deep.equal([b, a]);
    });

    it('leaves no timer running once every future completed within the timeout', async () => {
      const future = pendingFuture();
      await macrotasks(1); // mocha's own timeout timer is armed by now
      const before = activeTimerCount();
      const draining = drain(asCompleted([future], { timeout: 60_000 }));
      setImmediate(() => future.setResult(1));
      await draining;
      await macrotasks();
      expect(activeTimerCount()).to.be.at.most(before);
    });

    it('measures the timeout from the call, not from the first next()', async () => {
      const pending = pendingFuture();
      const iterator = asCompleted([pending], { timeout: 400 });
      await sleep(500);
      const step = track(iterator.next());
      // Far less than a fresh 400 ms timeout: the deadline has already passed.
      await sleep(200);
      expect(step.rejected).to.equal(true);
      expectTimedOut(step.reason);
    });

    it('does not time out before the timeout has elapsed', async () => {
      const pending = pendingFuture();
      const iterator = asCompleted([pending], { timeout: 500 });
      const step = track(iterator.next());
      await macrotasks(2);
      expect(step.settled).to.equal(false);
      setImmediate(() => pending.setResult(1));
      await step.promise;
      expect(step.fulfilled).to.equal(true);
      expect(step.value?.value).to.equal(pending);
    });

    it('is finished after it rejected with TimeoutError', async () => {
      const pending = pendingFuture();
      const iterator = asCompleted([pending], { timeout: 0 });
      expectTimedOut((await failureOf(() => iterator.next())) as Error);
      const after = await iterator.next();
      expect(after.done).to.equal(true);
    });

    it('an iterator that is never iterated causes no unhandledRejection when its timeout passes', async () => {
      const watch = watchUnhandledRejections();
      try {
        asCompleted([pendingFuture()], { timeout: 5 });
        await sleep(30);
        await macrotasks(2);
        expect(watch.reasons).to.deep.equal([]);
      } finally {
        watch.stop();
      }
    });
  });

  describe('leaving the loop early', () => {
    it('breaking out leaves the remaining futures untouched and usable', async () => {
      const successful = successfulFuture();
      const pending = pendingFuture();
      const running = runningFuture();
      let callbacks = 0;
      pending.addDoneCallback(() => {
        callbacks += 1;
      });
      const iterator = asCompleted([successful, pending, running]);
      for await (const future of iterator) {
        expect(future).to.equal(successful);
        break;
      }
      expect(pending.state).to.equal('pending');
      expect(running.state).to.equal('running');
      expect((await iterator.next()).done).to.equal(true);

      // Their own callbacks still fire, and other waits over them still work.
      const later = drain(asCompleted([pending, running]));
      const waited = track(wait([pending, running]));
      setImmediate(() => {
        pending.setResult('p');
        running.setException(new FixtureError('r'));
      });
      const { yielded } = await later;
      await waited.promise;
      expect(callbacks).to.equal(1);
      expect(yielded).to.deep.equal([pending, running]);
      expect(waited.value?.done.size).to.equal(2);
    });

    it('breaking out of a loop with a timeout causes no later TimeoutError or unhandledRejection', async () => {
      const watch = watchUnhandledRejections();
      try {
        const pending = pendingFuture();
        for await (const yielded of asCompleted([successfulFuture(), pending], { timeout: 20 })) {
          const future = yielded as unknown as AnyFuture;
          expect(future).to.be.instanceOf(Future);
          expect(future.done()).to.equal(true);
          break;
        }
        await sleep(60);
        await macrotasks(2);
        expect(watch.reasons).to.deep.equal([]);
        expect(pending.state).to.equal('pending');
      } finally {
        watch.stop();
      }
    });

    it('a next() still waiting when return() is called settles instead of hanging', async () => {
      const pending = pendingFuture();
      const iterator = asCompleted([pending]);
      const step = track(iterator.next());
      await macrotasks();
      expect(step.settled).to.equal(false);
      await iterator.return?.();
      pending.setResult(1);
      await macrotasks(3);
      expect(step.fulfilled).to.equal(true);
    });

    it('a next() still waiting when return() is called is not rejected later by the timeout', async () => {
      const iterator = asCompleted([pendingFuture()], { timeout: 30 });
      const step = track(iterator.next());
      await macrotasks();
      await iterator.return?.();
      await sleep(90);
      expect(step.rejected, String(step.reason)).to.equal(false);
    });

    it('iterating futures that fail or get cancelled causes no unhandledRejection', async () => {
      const watch = watchUnhandledRejections();
      try {
        const fails = pendingFuture();
        const cancelled = pendingFuture();
        const draining = drain(asCompleted([fails, cancelled, exceptionFuture(null)]));
        setImmediate(() => {
          fails.setException(new FixtureError('unobserved'));
          cancelled.cancel();
        });
        const { yielded } = await draining;
        expect(yielded).to.have.length(3);
        await macrotasks(2);
        expect(watch.reasons).to.deep.equal([]);
      } finally {
        watch.stop();
      }
    });
  });

  describe('with { entries: true }', () => {
    it('yields [index, future] pairs, index being the position in the input', async () => {
      const done = successfulFuture();
      const later = pendingFuture();
      const failed = exceptionFuture();
      const iterator = asCompleted([later, done, failed], { entries: true });
      const pairs: Array<[number, AnyFuture]> = [];
      setImmediate(() => later.setResult('later'));
      for await (const pair of iterator) pairs.push(pair);
      expect(pairs).to.deep.equal([
        [1, done],
        [2, failed],
        [0, later],
      ]);
    });

    it('gives a future passed twice its first position, and reads a generator once', async () => {
      const a = successfulFuture();
      const b = pendingFuture();
      let pulled = 0;
      function* input(): Generator<AnyFuture> {
        for (const future of [b, a, b, a]) {
          pulled++;
          yield future;
        }
      }
      const iterator = asCompleted(input(), { entries: true });
      expect(pulled, 'the input is read at the call').to.equal(4);
      b.setResult('b');
      const pairs: Array<[number, AnyFuture]> = [];
      for await (const pair of iterator) pairs.push(pair);
      expect(pairs).to.deep.equal([
        [1, a],
        [0, b],
      ]);
      expect(pulled).to.equal(4);
    });

    it('times out like the plain iteration', async () => {
      const iterator = asCompleted([successfulFuture(), pendingFuture()], {
        entries: true,
        timeout: 0,
      });
      const first = await iterator.next();
      expect(first.done).to.equal(false);
      const error = await iterator.next().then(
        () => undefined,
        (reason: unknown) => reason,
      );
      expectTimedOut(error);
      expect((error as Error).message).to.equal('1 (of 2) futures unfinished');
    });

    it('an entries value that is not a boolean is an ArgumentTypeError naming entries', async () => {
      const error = await failureOf(() =>
        asCompleted([pendingFuture()], { entries: 1 as unknown as boolean }),
      );
      expect(error).to.be.instanceOf(ArgumentTypeError);
      expect((error as Error).message).to.match(/`entries` to be a boolean, got `?1/);
    });
  });

  describe('option validation', () => {
    it('a negative timeout fails with an ArgumentRangeError naming timeout', async () => {
      const error = await failureOf(() => asCompleted([pendingFuture()], { timeout: -1 }));
      expect(error).to.be.instanceOf(ArgumentRangeError);
      expect((error as ArgumentRangeError).code).to.equal('ERR_OUT_OF_RANGE');
      expect((error as Error).message).to.contain('timeout');
    });

    it('a NaN timeout fails with an ArgumentRangeError naming timeout', async () => {
      const error = await failureOf(() => asCompleted([pendingFuture()], { timeout: Number.NaN }));
      expect(error).to.be.instanceOf(ArgumentRangeError);
      expect((error as Error).message).to.contain('timeout');
    });

    it('a string timeout fails with an ArgumentTypeError naming timeout', async () => {
      const error = await failureOf(() =>
        asCompleted([pendingFuture()], { timeout: '1' as unknown as number }),
      );
      expect(error).to.be.instanceOf(ArgumentTypeError);
      expect((error as ArgumentTypeError).code).to.equal('ERR_INVALID_ARG_TYPE');
      expect((error as Error).message).to.contain('timeout');
    });
  });
});
