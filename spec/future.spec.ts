/**
 * Behaviour of a single Future: its state machine, result()/exception() with
 * timeouts and signals, done callbacks, the thenable protocol, falsy failures,
 * string rendering and rejection hygiene.
 *
 * Ported from the behaviours of CPython's
 * Lib/test/test_concurrent_futures/test_future.py, extended to the JS API.
 */
import { execFile } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { fileURLToPath } from 'node:url';
import { inspect, promisify } from 'node:util';
import { expect } from 'chai';
import { expectTypeOf } from 'expect-type';
import {
  ArgumentRangeError,
  ArgumentTypeError,
  CancelledError,
  Future,
  type FutureState,
  FuturesError,
  InvalidStateError,
  TimeoutError,
} from '../lib/index.js';
import {
  activeTimerCount,
  cancelledAndNotifiedFuture,
  cancelledFuture,
  captureWarnings,
  createFuture,
  exceptionFuture,
  FIXTURE_KINDS,
  FIXTURE_RESULT,
  FixtureError,
  type FixtureKind,
  failureOf,
  fixture,
  macrotasks,
  pendingFuture,
  rejectionOf,
  runningFuture,
  successfulFuture,
  thrownBy,
  track,
  watchUnhandledRejections,
} from './support/futures.js';

/** The falsy values a task can throw; each must still count as a failure. */
const execFileAsync = promisify(execFile);

const FALSY_ERRORS: readonly unknown[] = [0, '', null, undefined];

function expectInvalidState(error: unknown): void {
  expect(error).to.be.instanceOf(InvalidStateError);
  expect((error as InvalidStateError).code).to.equal('ERR_FUTURE_INVALID_STATE');
}

function expectCancelled(error: unknown): void {
  expect(error).to.be.instanceOf(CancelledError);
  expect((error as CancelledError).code).to.equal('ERR_FUTURE_CANCELLED');
}

function expectTimedOut(error: unknown): void {
  expect(error).to.be.instanceOf(TimeoutError);
  expect((error as TimeoutError).code).to.equal('ERR_FUTURE_TIMEOUT');
}

describe('Future', () => {
  describe('construction', () => {
    it('a newly constructed future is pending and not done', () => {
      const future = new Future<number>();
      expect(future.state).to.equal('pending');
      expect(future.done()).to.equal(false);
      expect(future.running()).to.equal(false);
      expect(future.cancelled()).to.equal(false);
    });

    it('the createFuture() fixture builds a successful future holding the given result', async () => {
      const future = createFuture('finished', { result: 'value' });
      expect(future.state).to.equal('finished');
      expect(await future.result()).to.equal('value');
    });
  });

  describe('state queries', () => {
    const expected: Record<
      FixtureKind,
      { state: FutureState; cancelled: boolean; running: boolean; done: boolean }
    > = {
      pending: { state: 'pending', cancelled: false, running: false, done: false },
      running: { state: 'running', cancelled: false, running: true, done: false },
      cancelled: { state: 'cancelled', cancelled: true, running: false, done: true },
      'cancelled-and-notified': { state: 'cancelled', cancelled: true, running: false, done: true },
      failed: { state: 'finished', cancelled: false, running: false, done: true },
      successful: { state: 'finished', cancelled: false, running: false, done: true },
    };

    for (const kind of FIXTURE_KINDS) {
      const want = expected[kind];
      it(`a ${kind} future has state '${want.state}'`, () => {
        expect(fixture(kind).state).to.equal(want.state);
      });
      it(`a ${kind} future ${want.cancelled ? 'is' : 'is not'} cancelled()`, () => {
        expect(fixture(kind).cancelled()).to.equal(want.cancelled);
      });
      it(`a ${kind} future ${want.running ? 'is' : 'is not'} running()`, () => {
        expect(fixture(kind).running()).to.equal(want.running);
      });
      it(`a ${kind} future ${want.done ? 'is' : 'is not'} done()`, () => {
        expect(fixture(kind).done()).to.equal(want.done);
      });
    }
  });

  describe('cancel()', () => {
    it('cancelling a pending future succeeds and makes it cancelled', () => {
      const future = pendingFuture();
      expect(future.cancel()).to.equal(true);
      expect(future.state).to.equal('cancelled');
      expect(future.cancelled()).to.equal(true);
      expect(future.done()).to.equal(true);
    });

    it('cancelling a running future fails and leaves it running', () => {
      const future = runningFuture();
      expect(future.cancel()).to.equal(false);
      expect(future.state).to.equal('running');
      expect(future.cancelled()).to.equal(false);
    });

    it('cancelling an already cancelled future reports success and keeps it cancelled', () => {
      const future = cancelledFuture();
      expect(future.cancel()).to.equal(true);
      expect(future.state).to.equal('cancelled');
    });

    it('cancelling a cancelled-and-notified future reports success and keeps it cancelled', () => {
      const future = cancelledAndNotifiedFuture();
      expect(future.cancel()).to.equal(true);
      expect(future.state).to.equal('cancelled');
    });

    it('cancelling a failed future fails and keeps its error', async () => {
      const error = new FixtureError('kept');
      const future = exceptionFuture(error);
      expect(future.cancel()).to.equal(false);
      expect(future.state).to.equal('finished');
      expect(await future.exception()).to.equal(error);
    });

    it('cancelling a successful future fails and keeps its result', async () => {
      const future = successfulFuture();
      expect(future.cancel()).to.equal(false);
      expect(future.state).to.equal('finished');
      expect(await future.result()).to.equal(FIXTURE_RESULT);
    });
  });

  describe('result()', () => {
    it('result() of a successful future resolves with its value', async () => {
      expect(await successfulFuture().result()).to.equal(FIXTURE_RESULT);
    });

    it('result() of a failed future rejects with the very same error', async () => {
      const error = new FixtureError('boom');
      expect(await rejectionOf(exceptionFuture(error).result())).to.equal(error);
    });

    it('result() of a cancelled future rejects with CancelledError', async () => {
      expectCancelled(await rejectionOf(cancelledFuture().result()));
    });

    it('result() of a cancelled-and-notified future rejects with CancelledError', async () => {
      expectCancelled(await rejectionOf(cancelledAndNotifiedFuture().result()));
    });

    it('result() of a pending future waits until setResult() is called', async () => {
      const future = pendingFuture<number>();
      const outcome = track(future.result());
      await macrotasks();
      expect(outcome.settled).to.equal(false);
      setImmediate(() => future.setResult(7));
      await outcome.promise;
      expect(outcome.fulfilled).to.equal(true);
      expect(outcome.value).to.equal(7);
    });

    it('result() of a running future waits until setException() is called', async () => {
      const future = runningFuture();
      const error = new FixtureError('late');
      const outcome = track(future.result());
      await macrotasks();
      expect(outcome.settled).to.equal(false);
      setImmediate(() => future.setException(error));
      await outcome.promise;
      expect(outcome.rejected).to.equal(true);
      expect(outcome.reason).to.equal(error);
    });

    it('result() of a pending future rejects with CancelledError once the future is cancelled', async () => {
      const future = pendingFuture();
      const outcome = track(future.result());
      await macrotasks();
      expect(outcome.settled).to.equal(false);
      setImmediate(() => future.cancel());
      await outcome.promise;
      expectCancelled(outcome.reason);
    });

    it('every concurrent result() call receives the same value', async () => {
      const future = pendingFuture<string>();
      const calls = [future.result(), future.result(), future.result()];
      setImmediate(() => future.setResult('shared'));
      expect(await Promise.all(calls)).to.deep.equal(['shared', 'shared', 'shared']);
    });

    it('result() can be called again after the future finished', async () => {
      const future = successfulFuture();
      expect(await future.result()).to.equal(FIXTURE_RESULT);
      expect(await future.result()).to.equal(FIXTURE_RESULT);
    });

    it('a CancelledError is a FuturesError and an Error', async () => {
      const error = await rejectionOf(cancelledFuture().result());
      expect(error).to.be.instanceOf(FuturesError);
      expect(error).to.be.instanceOf(Error);
    });
  });

  describe('exception()', () => {
    it('exception() of a successful future resolves with undefined', async () => {
      expect(await successfulFuture().exception()).to.equal(undefined);
    });

    it('exception() of a failed future resolves with the very same error', async () => {
      const error = new FixtureError('boom');
      expect(await exceptionFuture(error).exception()).to.equal(error);
    });

    it('exception() of a cancelled future rejects with CancelledError', async () => {
      expectCancelled(await rejectionOf(cancelledFuture().exception()));
    });

    it('exception() of a cancelled-and-notified future rejects with CancelledError', async () => {
      expectCancelled(await rejectionOf(cancelledAndNotifiedFuture().exception()));
    });

    it('exception() of a pending future waits until setException() is called', async () => {
      const future = pendingFuture();
      const error = new FixtureError('late');
      const outcome = track(future.exception());
      await macrotasks();
      expect(outcome.settled).to.equal(false);
      setImmediate(() => future.setException(error));
      await outcome.promise;
      expect(outcome.fulfilled).to.equal(true);
      expect(outcome.value).to.equal(error);
    });

    it('exception() of a running future resolves with undefined once setResult() is called', async () => {
      const future = runningFuture();
      const outcome = track(future.exception());
      await macrotasks();
      expect(outcome.settled).to.equal(false);
      setImmediate(() => future.setResult(1));
      await outcome.promise;
      expect(outcome.fulfilled).to.equal(true);
      expect(outcome.value).to.equal(undefined);
    });

    it('exception() of a pending future rejects with CancelledError once the future is cancelled', async () => {
      const future = pendingFuture();
      const outcome = track(future.exception());
      setImmediate(() => future.cancel());
      await outcome.promise;
      expectCancelled(outcome.reason);
    });

    it('exception() resolves with a CancelledError the task itself failed with', async () => {
      const error = new CancelledError('raised by the task');
      const future = exceptionFuture(error);
      expect(future.cancelled()).to.equal(false);
      expect(await future.exception()).to.equal(error);
    });
  });

  describe('result() and exception() with a timeout', () => {
    const zeroTimeoutCases: ReadonlyArray<{
      kind: FixtureKind;
      result: string;
      check: (future: Future<unknown>) => Promise<void>;
    }> = [
      {
        kind: 'pending',
        result: 'rejects with TimeoutError',
        check: async (f) => expectTimedOut(await rejectionOf(f.result({ timeout: 0 }))),
      },
      {
        kind: 'running',
        result: 'rejects with TimeoutError',
        check: async (f) => expectTimedOut(await rejectionOf(f.result({ timeout: 0 }))),
      },
      {
        kind: 'cancelled',
        result: 'rejects with CancelledError',
        check: async (f) => expectCancelled(await rejectionOf(f.result({ timeout: 0 }))),
      },
      {
        kind: 'cancelled-and-notified',
        result: 'rejects with CancelledError',
        check: async (f) => expectCancelled(await rejectionOf(f.result({ timeout: 0 }))),
      },
      {
        kind: 'failed',
        result: 'rejects with its error',
        check: async (f) => {
          const error = await rejectionOf(f.result({ timeout: 0 }));
          expect(error).to.be.instanceOf(FixtureError);
          expect(error).to.equal(await f.exception());
        },
      },
      {
        kind: 'successful',
        result: 'resolves with its value',
        check: async (f) => {
          expect(await f.result({ timeout: 0 })).to.equal(FIXTURE_RESULT);
        },
      },
    ];
    for (const { kind, result, check } of zeroTimeoutCases) {
      it(`result({ timeout: 0 }) of a ${kind} future ${result}`, async () => {
        await check(fixture(kind));
      });
    }

    const zeroTimeoutExceptionCases: ReadonlyArray<{
      kind: FixtureKind;
      result: string;
      check: (future: Future<unknown>) => Promise<void>;
    }> = [
      {
        kind: 'pending',
        result: 'rejects with TimeoutError',
        check: async (f) => expectTimedOut(await rejectionOf(f.exception({ timeout: 0 }))),
      },
      {
        kind: 'running',
        result: 'rejects with TimeoutError',
        check: async (f) => expectTimedOut(await rejectionOf(f.exception({ timeout: 0 }))),
      },
      {
        kind: 'cancelled',
        result: 'rejects with CancelledError',
        check: async (f) => expectCancelled(await rejectionOf(f.exception({ timeout: 0 }))),
      },
      {
        kind: 'cancelled-and-notified',
        result: 'rejects with CancelledError',
        check: async (f) => expectCancelled(await rejectionOf(f.exception({ timeout: 0 }))),
      },
      {
        kind: 'failed',
        result: 'resolves with its error',
        check: async (f) => {
          expect(await f.exception({ timeout: 0 })).to.be.instanceOf(FixtureError);
        },
      },
      {
        kind: 'successful',
        result: 'resolves with undefined',
        check: async (f) => {
          expect(await f.exception({ timeout: 0 })).to.equal(undefined);
        },
      },
    ];
    for (const { kind, result, check } of zeroTimeoutExceptionCases) {
      it(`exception({ timeout: 0 }) of a ${kind} future ${result}`, async () => {
        await check(fixture(kind));
      });
    }

    it('a timed-out result() leaves a pending future pending and still completable', async () => {
      const future = pendingFuture<number>();
      expectTimedOut(await rejectionOf(future.result({ timeout: 10 })));
      expect(future.state).to.equal('pending');
      expect(future.done()).to.equal(false);
      future.setResult(3);
      expect(await future.result()).to.equal(3);
    });

    it('a timed-out exception() leaves a running future running', async () => {
      const future = runningFuture();
      expectTimedOut(await rejectionOf(future.exception({ timeout: 10 })));
      expect(future.state).to.equal('running');
      expect(future.cancelled()).to.equal(false);
    });

    it('a timed-out result() does not cancel the future nor run its done callbacks', async () => {
      const future = pendingFuture();
      let calls = 0;
      future.addDoneCallback(() => {
        calls += 1;
      });
      await rejectionOf(future.result({ timeout: 5 }));
      expect(calls).to.equal(0);
      expect(future.cancel()).to.equal(true);
      expect(calls).to.equal(1);
    });

    it('result() does not time out before its timeout has elapsed', async () => {
      const future = pendingFuture();
      const started = performance.now();
      const outcome = track(future.result({ timeout: 100 }));
      await macrotasks();
      expect(outcome.settled).to.equal(false);
      await outcome.promise;
      expectTimedOut(outcome.reason);
      // Generous lower bound: timers never fire meaningfully early.
      expect(performance.now() - started).to.be.at.least(50);
    });

    it('result() resolves with the value when the future completes before the timeout', async () => {
      const future = pendingFuture<string>();
      const outcome = track(future.result({ timeout: 60_000 }));
      setImmediate(() => future.setResult('in time'));
      await outcome.promise;
      expect(outcome.value).to.equal('in time');
    });

    it('exception() resolves with the error when the future fails before the timeout', async () => {
      const future = runningFuture();
      const error = new FixtureError('in time');
      const outcome = track(future.exception({ timeout: 60_000 }));
      setImmediate(() => future.setException(error));
      await outcome.promise;
      expect(outcome.value).to.equal(error);
    });

    it('result() rejects with CancelledError when the future is cancelled before the timeout', async () => {
      const future = pendingFuture();
      const outcome = track(future.result({ timeout: 60_000 }));
      setImmediate(() => future.cancel());
      await outcome.promise;
      expectCancelled(outcome.reason);
    });

    it('a result() that completes before its timeout leaves no timer running', async () => {
      const future = pendingFuture();
      await macrotasks(1); // mocha's own timeout timer is armed by now
      const before = activeTimerCount();
      const outcome = track(future.result({ timeout: 60_000 }));
      setImmediate(() => future.setResult(1));
      await outcome.promise;
      await macrotasks();
      expect(activeTimerCount()).to.be.at.most(before);
    });

    it('a TimeoutError is a FuturesError and an Error', async () => {
      const error = await rejectionOf(pendingFuture().result({ timeout: 0 }));
      expect(error).to.be.instanceOf(FuturesError);
      expect(error).to.be.instanceOf(Error);
    });

    it('polling result({ timeout }) on one pending future leaves nothing behind per timed-out wait', async function () {
      this.timeout(60_000);
      // In a fresh process with --expose-gc, so that the heap can be measured.
      // The control in the same run (as many reactions left on a pending
      // promise) shows the measurement sees a leak of that size.
      const waits = 20_000;
      const script = fileURLToPath(
        new URL('../../spec/fixtures/trust/poll-waits.mjs', import.meta.url),
      );
      const entry = new URL('../lib/index.js', import.meta.url).href;
      const { stdout } = await execFileAsync(
        process.execPath,
        ['--expose-gc', script, entry, String(waits)],
        { timeout: 50_000 },
      );
      const report = JSON.parse(stdout) as {
        timedOut: number;
        growth: number;
        control: number;
        listeners: number;
        value: number;
        kept: number;
      };
      expect(report.timedOut, 'every wait timed out').to.equal(waits);
      expect(report.value, 'the future still settles and is seen afterwards').to.equal(42);
      expect(report.kept).to.equal(waits);
      expect(report.control, 'the control must show a leak of that size').to.be.above(1_000_000);
      expect(report.growth, JSON.stringify(report)).to.be.below(report.control / 4);
      expect(report.listeners, 'abort listeners left on the shared signal').to.equal(0);
    });
  });

  describe('result() and exception() with an AbortSignal', () => {
    it('result() rejects with signal.reason when the signal aborts first, leaving the future pending', async () => {
      const future = pendingFuture();
      const controller = new AbortController();
      const reason = new Error('stop waiting');
      const outcome = track(future.result({ signal: controller.signal }));
      await macrotasks();
      expect(outcome.settled).to.equal(false);
      setImmediate(() => controller.abort(reason));
      await outcome.promise;
      expect(outcome.reason).to.equal(reason);
      expect(future.state).to.equal('pending');
    });

    it('exception() rejects with signal.reason when the signal aborts first, leaving the future running', async () => {
      const future = runningFuture();
      const controller = new AbortController();
      const reason = new Error('stop waiting');
      const outcome = track(future.exception({ signal: controller.signal }));
      setImmediate(() => controller.abort(reason));
      await outcome.promise;
      expect(outcome.reason).to.equal(reason);
      expect(future.state).to.equal('running');
    });

    it('an abort without an explicit reason rejects with the default reason of the signal', async () => {
      const future = pendingFuture();
      const controller = new AbortController();
      const outcome = track(future.result({ signal: controller.signal }));
      controller.abort();
      await outcome.promise;
      expect(outcome.reason).to.equal(controller.signal.reason);
      expect((outcome.reason as Error).name).to.equal('AbortError');
    });

    for (const reason of [null, 0, '']) {
      it(`an abort with the falsy reason ${inspect(reason)} rejects with exactly that reason`, async () => {
        const future = pendingFuture();
        const controller = new AbortController();
        const outcome = track(future.result({ signal: controller.signal }));
        controller.abort(reason);
        await outcome.promise;
        expect(outcome.rejected).to.equal(true);
        expect(outcome.reason).to.equal(reason);
      });
    }

    it('result() with an already-aborted signal rejects at once without waiting for the future', async () => {
      const future = pendingFuture();
      const reason = new Error('already aborted');
      const outcome = track(future.result({ signal: AbortSignal.abort(reason) }));
      await macrotasks(1);
      expect(outcome.rejected).to.equal(true);
      expect(outcome.reason).to.equal(reason);
      expect(future.state).to.equal('pending');
    });

    it('exception() with an already-aborted signal rejects at once without waiting for the future', async () => {
      const future = runningFuture();
      const reason = new Error('already aborted');
      const outcome = track(future.exception({ signal: AbortSignal.abort(reason) }));
      await macrotasks(1);
      expect(outcome.rejected).to.equal(true);
      expect(outcome.reason).to.equal(reason);
    });

    it('result() resolves normally when the future completes before the signal aborts', async () => {
      const future = pendingFuture<number>();
      const controller = new AbortController();
      const outcome = track(future.result({ signal: controller.signal }));
      setImmediate(() => future.setResult(11));
      await outcome.promise;
      expect(outcome.value).to.equal(11);
      controller.abort(new Error('too late'));
      await macrotasks();
      expect(await future.result()).to.equal(11);
    });

    it('a result() that completes removes its abort listener from the signal', async () => {
      const future = pendingFuture();
      const controller = new AbortController();
      const before = getEventListeners(controller.signal, 'abort').length;
      const outcome = track(future.result({ signal: controller.signal }));
      setImmediate(() => future.setResult(1));
      await outcome.promise;
      expect(getEventListeners(controller.signal, 'abort').length).to.equal(before);
    });

    it('with a long timeout and a signal, an abort rejects with the signal reason', async () => {
      const future = pendingFuture();
      const controller = new AbortController();
      const reason = new Error('aborted first');
      const outcome = track(future.result({ timeout: 60_000, signal: controller.signal }));
      setImmediate(() => controller.abort(reason));
      await outcome.promise;
      expect(outcome.reason).to.equal(reason);
    });

    it('with a short timeout and a signal that never aborts, the wait rejects with TimeoutError', async () => {
      const future = pendingFuture();
      const controller = new AbortController();
      const error = await rejectionOf(future.result({ timeout: 5, signal: controller.signal }));
      expectTimedOut(error);
    });

    it('an aborted result() wait leaves no timer running', async () => {
      const future = pendingFuture();
      const controller = new AbortController();
      await macrotasks(1); // mocha's own timeout timer is armed by now
      const before = activeTimerCount();
      const outcome = track(future.result({ timeout: 60_000, signal: controller.signal }));
      setImmediate(() => controller.abort());
      await outcome.promise;
      await macrotasks();
      expect(activeTimerCount()).to.be.at.most(before);
    });
  });

  describe('option validation', () => {
    const methods = ['result', 'exception'] as const;
    for (const method of methods) {
      it(`${method}() with a negative timeout fails with an ArgumentRangeError naming timeout`, async () => {
        const error = await failureOf(() => pendingFuture()[method]({ timeout: -1 }));
        expect(error).to.be.instanceOf(ArgumentRangeError);
        expect(error).to.be.instanceOf(RangeError);
        expect((error as ArgumentRangeError).code).to.equal('ERR_OUT_OF_RANGE');
        expect((error as Error).message).to.contain('timeout');
      });

      it(`${method}() with a NaN timeout fails with an ArgumentRangeError naming timeout`, async () => {
        const error = await failureOf(() => pendingFuture()[method]({ timeout: Number.NaN }));
        expect(error).to.be.instanceOf(ArgumentRangeError);
        expect((error as Error).message).to.contain('timeout');
      });

      it(`${method}() with a string timeout fails with an ArgumentTypeError naming timeout`, async () => {
        const error = await failureOf(() =>
          pendingFuture()[method]({ timeout: '10' as unknown as number }),
        );
        expect(error).to.be.instanceOf(ArgumentTypeError);
        expect(error).to.be.instanceOf(TypeError);
        expect((error as ArgumentTypeError).code).to.equal('ERR_INVALID_ARG_TYPE');
        expect((error as Error).message).to.contain('timeout');
      });
    }
  });

  describe('setRunningOrNotifyCancel()', () => {
    it('on a pending future it returns true and makes the future running', () => {
      const future = pendingFuture();
      expect(future.setRunningOrNotifyCancel()).to.equal(true);
      expect(future.state).to.equal('running');
      expect(future.running()).to.equal(true);
      expect(future.done()).to.equal(false);
    });

    it('on a running future it throws InvalidStateError and the future stays running', () => {
      const future = runningFuture();
      expectInvalidState(thrownBy(() => future.setRunningOrNotifyCancel()));
      expect(future.state).to.equal('running');
    });

    it('on a cancelled future it returns false and the future stays cancelled', () => {
      const future = cancelledFuture();
      expect(future.setRunningOrNotifyCancel()).to.equal(false);
      expect(future.state).to.equal('cancelled');
      expect(future.running()).to.equal(false);
    });

    it('on a cancelled future it does not run the done callbacks again', () => {
      const future = pendingFuture();
      let calls = 0;
      future.addDoneCallback(() => {
        calls += 1;
      });
      future.cancel();
      expect(calls).to.equal(1);
      expect(future.setRunningOrNotifyCancel()).to.equal(false);
      expect(calls).to.equal(1);
    });

    it('on a cancelled-and-notified future (a second notification) it throws InvalidStateError and the future stays cancelled', () => {
      const future = cancelledAndNotifiedFuture();
      expectInvalidState(thrownBy(() => future.setRunningOrNotifyCancel()));
      expect(future.state).to.equal('cancelled');
    });

    it('on a failed future it throws InvalidStateError and the error is kept', async () => {
      const error = new FixtureError('kept');
      const future = exceptionFuture(error);
      expectInvalidState(thrownBy(() => future.setRunningOrNotifyCancel()));
      expect(future.state).to.equal('finished');
      expect(await future.exception()).to.equal(error);
    });

    it('on a successful future it throws InvalidStateError and the result is kept', async () => {
      const future = successfulFuture();
      expectInvalidState(thrownBy(() => future.setRunningOrNotifyCancel()));
      expect(future.state).to.equal('finished');
      expect(await future.result()).to.equal(FIXTURE_RESULT);
    });
  });

  describe('setResult()', () => {
    it('on a pending future it finishes the future with the value', async () => {
      const future = pendingFuture<string>();
      future.setResult('v');
      expect(future.state).to.equal('finished');
      expect(future.done()).to.equal(true);
      expect(await future.result()).to.equal('v');
      expect(await future.exception()).to.equal(undefined);
    });

    it('on a running future it finishes the future with the value', async () => {
      const future = runningFuture<string>();
      future.setResult('v');
      expect(future.state).to.equal('finished');
      expect(future.running()).to.equal(false);
      expect(await future.result()).to.equal('v');
    });

    it('with undefined as the value it still finishes the future successfully', async () => {
      const future = pendingFuture<undefined>();
      future.setResult(undefined);
      expect(future.state).to.equal('finished');
      expect(await future.result()).to.equal(undefined);
    });

    it('on a cancelled future it throws InvalidStateError and the future stays cancelled', async () => {
      const future = cancelledFuture();
      expectInvalidState(thrownBy(() => future.setResult(1)));
      expect(future.state).to.equal('cancelled');
      expectCancelled(await rejectionOf(future.result()));
    });

    it('on a cancelled-and-notified future it throws InvalidStateError and the future stays cancelled', async () => {
      const future = cancelledAndNotifiedFuture();
      expectInvalidState(thrownBy(() => future.setResult(1)));
      expect(future.state).to.equal('cancelled');
      expectCancelled(await rejectionOf(future.result()));
    });

    it('on a failed future it throws InvalidStateError and the first error is kept', async () => {
      const error = new FixtureError('first');
      const future = exceptionFuture(error);
      expectInvalidState(thrownBy(() => future.setResult(2)));
      expect(await future.exception()).to.equal(error);
    });

    it('a second setResult() throws InvalidStateError and the first value is kept', async () => {
      const future = pendingFuture<number>();
      future.setResult(1);
      expectInvalidState(thrownBy(() => future.setResult(2)));
      expect(future.done()).to.equal(true);
      expect(await future.result()).to.equal(1);
    });
  });

  describe('setException()', () => {
    it('on a pending future it finishes the future with the error', async () => {
      const future = pendingFuture();
      const error = new FixtureError('e');
      future.setException(error);
      expect(future.state).to.equal('finished');
      expect(future.done()).to.equal(true);
      expect(future.cancelled()).to.equal(false);
      expect(await future.exception()).to.equal(error);
      expect(await rejectionOf(future.result())).to.equal(error);
    });

    it('on a running future it finishes the future with the error', async () => {
      const future = runningFuture();
      const error = new FixtureError('e');
      future.setException(error);
      expect(future.state).to.equal('finished');
      expect(future.running()).to.equal(false);
      expect(await future.exception()).to.equal(error);
    });

    it('on a cancelled future it throws InvalidStateError and the future stays cancelled', async () => {
      const future = cancelledFuture();
      expectInvalidState(thrownBy(() => future.setException(new FixtureError('late'))));
      expect(future.state).to.equal('cancelled');
      expectCancelled(await rejectionOf(future.exception()));
    });

    it('on a cancelled-and-notified future it throws InvalidStateError and the future stays cancelled', async () => {
      const future = cancelledAndNotifiedFuture();
      expectInvalidState(thrownBy(() => future.setException(new FixtureError('late'))));
      expect(future.state).to.equal('cancelled');
    });

    it('on a successful future it throws InvalidStateError and the result is kept', async () => {
      const future = successfulFuture();
      expectInvalidState(thrownBy(() => future.setException(new FixtureError('late'))));
      expect(await future.result()).to.equal(FIXTURE_RESULT);
      expect(await future.exception()).to.equal(undefined);
    });

    it('a second setException() throws InvalidStateError and the first error is kept', async () => {
      const future = pendingFuture();
      const first = new FixtureError('first');
      future.setException(first);
      expectInvalidState(thrownBy(() => future.setException(new FixtureError('second'))));
      expect(await future.exception()).to.equal(first);
    });
  });

  describe('done callbacks', () => {
    it('a callback added before setResult() receives the future and can read its result', async () => {
      const future = pendingFuture<number>();
      let seen: Future<number> | undefined;
      future.addDoneCallback((f) => {
        seen = f;
      });
      future.setResult(5);
      expect(seen).to.equal(future);
      expect(await seen!.result()).to.equal(5);
    });

    it('a callback added before setException() can read the exception', async () => {
      const future = pendingFuture();
      const error = new FixtureError('test');
      let seen: Future<unknown> | undefined;
      future.addDoneCallback((f) => {
        seen = f;
      });
      future.setException(error);
      expect(seen).to.equal(future);
      expect(await seen!.exception()).to.equal(error);
    });

    it('a callback added before cancel() sees the future cancelled', () => {
      const future = pendingFuture();
      let wasCancelled: boolean | undefined;
      future.addDoneCallback((f) => {
        wasCancelled = f.cancelled();
      });
      expect(future.cancel()).to.equal(true);
      expect(wasCancelled).to.equal(true);
    });

    for (const kind of ['successful', 'failed', 'cancelled', 'cancelled-and-notified'] as const) {
      it(`a callback added to a ${kind} future runs at once, synchronously, with the future`, () => {
        const future = fixture(kind);
        const seen: unknown[] = [];
        future.addDoneCallback((f) => seen.push(f));
        expect(seen).to.have.length(1);
        expect(seen[0]).to.equal(future);
      });
    }

    it('a callback added to an already successful future can read the result', async () => {
      const future = successfulFuture();
      let result: Promise<unknown> | undefined;
      future.addDoneCallback((f) => {
        result = f.result();
      });
      expect(await result).to.equal(FIXTURE_RESULT);
    });

    it('a callback added to an already failed future can read the exception', async () => {
      const error = new FixtureError('test');
      const future = exceptionFuture(error);
      let exception: Promise<unknown> | undefined;
      future.addDoneCallback((f) => {
        exception = f.exception();
      });
      expect(await exception).to.equal(error);
    });

    it('a callback on a pending future does not run when the future starts running', () => {
      const future = pendingFuture();
      let calls = 0;
      future.addDoneCallback(() => {
        calls += 1;
      });
      future.setRunningOrNotifyCancel();
      expect(calls).to.equal(0);
      future.setResult(1);
      expect(calls).to.equal(1);
    });

    it('a callback on a running future does not run until the future finishes', async () => {
      const future = runningFuture();
      let calls = 0;
      future.addDoneCallback(() => {
        calls += 1;
      });
      await macrotasks();
      expect(calls).to.equal(0);
      future.setException(new FixtureError('x'));
      expect(calls).to.equal(1);
    });

    it('callbacks run synchronously inside setResult(), in registration order', () => {
      const future = pendingFuture();
      const order: string[] = [];
      future.addDoneCallback(() => order.push('first'));
      future.addDoneCallback(() => order.push('second'));
      future.addDoneCallback(() => order.push('third'));
      order.push('before');
      future.setResult(1);
      order.push('after');
      expect(order).to.deep.equal(['before', 'first', 'second', 'third', 'after']);
    });

    it('callbacks run synchronously inside setException(), in registration order', () => {
      const future = runningFuture();
      const order: string[] = [];
      future.addDoneCallback(() => order.push('first'));
      future.addDoneCallback(() => order.push('second'));
      future.setException(new FixtureError('x'));
      order.push('after');
      expect(order).to.deep.equal(['first', 'second', 'after']);
    });

    it('callbacks run synchronously inside cancel(), in registration order', () => {
      const future = pendingFuture();
      const order: string[] = [];
      future.addDoneCallback(() => order.push('first'));
      future.addDoneCallback(() => order.push('second'));
      future.cancel();
      order.push('after');
      expect(order).to.deep.equal(['first', 'second', 'after']);
    });

    it('a callback sees the final state of a finished future', () => {
      const future = runningFuture();
      const seen: Array<{ state: FutureState; done: boolean; running: boolean }> = [];
      future.addDoneCallback((f) => {
        seen.push({ state: f.state, done: f.done(), running: f.running() });
      });
      future.setResult(1);
      expect(seen).to.deep.equal([{ state: 'finished', done: true, running: false }]);
    });

    it('a callback sees the final state of a cancelled future', () => {
      const future = pendingFuture();
      const seen: Array<{ state: FutureState; done: boolean; cancelled: boolean }> = [];
      future.addDoneCallback((f) => {
        seen.push({ state: f.state, done: f.done(), cancelled: f.cancelled() });
      });
      future.cancel();
      expect(seen).to.deep.equal([{ state: 'cancelled', done: true, cancelled: true }]);
    });

    it('each callback runs exactly once, however often the future is poked afterwards', () => {
      const future = pendingFuture();
      let calls = 0;
      future.addDoneCallback(() => {
        calls += 1;
      });
      future.cancel();
      future.cancel();
      future.setRunningOrNotifyCancel();
      thrownBy(() => future.setResult(1));
      thrownBy(() => future.setException(new FixtureError('x')));
      expect(calls).to.equal(1);
    });

    it('each callback of a finished future runs exactly once across later registrations', () => {
      const future = pendingFuture();
      let first = 0;
      let second = 0;
      future.addDoneCallback(() => {
        first += 1;
      });
      future.setResult(1);
      future.addDoneCallback(() => {
        second += 1;
      });
      thrownBy(() => future.setResult(2));
      expect([first, second]).to.deep.equal([1, 1]);
    });

    it('a callback registered from inside another callback runs at once', () => {
      const future = pendingFuture();
      const order: string[] = [];
      future.addDoneCallback((f) => {
        order.push('outer');
        f.addDoneCallback(() => order.push('inner'));
        order.push('outer end');
      });
      future.setResult(1);
      expect(order).to.deep.equal(['outer', 'inner', 'outer end']);
    });

    it('a callback that throws is reported as a FutureCallbackWarning and the other callbacks still run', () => {
      const capture = captureWarnings();
      try {
        const future = pendingFuture();
        const thrown = new Error('doh!');
        let raisingCalled = false;
        let laterCalled = false;
        future.addDoneCallback(() => {
          raisingCalled = true;
          throw thrown;
        });
        future.addDoneCallback(() => {
          laterCalled = true;
        });
        future.setResult(5);
        expect(raisingCalled).to.equal(true);
        expect(laterCalled).to.equal(true);
        expect(capture.warnings).to.have.length(1);
        const warning = capture.warnings[0] as Error & { code?: unknown };
        expect(warning.name).to.equal('FutureCallbackWarning');
        expect(warning.code).to.equal('ERR_FUTURE_CALLBACK');
        expect(warning.cause).to.equal(thrown);
      } finally {
        capture.restore();
      }
    });

    it('a throwing callback does not make setResult() throw and the future still finishes', async () => {
      const capture = captureWarnings();
      try {
        const future = pendingFuture<number>();
        future.addDoneCallback(() => {
          throw new Error('doh!');
        });
        expect(() => future.setResult(5)).not.to.throw();
        expect(future.state).to.equal('finished');
        expect(await future.result()).to.equal(5);
      } finally {
        capture.restore();
      }
    });

    it('a throwing callback does not make cancel() throw and cancel() still returns true', () => {
      const capture = captureWarnings();
      try {
        const future = pendingFuture();
        future.addDoneCallback(() => {
          throw new Error('doh!');
        });
        expect(future.cancel()).to.equal(true);
        expect(capture.warnings).to.have.length(1);
      } finally {
        capture.restore();
      }
    });

    it('a callback that throws when added to a done future is reported, not thrown', () => {
      const capture = captureWarnings();
      try {
        const future = successfulFuture();
        const thrown = new Error('doh!');
        expect(() =>
          future.addDoneCallback(() => {
            throw thrown;
          }),
        ).not.to.throw();
        expect(capture.warnings).to.have.length(1);
        const warning = capture.warnings[0] as Error & { code?: unknown };
        expect(warning.name).to.equal('FutureCallbackWarning');
        expect(warning.code).to.equal('ERR_FUTURE_CALLBACK');
        expect(warning.cause).to.equal(thrown);
      } finally {
        capture.restore();
      }
    });

    it('a thrown non-Error value becomes the cause of the warning as is', () => {
      const capture = captureWarnings();
      try {
        const future = pendingFuture();
        future.addDoneCallback(() => {
          throw 'plain string';
        });
        future.addDoneCallback(() => {
          throw undefined;
        });
        future.setResult(1);
        expect(capture.warnings).to.have.length(2);
        expect((capture.warnings[0] as Error).cause).to.equal('plain string');
        const second = capture.warnings[1] as Error;
        expect(second.name).to.equal('FutureCallbackWarning');
        expect('cause' in second && second.cause === undefined).to.equal(true);
      } finally {
        capture.restore();
      }
    });
  });

  describe('thenable protocol', () => {
    it('awaiting a successful future gives its value', async () => {
      expect(await successfulFuture()).to.equal(FIXTURE_RESULT);
    });

    it('awaiting a failed future throws its error', async () => {
      const error = new FixtureError('awaited');
      expect(await rejectionOf(exceptionFuture(error))).to.equal(error);
    });

    it('awaiting a cancelled future throws CancelledError', async () => {
      expectCancelled(await rejectionOf(cancelledFuture()));
    });

    it('awaiting a pending future resumes once setResult() is called', async () => {
      const future = pendingFuture<string>();
      const outcome = track(future);
      await macrotasks();
      expect(outcome.settled).to.equal(false);
      setImmediate(() => future.setResult('later'));
      await outcome.promise;
      expect(outcome.value).to.equal('later');
    });

    it('awaiting a future behaves like awaiting result()', async () => {
      const future = pendingFuture<number>();
      setImmediate(() => future.setResult(9));
      const [viaAwait, viaResult] = await Promise.all([
        (async () => await future)(),
        future.result(),
      ]);
      expect(viaAwait).to.equal(viaResult);
      expect(viaAwait).to.equal(9);
    });

    it('then() chains like a promise', async () => {
      const doubled = await successfulFuture().then((v) => v * 2);
      expect(doubled).to.equal(FIXTURE_RESULT * 2);
    });

    it('then() passes the failure to its rejection handler', async () => {
      const error = new FixtureError('then');
      const handled = await exceptionFuture(error).then(
        () => 'fulfilled',
        (reason: unknown) => reason,
      );
      expect(handled).to.equal(error);
    });

    it('catch() handles the failure', async () => {
      const error = new FixtureError('catch');
      expect(await exceptionFuture(error).catch((reason: unknown) => reason)).to.equal(error);
    });

    it('finally() runs and passes the value through', async () => {
      let ran = false;
      const value = await successfulFuture().finally(() => {
        ran = true;
      });
      expect(ran).to.equal(true);
      expect(value).to.equal(FIXTURE_RESULT);
    });

    it('finally() runs and passes the failure through', async () => {
      const error = new FixtureError('finally');
      let ran = false;
      const reason = await rejectionOf(
        exceptionFuture(error).finally(() => {
          ran = true;
        }),
      );
      expect(ran).to.equal(true);
      expect(reason).to.equal(error);
    });

    it('Promise.resolve() adopts the outcome of a future', async () => {
      expect(await Promise.resolve(successfulFuture())).to.equal(FIXTURE_RESULT);
      expectCancelled(await rejectionOf(Promise.resolve(cancelledFuture())));
    });

    it('Promise.all() accepts futures', async () => {
      const a = pendingFuture<number>();
      const b = successfulFuture(2);
      setImmediate(() => a.setResult(1));
      expect(await Promise.all([a, b])).to.deep.equal([1, 2]);
    });
  });

  describe('falsy failures', () => {
    for (const value of FALSY_ERRORS) {
      const label = inspect(value);

      it(`a future failed with ${label} is done, finished and not cancelled`, () => {
        const future = exceptionFuture(value);
        expect(future.done()).to.equal(true);
        expect(future.state).to.equal('finished');
        expect(future.cancelled()).to.equal(false);
      });

      it(`result() of a future failed with ${label} rejects with exactly ${label}`, async () => {
        const outcome = track(exceptionFuture(value).result());
        await outcome.promise;
        expect(outcome.rejected).to.equal(true);
        expect(outcome.reason).to.equal(value);
      });

      it(`awaiting a future failed with ${label} throws exactly ${label}`, async () => {
        const outcome = track(exceptionFuture(value));
        await outcome.promise;
        expect(outcome.rejected).to.equal(true);
        expect(outcome.reason).to.equal(value);
      });

      it(`exception() of a future failed with ${label} resolves with ${label}`, async () => {
        const outcome = track(exceptionFuture(value).exception());
        await outcome.promise;
        expect(outcome.fulfilled).to.equal(true);
        expect(outcome.value).to.equal(value);
      });

      it(`setException(${label}) on a running future wakes a pending result() with a rejection`, async () => {
        const future = runningFuture();
        const outcome = track(future.result());
        setImmediate(() => future.setException(value));
        await outcome.promise;
        expect(outcome.rejected).to.equal(true);
        expect(outcome.reason).to.equal(value);
      });

      it(`a future failed with ${label} rejects a later setResult() with InvalidStateError`, () => {
        const future = exceptionFuture(value);
        expectInvalidState(thrownBy(() => future.setResult(1)));
      });
    }
  });

  describe('toString() and util.inspect()', () => {
    const cases: ReadonlyArray<{ what: string; make: () => Future<unknown>; text: string }> = [
      { what: 'a pending', make: pendingFuture, text: 'Future<pending>' },
      { what: 'a running', make: runningFuture, text: 'Future<running>' },
      { what: 'a cancelled', make: cancelledFuture, text: 'Future<cancelled>' },
      {
        what: 'a cancelled-and-notified',
        make: cancelledAndNotifiedFuture,
        text: 'Future<cancelled>',
      },
      {
        what: 'a successful',
        make: () => successfulFuture(42),
        text: 'Future<finished: returned 42>',
      },
      {
        what: 'a failed',
        make: () => exceptionFuture(new TypeError('boom')),
        text: 'Future<finished: raised TypeError: boom>',
      },
    ];
    for (const { what, make, text } of cases) {
      it(`${what} future renders as ${text}`, () => {
        const future = make();
        expect(future.toString()).to.equal(text);
        expect(String(future)).to.equal(text);
        expect(`${future}`).to.equal(text);
      });

      it(`util.inspect() of ${what} future gives ${text}`, () => {
        expect(inspect(make())).to.equal(text);
      });
    }
  });

  describe('unhandled rejections', () => {
    it('a failed future that nobody awaits causes no unhandledRejection', async () => {
      const watch = watchUnhandledRejections();
      try {
        const future = pendingFuture();
        future.setException(new FixtureError('ignored'));
        exceptionFuture(new FixtureError('ignored too'));
        await macrotasks(2);
        expect(watch.reasons).to.deep.equal([]);
      } finally {
        watch.stop();
      }
    });

    it('futures failed with falsy values that nobody awaits cause no unhandledRejection', async () => {
      const watch = watchUnhandledRejections();
      try {
        for (const value of FALSY_ERRORS) exceptionFuture(value);
        await macrotasks(2);
        expect(watch.reasons).to.have.length(0);
      } finally {
        watch.stop();
      }
    });

    it('a cancelled future that nobody awaits causes no unhandledRejection', async () => {
      const watch = watchUnhandledRejections();
      try {
        pendingFuture().cancel();
        cancelledAndNotifiedFuture();
        await macrotasks(2);
        expect(watch.reasons).to.deep.equal([]);
      } finally {
        watch.stop();
      }
    });

    it('a future with done callbacks that fails unobserved causes no unhandledRejection', async () => {
      const watch = watchUnhandledRejections();
      try {
        const future = pendingFuture();
        future.addDoneCallback(() => {});
        future.setException(new FixtureError('ignored'));
        await macrotasks(2);
        expect(watch.reasons).to.deep.equal([]);
      } finally {
        watch.stop();
      }
    });

    it('a future that fails after an awaited result() timed out causes no unhandledRejection', async () => {
      const watch = watchUnhandledRejections();
      try {
        const future = pendingFuture();
        expectTimedOut(await rejectionOf(future.result({ timeout: 0 })));
        future.setException(new FixtureError('after the timeout'));
        await macrotasks(2);
        expect(watch.reasons).to.deep.equal([]);
      } finally {
        watch.stop();
      }
    });

    it('a future cancelled after an awaited result() was aborted causes no unhandledRejection', async () => {
      const watch = watchUnhandledRejections();
      try {
        const future = pendingFuture();
        const controller = new AbortController();
        const outcome = track(future.result({ signal: controller.signal }));
        controller.abort();
        await outcome.promise;
        future.cancel();
        await macrotasks(2);
        expect(watch.reasons).to.deep.equal([]);
      } finally {
        watch.stop();
      }
    });
  });

  describe('static types', () => {
    it('awaiting a Future<T> and its result() both give T', () => {
      expectTypeOf<Awaited<Future<number>>>().toEqualTypeOf<number>();
      expectTypeOf<ReturnType<Future<number>['result']>>().toEqualTypeOf<Promise<number>>();
      expectTypeOf<Future<string>>().toMatchTypeOf<PromiseLike<string>>();
      expectTypeOf<Future['state']>().toEqualTypeOf<FutureState>();
      // The runtime half: a typed future really carries its value.
      const future = successfulFuture<string>('typed');
      return future.result().then((value) => {
        expect(value).to.equal('typed');
      });
    });
  });
});
