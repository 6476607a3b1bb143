/**
 * The parent's side of one `mapReduce`: it starts one explorer task per
 * worker (worker/explorer.ts), hands out the roots, brokers steals between
 * explorers, detects the end, has the partial reductions combined in a
 * worker, and settles the run's future. It never sees a node except inside
 * the messages of a steal (or the roots it hands out): its traffic grows
 * with the steals, not with the nodes.
 *
 * What it knows of each explorer: `unstarted` (its task has not said it
 * runs), `busy` (it was given nodes since it last said it was idle),
 * `idle` (its queue is empty and it waits), then `finishing` and `done`.
 * An explorer only becomes busy through the parent (roots or stolen nodes),
 * and says when it runs dry; a victim answers every steal request, before
 * it says it is idle if it gave nodes. So when every started explorer is
 * idle, no steal is in flight and no root is left, no node is left
 * anywhere: the search is over. A busy explorer may also say it is `low`
 * (down to its last node): it is fed like an idle one, from explorers that
 * are not low themselves, but it still counts as busy. An unstarted
 * explorer never holds nodes: at the end it is cancelled. The records of
 * what it knows, and the run's statistics made of them, are in
 * explorers.ts.
 *
 * Termination: every explorer but one returns its partial reduction (its
 * task's value); the last one gets them all, reduces them into its own
 * (`reduce` is user code: it runs in a worker) and its value settles the
 * future.
 *
 * Failures: any explorer that fails (map threw, a node could not be sent,
 * its worker died) fails the run with that error; the other explorers are
 * stopped like cancelled running tasks. A crashed worker's nodes are known
 * to nobody else, so the run fails with WorkerCrashedError rather than
 * return a result that silently misses part of the forest.
 */
import { CancelledError, TaskTimeoutError, WorkerCrashedError } from '../../errors.js';
import type { Future } from '../../future.js';
import type { CancelBinding } from '../../future-support.js';
import type { MapReduceStats } from '../../map-reduce-types.js';
import type { ExplorerWorkerMessage, ParentMessage } from '../../wire/protocol.js';
import { LOW_WATER, PROTOCOL_TAG } from '../../wire/protocol.js';
import type { TaskRecord } from '../task-record.js';
import type { WorkerSlot } from '../worker-slot.js';
import {
  type Explorer,
  type ExplorerOutcome,
  newExplorer,
  richer,
  statistics,
  UNKNOWN,
} from './explorers.js';

/** Stolen nodes from which on the parent keeps half in reserve (see #stolen). */
const RESERVE_FROM = 4;

/** What the facade hands over. */
export interface MapReduceRun {
  roots: unknown[];
  explorers: number;
  timeout: number | undefined;
  signal: AbortSignal | undefined;
  /** Submits one explorer task. */
  submit(): Future<ExplorerOutcome>;
  /** Registers an explorer's future so that its messages reach this coordinator (room.ts). */
  register(future: Future<ExplorerOutcome>, coordinator: Coordinator): void;
  /** Called once, when the run's future is settled. */
  settled(stats: MapReduceStats): void;
}

export class Coordinator implements CancelBinding {
  readonly #future: Future<unknown>;
  readonly #run: MapReduceRun;
  readonly #explorers: Explorer[] = [];
  readonly #byFuture = new Map<Future<ExplorerOutcome>, Explorer>();
  /** Roots not handed out yet. */
  #roots: unknown[];
  /** Explorers handed roots so far (for fair shares). */
  #fed = 0;
  readonly #steals = new Map<number, { victim: Explorer; thief: Explorer }>();
  #nextReq = 1;
  #over = false;
  #finishing = false;
  #leader: Explorer | undefined;
  readonly #partials: unknown[] = [];
  #waitingPartials = 0;
  #timer: NodeJS.Timeout | undefined;
  #onAbort: (() => void) | undefined;
  readonly #startedAt = performance.now();
  readonly #stats = { steals: 0, stealRequests: 0, nodesStolen: 0, messages: 0 };

  constructor(future: Future<unknown>, run: MapReduceRun) {
    this.#future = future;
    this.#run = run;
    this.#roots = run.roots;
  }

  start(): void {
    const { signal, timeout } = this.#run;
    this.#future._bindCancel(this);
    if (signal !== undefined) {
      this.#onAbort = () => this.cancelRunning(signal.reason);
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
    if (timeout !== undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#fail(
          new TaskTimeoutError(`The mapReduce exceeded its time limit of ${timeout} ms`, {
            timeout,
          }),
        );
      }, timeout);
    }
    for (let i = 0; i < this.#run.explorers && !this.#over; i++) {
      const future = this.#run.submit();
      const explorer = newExplorer(future);
      this.#explorers.push(explorer);
      this.#byFuture.set(future, explorer);
      this.#run.register(future, this);
      future.addDoneCallback(() => this.#explorerDone(explorer));
    }
  }

  // ---------------------------------------------------------------------
  // CancelBinding: the run's future was cancelled
  // ---------------------------------------------------------------------

  cancelRunning(cause: unknown): boolean {
    if (this.#future.done()) return this.#future.cancelled();
    if (!this.#future.running()) return this.#future._cancel(cause);
    this.#future._setCancelledWhileRunning(cause);
    this.#stop();
    return true;
  }

  cancelledWhilePending(): void {
    this.#stop();
  }

  // ---------------------------------------------------------------------
  // Messages from explorers (room.ts)
  // ---------------------------------------------------------------------

  receive(
    future: Future<ExplorerOutcome>,
    slot: WorkerSlot,
    task: TaskRecord,
    message: ExplorerWorkerMessage,
  ): void {
    const explorer = this.#byFuture.get(future);
    if (explorer === undefined || this.#over) return;
    this.#stats.messages++;
    switch (message.k) {
      case 'mrIdle':
        // Out of date: work is on its way to it (it will say when it runs
        // dry again). Only a low explorer can be given work while it sends
        // this; taking it for idle would end the search with nodes in flight.
        if (message.got !== explorer.given) break;
        this.#idle(explorer, slot, task, message.nodes);
        break;
      case 'mrLow':
        // Its size is not noted: its last node may hold a big subtree, and
        // an idle explorer may still try it (a refusal is reported back).
        if (explorer.phase === 'busy' && message.got === explorer.given) {
          explorer.low = true;
          this.#feed(explorer);
        }
        break;
      case 'mrStolen':
        this.#stolen(explorer, message.req, message.nodes, message.left);
        break;
      case 'mrHasWork':
        if (explorer.phase === 'busy') explorer.size = message.size;
        this.#feedHungry();
        break;
    }
  }

  /**
   * The explorer's worker died and the engine would run its task again:
   * if it had started, the nodes it held are lost; the run fails. Returns
   * `true` when it took the task over (the engine must not requeue it).
   */
  lost(future: Future<ExplorerOutcome>, task: TaskRecord, fail: (error: unknown) => void): boolean {
    const explorer = this.#byFuture.get(future);
    if (explorer === undefined || explorer.phase === 'unstarted') return false;
    const pid = task.worker?.workerId;
    fail(
      new WorkerCrashedError(
        `The worker running explorer ${task.id} of a mapReduce (pid ${pid}) died; the nodes it held are lost, so the search cannot be completed`,
        { pid, reason: 'unknown' },
      ),
    );
    return true;
  }

  #idle(explorer: Explorer, slot: WorkerSlot, task: TaskRecord, nodes: number): void {
    explorer.nodes = nodes;
    if (explorer.phase === 'unstarted') {
      explorer.taskId = task.id;
      explorer.slot = slot;
      explorer.startedAt = performance.now();
      if (this.#future.state === 'pending') this.#future.setRunningOrNotifyCancel();
    } else if (explorer.phase !== 'busy') {
      return;
    }
    explorer.phase = 'idle';
    explorer.low = false;
    explorer.size = 0;
    this.#feed(explorer);
    this.#checkEnd();
  }

  #stolen(victim: Explorer, req: number, nodes: unknown[], left: number): void {
    const steal = this.#steals.get(req);
    if (steal === undefined || steal.victim !== victim) return;
    this.#steals.delete(req);
    victim.victimOf = undefined;
    const { thief } = steal;
    thief.thiefOf = undefined;
    if (victim.phase === 'busy') victim.size = left;
    // A low thief that was refused waits until it runs dry to ask again
    // (asking again at once could go on as long as the victim stays small).
    if (nodes.length === 0) thief.low = false;
    if (nodes.length > 0) {
      this.#stats.steals++;
      this.#stats.nodesStolen += nodes.length;
      victim.stolenFrom++;
      thief.stolenBy++;
      // A large haul is split: the thief gets its oldest half (the biggest
      // subtrees), the parent keeps the rest with the roots, so that the
      // next explorer to run low is fed at once (two hops) instead of by a
      // steal (four hops, and the victim's slice).
      if (nodes.length >= RESERVE_FROM && this.#roots.length === 0) {
        this.#roots = nodes.splice(Math.ceil(nodes.length / 2));
      }
      this.#give(thief, nodes);
    }
    this.#feedHungry();
    this.#checkEnd();
  }

  /**
   * Finds work for an idle or low explorer: roots first, else a steal from
   * the busiest explorer (one that is not low first). A low explorer only
   * steals from one that is not low (else two could hand the same nodes
   * back and forth).
   */
  #feed(thief: Explorer): void {
    if (this.#over || this.#finishing || thief.thiefOf !== undefined) return;
    const low = thief.phase === 'busy' && thief.low;
    if (thief.phase !== 'idle' && !low) return;
    if (this.#roots.length > 0) {
      const unfed = Math.max(1, this.#live() - this.#fed);
      const share = Math.ceil(this.#roots.length / unfed);
      this.#fed++;
      this.#give(thief, this.#roots.splice(0, share));
      return;
    }
    let victim: Explorer | undefined;
    for (const candidate of this.#explorers) {
      if (candidate.phase !== 'busy' || candidate.victimOf !== undefined) continue;
      if (candidate === thief || (low && candidate.low)) continue;
      // A queue of one node is not shared (it is what that explorer does
      // next); for a low thief, the victim keeps enough not to be low.
      if (candidate.size < (low ? LOW_WATER + 2 : 2)) continue;
      if (victim === undefined || richer(candidate, victim)) victim = candidate;
    }
    if (victim === undefined) return;
    const req = this.#nextReq++;
    this.#steals.set(req, { victim, thief });
    victim.victimOf = req;
    thief.thiefOf = req;
    this.#stats.stealRequests++;
    this.#send(
      victim,
      low
        ? { cf: PROTOCOL_TAG, k: 'mrSteal', id: victim.taskId, req, low }
        : { cf: PROTOCOL_TAG, k: 'mrSteal', id: victim.taskId, req },
    );
  }

  #feedHungry(): void {
    for (const explorer of this.#explorers) {
      if (explorer.thiefOf === undefined) this.#feed(explorer);
    }
  }

  #give(explorer: Explorer, nodes: unknown[]): void {
    explorer.phase = 'busy';
    explorer.low = false;
    explorer.given++;
    explorer.size = UNKNOWN;
    this.#send(explorer, { cf: PROTOCOL_TAG, k: 'mrWork', id: explorer.taskId, nodes });
  }

  /** Explorers that may still take part (not dropped). */
  #live(): number {
    let live = 0;
    for (const explorer of this.#explorers) if (explorer.phase !== 'dropped') live++;
    return live;
  }

  #send(explorer: Explorer, message: ParentMessage): void {
    this.#stats.messages++;
    try {
      explorer.slot?.handle.send(message);
    } catch (error) {
      this.#fail(error);
    }
  }

  // ---------------------------------------------------------------------
  // The end
  // ---------------------------------------------------------------------

  #checkEnd(): void {
    if (this.#over || this.#finishing || this.#roots.length > 0 || this.#steals.size > 0) return;
    let started = 0;
    for (const explorer of this.#explorers) {
      if (explorer.phase === 'busy') return;
      if (explorer.phase === 'idle') started++;
    }
    if (started === 0) return;
    this.#finishing = true;
    for (const explorer of this.#explorers) {
      if (explorer.phase === 'idle') {
        explorer.phase = 'finishing';
        if (this.#leader === undefined) {
          this.#leader = explorer;
          continue;
        }
        this.#waitingPartials++;
        this.#send(explorer, { cf: PROTOCOL_TAG, k: 'mrFinish', id: explorer.taskId });
      } else if (explorer.phase === 'unstarted') {
        // It holds nothing: it is not needed.
        explorer.phase = 'dropped';
        explorer.future.cancel({ running: true });
      }
    }
    if (this.#waitingPartials === 0) this.#finishLeader();
  }

  #finishLeader(): void {
    const leader = this.#leader!;
    this.#send(leader, {
      cf: PROTOCOL_TAG,
      k: 'mrFinish',
      id: leader.taskId,
      partials: this.#partials.splice(0),
    });
  }

  #explorerDone(explorer: Explorer): void {
    const { future } = explorer;
    if (explorer.phase === 'dropped') return;
    const failed = future.cancelled() || future._failed();
    if (!failed) {
      const outcome = future._value()!;
      explorer.nodes = outcome.nodes;
      explorer.idleMs = outcome.idleMs;
    }
    if (this.#over) return;
    if (failed) {
      if (explorer.phase === 'unstarted' && future.cancelled()) {
        // Cancelled before it started (shutdown's cancelFutures, cancelAll):
        // the others can do without it, unless none is left.
        explorer.phase = 'dropped';
        if (this.#live() === 0) this.#fail(cancelledError());
        else this.#checkEnd();
        return;
      }
      explorer.phase = 'done';
      this.#fail(future.cancelled() ? cancelledError() : future._error());
      return;
    }
    const wasFinishing = explorer.phase === 'finishing';
    explorer.phase = 'done';
    if (!wasFinishing) {
      this.#fail(new Error(`explorer ${explorer.taskId} ended before the search was over`));
      return;
    }
    const outcome = future._value()!;
    if (explorer === this.#leader) {
      // Statistics first: done callbacks of the run's future may read them.
      this.#stop();
      if (!this.#future.done()) this.#future.setResult(outcome.value);
      return;
    }
    this.#partials.push(outcome.value);
    if (--this.#waitingPartials === 0) this.#finishLeader();
  }

  #fail(error: unknown): void {
    if (this.#over) return;
    this.#stop();
    if (!this.#future.done()) this.#future.setException(error);
  }

  /** The run is over (settled, failed or cancelled): let go of everything, stop the explorers. */
  #stop(): void {
    this.#over = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#onAbort !== undefined) {
      this.#run.signal?.removeEventListener('abort', this.#onAbort);
      this.#onAbort = undefined;
    }
    this.#future._bindCancel(undefined);
    for (const explorer of this.#explorers) {
      if (!explorer.future.done()) explorer.future.cancel({ running: true });
    }
    this.#run.settled(statistics(this.#explorers, this.#startedAt, this.#stats));
  }
}

function cancelledError(): CancelledError {
  return new CancelledError(
    'An explorer of the mapReduce was cancelled (cancelAll(), a CancelAll from another task, or shutdown)',
  );
}
