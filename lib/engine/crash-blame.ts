/**
 * Crash blame: when a worker dies with tasks in its line, which of them
 * fails, which runs again, and whether the death counts as a failed start.
 * A pure function of what the engine knew about the worker, so that every
 * case can be tested without killing anything (spec/crash-blame.spec.ts).
 *
 * A worker runs its line in order, one task at a time, and reports
 * outcomes in batches (wire/protocol.ts): the task that was running when it
 * died is the first one not reported, unless outcomes before it were still
 * waiting in the worker's batch. Then any of the first RESULTS_FLUSH_COUNT +
 * 1 unreported tasks may be the culprit: none is failed, and each runs
 * again with its outcome reported alone and at once, so that a second
 * crash is pinned on the right one.
 */
import { RESULTS_FLUSH_COUNT } from '../wire/protocol.js';
import type { Ending } from './worker-slot.js';

/** What the engine knew about a worker when it died. */
export interface DeadWorkerFacts {
  /** It got ready (its initializer ran). */
  ready: boolean;
  /** Why the engine was ending it, if it was (worker-slot.ts). */
  ending: Ending | undefined;
  /** Its unfinished tasks, in line order (the first one was running, or about to). */
  tasks: ReadonlyArray<{
    /** Its transfer list moved buffers to the worker: they died with it. */
    transfer: boolean;
    /** It already ran with its outcome reported alone: a crash under it is its own. */
    reportAlone: boolean;
  }>;
}

/** What happens to one task of a dead worker. */
export type Verdict =
  /** It cannot run again (its buffers went with the worker): it fails. */
  | 'lost-transfer'
  /** It crashed its worker: it fails with WorkerCrashedError, or is retried within its retries. */
  | 'crashed'
  /** It never started (or its outcome was lost): it runs elsewhere, at no cost to its retries. */
  | 'rerun'
  /** As 'rerun', and it may have been the culprit: it runs with its outcome reported alone. */
  | 'rerun-alone';

export interface Blame {
  /** It never got ready (or the engine killed it for failing to): its tasks never started. */
  neverStarted: boolean;
  /** The death counts towards the executor's broken state (start failures in a row). */
  failedStart: boolean;
  /** One verdict per task, in the order given. */
  verdicts: Verdict[];
}

const START_KILLS: ReadonlySet<Ending> = new Set(['initializer-failed', 'initializer-timeout']);

export function blameCrash(worker: DeadWorkerFacts): Blame {
  const startKilled = worker.ending !== undefined && START_KILLS.has(worker.ending);
  const neverStarted = !worker.ready || startKilled;
  // Shutdown stopping a worker that was still starting is no failure.
  const failedStart = neverStarted && (startKilled || worker.ending === undefined);
  // The engine's own kills (time limit, cancellation, broken output)
  // settled their task already, and every live task behind it never
  // started; a worker that never got ready ran none of its tasks.
  const killedByUs = (worker.ending !== undefined && worker.ending !== 'retired') || neverStarted;
  const { tasks } = worker;
  const certain = killedByUs || tasks.length <= 1 || tasks[0]!.reportAlone;
  const verdicts = tasks.map((task, position): Verdict => {
    if (task.transfer) return 'lost-transfer';
    if (position === 0 && certain && !killedByUs) return 'crashed';
    return !certain && position <= RESULTS_FLUSH_COUNT ? 'rerun-alone' : 'rerun';
  });
  return { neverStarted, failedStart, verdicts };
}
