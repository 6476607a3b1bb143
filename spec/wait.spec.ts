/**
 * Behaviour of `wait()`, ported from CPython's
 * Lib/test/test_concurrent_futures/test_wait.py. Futures are completed from
 * setImmediate/setTimeout after the wait has started, and each test sequences
 * on events rather than on elapsed time.
 *
 * Deliberate difference from CPython: a future cancelled with cancel() counts
 * as done at once, before the executor calls setRunningOrNotifyCancel().
 */
import { expect } from 'chai';
import {
  ALL_COMPLETED,
  ArgumentRangeError,
  ArgumentTypeError,
  FIRST_COMPLETED,
  FIRST_EXCEPTION,
  type Future,
  type ReturnWhen,
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

/** Asserts that `set` is a Set holding exactly `members` (by identity). */
function expectExactly(set: Set<AnyFuture>, members: AnyFuture[]): void {
  expect(set).to.be.instanceOf(Set);
  expect(set.size).to.equal(members.length);
  for (const member of members) {
    expect(set.has(member), `missing ${member}`).to.equal(true);
  }
}

const RETURN_WHENS: readonly ReturnWhen[] = [FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED];

describe('wait()', () => {
  it('the returnWhen constants are the strings FIRST_COMPLETED, FIRST_EXCEPTION and ALL_COMPLETED', () => {
    expect(FIRST_COMPLETED).to.equal('FIRST_COMPLETED');
    expect(FIRST_EXCEPTION).to.equal('FIRST_EXCEPTION');
    expect(ALL_COMPLETED).to.equal('ALL_COMPLETED');
  });

  describe('with FIRST_COMPLETED', () => {
    it('returns as soon as one future completes, leaving the others not done', async () => {
      const first = pendingFuture();
      const second = runningFuture();
      const outcome = track(wait([first, second], { returnWhen: FIRST_COMPLETED }));
      await macrotasks();
      expect(outcome.settled).to.equal(false);
      setImmediate(() => first.setResult(42));
      await outcome.promise;
      expectExactly(outcome.value!.done, [first]);
      expectExactly(outcome.value!.notDone, [second]);
    });

    it('returns at once with every future that is already done', async () => {
      const notified = cancelledAndNotifiedFuture();
      const successful = successfulFuture();
      const pending = pendingFuture();
      const { done, notDone } = await wait([notified, successful, pending], {
        returnWhen: FIRST_COMPLETED,
      });
      expectExactly(done, [notified, successful]);
      expectExactly(notDone, [pending]);
    });

    it('counts a future cancelled with cancel() as done at once, before the executor is notified', async () => {
      const cancelled = cancelledFuture();
      const pending = pendingFuture();
      const { done, notDone } = await wait([cancelled, pending], { returnWhen: FIRST_COMPLETED });
      expectExactly(done, [cancelled]);
      expectExactly(notDone, [pending]);
      expect(cancelled.setRunningOrNotifyCancel()).to.equal(false);
    });

    it('wakes when a waited-on future is cancelled, and a later notification does not re-run callbacks', async () => {
      const target = pendingFuture();
      const other = pendingFuture();
      let callbacks = 0;
      target.addDoneCallback(() => {
        callbacks += 1;
      });
      const outcome = track(wait([target, other], { returnWhen: FIRST_COMPLETED }));
      setImmediate(() => target.cancel());
      await outcome.promise;
      expectExactly(outcome.value!.done, [target]);
      expectExactly(outcome.value!.notDone, [other]);
      expect(target.setRunningOrNotifyCancel()).to.equal(false);
      expect(callbacks).to.equal(1);
    });

    it('wakes when a waited-on future fails', async () => {
      const failing = runningFuture();
      const other = pendingFuture();
      const outcome = track(wait([failing, other], { returnWhen: FIRST_COMPLETED }));
      setImmediate(() => failing.setException(new FixtureError('x')));
      await outcome.promise;
      expectExactly(outcome.value!.done, [failing]);
      expectExactly(outcome.value!.notDone, [other]);
    });

    it('does not wake when a waited-on future merely starts running', async () => {
      const future = pendingFuture();
      const outcome = track(wait([future], { returnWhen: FIRST_COMPLETED }));
      setImmediate(() => future.setRunningOrNotifyCancel());
      await macrotasks(3);
      expect(outcome.settled).to.equal(false);
      future.setResult(1);
      await outcome.promise;
      expectExactly(outcome.value!.done, [future]);
    });
  });

  describe('with FIRST_EXCEPTION', () => {
    it('returns when a future fails, not when another one succeeds', async () => {
      const succeeds = pendingFuture();
      const fails = pendingFuture();
      const never = pendingFuture();
      const outcome = track(wait([succeeds, fails, never], { returnWhen: FIRST_EXCEPTION }));
      setImmediate(() => succeeds.setResult(42));
      await macrotasks(3);
      expect(succeeds.done()).to.equal(true);
      expect(outcome.settled).to.equal(false);
      setImmediate(() => fails.setException(new FixtureError('this is an exception')));
      await outcome.promise;
      expectExactly(outcome.value!.done, [succeeds, fails]);
      expectExactly(outcome.value!.notDone, [never]);
    });

    it('counts already-done futures, cancelled ones included, as done but waits for a failure', async () => {
      const successful = successfulFuture();
      const cancelled = cancelledFuture();
      const notified = cancelledAndNotifiedFuture();
      const fails = runningFuture();
      const never = pendingFuture();
      const outcome = track(
        wait([successful, cancelled, notified, fails, never], { returnWhen: FIRST_EXCEPTION }),
      );
      await macrotasks();
      expect(outcome.settled).to.equal(false);
      setImmediate(() => fails.setException(new FixtureError('division by zero')));
      await outcome.promise;
      expectExactly(outcome.value!.done, [successful, cancelled, notified, fails]);
      expectExactly(outcome.value!.notDone, [never]);
    });

    it('returns at once when a future has already failed', async () => {
      const failed = exceptionFuture();
      const pending = pendingFuture();
      const { done, notDone } = await wait([failed, pending], { returnWhen: FIRST_EXCEPTION });
      expectExactly(done, [failed]);
      expectExactly(notDone, [pending]);
    });

    it('does not treat a cancellation as a failure', async () => {
      const cancelledLater = pendingFuture();
      const other = pendingFuture();
      const outcome = track(wait([cancelledLater, other], { returnWhen: FIRST_EXCEPTION }));
      setImmediate(() => cancelledLater.cancel());
      await macrotasks(3);
      expect(cancelledLater.cancelled()).to.equal(true);
      expect(outcome.settled).to.equal(false);
      setImmediate(() => other.setResult(1));
      await outcome.promise;
      expectExactly(outcome.value!.done, [cancelledLater, other]);
      expectExactly(outcome.value!.notDone, []);
    });

    it('behaves like ALL_COMPLETED when no future fails', async () => {
      const a = pendingFuture();
      const b = runningFuture();
      const outcome = track(wait([a, b], { returnWhen: FIRST_EXCEPTION }));
      setImmediate(() => a.setResult('a'));
      await macrotasks(3);
      expect(outcome.settled).to.equal(false);
      setImmediate(() => b.setResult('b'));
      await outcome.promise;
      expectExactly(outcome.value!.done, [a, b]);
      expectExactly(outcome.value!.notDone, []);
    });

    it('returns at once when every future is already done and none failed', async () => {
      const successful = successfulFuture();
      const cancelled = cancelledFuture();
      const { done, notDone } = await wait([successful, cancelled], {
        returnWhen: FIRST_EXCEPTION,
      });
      expectExactly(done, [successful, cancelled]);
      expectExactly(notDone, []);
    });

    for (const value of [0, '', null, undefined]) {
      const label = value === '' ? "''" : String(value);

      it(`treats a future that fails with ${label} as a failure`, async () => {
        const fails = pendingFuture();
        const never = pendingFuture();
        const outcome = track(wait([fails, never], { returnWhen: FIRST_EXCEPTION }));
        setImmediate(() => fails.setException(value));
        await outcome.promise;
        expectExactly(outcome.value!.done, [fails]);
        expectExactly(outcome.value!.notDone, [never]);
      });

      it(`returns at once for a future that already failed with ${label}`, async () => {
        const failed = exceptionFuture(value);
        const never = pendingFuture();
        const { done, notDone } = await wait([failed, never], { returnWhen: FIRST_EXCEPTION });
        expectExactly(done, [failed]);
        expectExactly(notDone, [never]);
      });
    }
  });

  describe('with ALL_COMPLETED', () => {
    it('returns once every future is done, whatever the outcome', async () => {
      const successful = successfulFuture();
      const notified = cancelledAndNotifiedFuture();
      const failed = exceptionFuture();
      const failsLater = runningFuture();
      const succeedsLater = pendingFuture();
      const outcome = track(
        wait([successful, notified, failed, failsLater, succeedsLater], {
          returnWhen: ALL_COMPLETED,
        }),
      );
      setImmediate(() => failsLater.setException(new FixtureError('division by zero')));
      await macrotasks(3);
      expect(failsLater.done()).to.equal(true);
      expect(outcome.settled).to.equal(false);
      setImmediate(() => succeedsLater.setResult(42));
      await outcome.promise;
      expectExactly(outcome.value!.done, [successful, notified, failed, failsLater, succeedsLater]);
      expectExactly(outcome.value!.notDone, []);
    });

    it('is the default when no returnWhen is given', async () => {
      const a = pendingFuture();
      const b = pendingFuture();
      const outcome = track(wait([a, b]));
      setImmediate(() => a.setResult(1));
      await macrotasks(3);
      expect(outcome.settled).to.equal(false);
      setImmediate(() => b.cancel());
      await outcome.promise;
      expectExactly(outcome.value!.done, [a, b]);
      expectExactly(outcome.value!.notDone, []);
    });

    it('returns at once when every future is already done', async () => {
      const futures = [successfulFuture(), exceptionFuture(), cancelledFuture()];
      const { done, notDone } = await wait(futures, { returnWhen: ALL_COMPLETED });
      expectExactly(done, futures);
      expectExactly(notDone, []);
    });

    it('returns once a hundred futures completed in the same tick are all done', async () => {
      const futures = Array.from({ length: 100 }, (_, i) =>
        i % 2 === 0 ? pendingFuture() : runningFuture(),
      );
      const outcome = track(wait(futures, { returnWhen: ALL_COMPLETED }));
      setImmediate(() => {
        for (const [i, future] of futures.entries()) {
          if (i % 3 === 0) future.setException(new FixtureError(`#${i}`));
          else future.setResult(i);
        }
      });
      await outcome.promise;
      expectExactly(outcome.value!.done, futures);
      expectExactly(outcome.value!.notDone, []);
    });

    it('wakes on a completion scheduled with setTimeout', async () => {
      const future = pendingFuture();
      setTimeout(() => future.setResult('from a timer'), 20);
      const { done, notDone } = await wait([future]);
      expectExactly(done, [future]);
      expectExactly(notDone, []);
    });
  });

  describe('with a timeout', () => {
    it('resolves with what is done so far when the timeout passes', async () => {
      const notified = cancelledAndNotifiedFuture();
      const failed = exceptionFuture();
      const successful = successfulFuture();
      const pending = pendingFuture();
      const { done, notDone } = await wait([notified, failed, successful, pending], {
        timeout: 50,
        returnWhen: ALL_COMPLETED,
      });
      expectExactly(done, [notified, failed, successful]);
      expectExactly(notDone, [pending]);
    });

    it('leaves the unfinished futures untouched when the timeout passes', async () => {
      const pending = pendingFuture();
      const running = runningFuture();
      const { notDone } = await wait([pending, running], { timeout: 10 });
      expectExactly(notDone, [pending, running]);
      expect(pending.state).to.equal('pending');
      expect(running.state).to.equal('running');
      pending.setResult(1);
      expect(await pending.result()).to.equal(1);
    });

    for (const returnWhen of RETURN_WHENS) {
      it(`a zero timeout with ${returnWhen} polls: it resolves at once with the current split`, async () => {
        const successful = successfulFuture();
        const pending = pendingFuture();
        const { done, notDone } = await wait([successful, pending], { timeout: 0, returnWhen });
        expectExactly(done, [successful]);
        expectExactly(notDone, [pending]);
      });
    }

    it('does not resolve before the timeout has elapsed', async () => {
      const pending = pendingFuture();
      const started = performance.now();
      const outcome = track(wait([pending], { timeout: 100 }));
      await macrotasks();
      expect(outcome.settled).to.equal(false);
      await outcome.promise;
      expectExactly(outcome.value!.notDone, [pending]);
      // Generous lower bound: timers never fire meaningfully early.
      expect(performance.now() - started).to.be.at.least(50);
    });

    it('resolves as soon as the futures complete, well before a long timeout', async () => {
      const a = pendingFuture();
      const b = pendingFuture();
      const outcome = track(wait([a, b], { timeout: 60_000 }));
      setImmediate(() => {
        a.setResult(1);
        b.setResult(2);
      });
      await outcome.promise;
      expectExactly(outcome.value!.done, [a, b]);
      expectExactly(outcome.value!.notDone, []);
    });

    it('leaves no timer running once it resolved before its timeout', async () => {
      const future = pendingFuture();
      await macrotasks(1); // mocha's own timeout timer is armed by now
      const before = activeTimerCount();
      const outcome = track(wait([future], { timeout: 60_000 }));
      setImmediate(() => future.setResult(1));
      await outcome.promise;
      await macrotasks();
      expect(activeTimerCount()).to.be.at.most(before);
    });
  });

  describe('inputs', () => {
    it('counts a future passed twice once', async () => {
      const future = pendingFuture();
      const outcome = track(wait([future, future], { returnWhen: ALL_COMPLETED }));
      setImmediate(() => future.setResult(2));
      await outcome.promise;
      expectExactly(outcome.value!.done, [future]);
      expectExactly(outcome.value!.notDone, []);
    });

    it('counts duplicates once in both the done and the not-done set', async () => {
      const done1 = successfulFuture();
      const pending = pendingFuture();
      const { done, notDone } = await wait([done1, pending, done1, pending], { timeout: 0 });
      expectExactly(done, [done1]);
      expectExactly(notDone, [pending]);
    });

    for (const returnWhen of RETURN_WHENS) {
      it(`resolves at once with two empty sets for an empty input with ${returnWhen}`, async () => {
        const { done, notDone } = await wait([], { returnWhen });
        expectExactly(done, []);
        expectExactly(notDone, []);
      });
    }

    it('accepts a Set and a generator as the iterable of futures', async () => {
      const a = successfulFuture();
      const b = exceptionFuture();
      const fromSet = await wait(new Set<AnyFuture>([a, b]));
      expectExactly(fromSet.done, [a, b]);
      function* generate(): Generator<AnyFuture> {
        yield a;
        yield b;
      }
      const fromGenerator = await wait(generate());
      expectExactly(fromGenerator.done, [a, b]);
    });

    it('returns fresh sets that do not change after it resolved', async () => {
      const early = pendingFuture();
      const late = pendingFuture();
      const outcome = track(wait([early, late], { returnWhen: FIRST_COMPLETED }));
      setImmediate(() => early.setResult(1));
      await outcome.promise;
      late.setResult(2);
      await macrotasks();
      expectExactly(outcome.value!.done, [early]);
      expectExactly(outcome.value!.notDone, [late]);
    });
  });

  describe('waking without polling', () => {
    it('holds no timer while it waits without a timeout', async () => {
      const future = pendingFuture();
      await macrotasks(1); // mocha's own timeout timer is armed by now
      const before = activeTimerCount();
      const outcome = track(wait([future]));
      await macrotasks(3);
      expect(outcome.settled).to.equal(false);
      expect(activeTimerCount()).to.be.at.most(before);
      future.setResult(1);
      await outcome.promise;
      expectExactly(outcome.value!.done, [future]);
    });

    it('wakes on the completion itself, before any later-scheduled timer', async () => {
      const future = pendingFuture();
      const order: string[] = [];
      const waiting = wait([future]).then(() => order.push('wait resolved'));
      setImmediate(() => {
        future.setResult(1);
        setTimeout(() => order.push('timer'), 0);
      });
      await waiting;
      await sleep(5);
      expect(order).to.deep.equal(['wait resolved', 'timer']);
    });
  });

  describe('option validation', () => {
    it('rejects a negative timeout with an ArgumentRangeError naming timeout', async () => {
      const error = await failureOf(() => wait([pendingFuture()], { timeout: -5 }));
      expect(error).to.be.instanceOf(ArgumentRangeError);
      expect((error as ArgumentRangeError).code).to.equal('ERR_OUT_OF_RANGE');
      expect((error as Error).message).to.contain('timeout');
    });

    it('rejects a NaN timeout with an ArgumentRangeError naming timeout', async () => {
      const error = await failureOf(() => wait([pendingFuture()], { timeout: Number.NaN }));
      expect(error).to.be.instanceOf(ArgumentRangeError);
      expect((error as Error).message).to.contain('timeout');
    });

    it('rejects a string timeout with an ArgumentTypeError naming timeout', async () => {
      const error = await failureOf(() =>
        wait([pendingFuture()], { timeout: '5' as unknown as number }),
      );
      expect(error).to.be.instanceOf(ArgumentTypeError);
      expect((error as ArgumentTypeError).code).to.equal('ERR_INVALID_ARG_TYPE');
      expect((error as Error).message).to.contain('timeout');
    });

    it('rejects an unknown returnWhen with an ArgumentRangeError naming returnWhen', async () => {
      const error = await failureOf(() =>
        wait([pendingFuture()], { returnWhen: 'SOMETIMES' as ReturnWhen }),
      );
      expect(error).to.be.instanceOf(ArgumentRangeError);
      expect((error as Error).message).to.contain('returnWhen');
    });
  });

  describe('unhandled rejections', () => {
    it('waiting on futures that fail or get cancelled causes no unhandledRejection', async () => {
      const watch = watchUnhandledRejections();
      try {
        const fails = pendingFuture();
        const cancelled = pendingFuture();
        const outcome = track(wait([fails, cancelled, exceptionFuture(undefined)]));
        setImmediate(() => {
          fails.setException(new FixtureError('unobserved'));
          cancelled.cancel();
        });
        await outcome.promise;
        expect(outcome.fulfilled).to.equal(true);
        await macrotasks(2);
        expect(watch.reasons).to.deep.equal([]);
      } finally {
        watch.stop();
      }
    });

    it('a wait that timed out causes no unhandledRejection when its futures fail later', async () => {
      const watch = watchUnhandledRejections();
      try {
        const future = pendingFuture();
        await wait([future], { timeout: 0 });
        future.setException(new FixtureError('after the wait'));
        await macrotasks(2);
        expect(watch.reasons).to.deep.equal([]);
      } finally {
        watch.stop();
      }
    });
  });
});
