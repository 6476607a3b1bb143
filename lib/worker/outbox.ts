/**
 * What a worker sends to its parent: outcomes, batched, and every other
 * message, tracked until written.
 *
 * Batching is what makes tiny tasks cheap: outcomes are collected and sent
 * together (wire/protocol.ts says when the runtime flushes). Before it is
 * collected, a result is made safe to send (sendable.ts) and a thrown
 * value encoded (wire/error-codec.ts), so that sending never fails
 * because of task code; should a whole batch still fail to clone, its
 * outcomes go one by one and only the culprit fails.
 */
import type { TransferListItem } from 'node:worker_threads';
import { describeError } from '../describe.js';
import { unwrapTransfer } from '../transfer.js';
import { chunkThrewCancelAll, type EncodedChunkOutcome } from '../wire/chunk-outcome.js';
import { encodeError, isEncodedCancelAll } from '../wire/error-codec.js';
import {
  OUTCOME_FIELDS,
  PROTOCOL_TAG,
  RESULTS_FLUSH_COUNT,
  RESULTS_FLUSH_MS,
  USAGE_INTERVAL_MS,
  type Usage,
  type WorkerMessage,
} from '../wire/protocol.js';
import {
  type Sendable,
  type SendableTransfer,
  sendableResult,
  sendableTransfer,
} from './sendable.js';

/** How the runtime talks to its parent. */
export interface WorkerChannel {
  /**
   * Sends a message; throws if the payload cannot be cloned. A channel whose
   * writes need this worker's event loop to complete (a child process's
   * IPC pipe) returns a promise that settles once the message is written.
   */
  send(message: WorkerMessage, transfer?: TransferListItem[]): Promise<void> | undefined;
  /** Ends the worker. */
  exit(code: number): void;
  /** `true` in a worker thread: rss and CPU time would be the whole process's. */
  readonly thread: boolean;
  /**
   * Starts sending what is written to `process.stdout`/`process.stderr` to
   * the parent (`stdio: 'capture'` or `'pipe'`), for channels whose output
   * does not already reach the parent on its own pipes (worker threads).
   */
  captureOutput?(): void;
  /**
   * Delivers a task marker for both output streams by another way than the
   * streams themselves, in order with the output (a worker thread's port).
   * Without it, markers are written into the streams.
   */
  mark?(text: string): void;
}

export class Outbox {
  readonly #channel: WorkerChannel;
  /** Outcomes not yet sent (OUTCOME_FIELDS each), and when the first of them was produced. */
  #results: unknown[] = [];
  #resultsSince = 0;
  /** What the outcomes in #results move instead of copying (`transfer()` results). */
  #resultsTransfer: TransferListItem[] | undefined;
  /** The last message still being written (see `writing`). */
  #writing: Promise<void> | undefined;
  #usageAt = 0;

  constructor(channel: WorkerChannel) {
    this.#channel = channel;
  }

  /** The last message still being written, if any: the runtime waits for it before a next task. */
  get writing(): Promise<void> | undefined {
    return this.#writing;
  }

  /** Outcomes are waiting to be sent. */
  get pending(): boolean {
    return this.#results.length > 0;
  }

  /** Enough outcomes, or old enough ones, wait to be worth a message now. */
  get due(): boolean {
    return (
      this.#results.length >= RESULTS_FLUSH_COUNT * OUTCOME_FIELDS ||
      performance.now() - this.#resultsSince >= RESULTS_FLUSH_MS
    );
  }

  /** Sends a message other than outcomes; throws if it cannot be cloned. */
  send(message: WorkerMessage): void {
    this.#track(this.#channel.send(message));
  }

  /**
   * Collects a task's outcome: its value (`ok`) or what it threw, and its
   * running time (-1: it never ran). Returns `true` when it is a CancelAll
   * (decided on the encoded error, the way the parent will decide it).
   */
  outcome(id: number, ok: boolean, value: unknown, ms: number, chunk = false): boolean {
    if (this.#results.length === 0) this.#resultsSince = performance.now();
    if (ok && !chunk) {
      // A chunk's values were made sendable one by one, as they came.
      const moved = unwrapTransfer(value);
      const safe: Sendable | SendableTransfer =
        moved === undefined ? sendableResult(value) : sendableTransfer(moved.value, moved.list);
      if (!safe.ok) {
        ok = false;
        value = safe.error;
      } else {
        value = safe.value;
        const list = (safe as { list?: TransferListItem[] }).list;
        if (list !== undefined && list.length > 0) {
          this.#resultsTransfer ??= [];
          this.#resultsTransfer.push(...list);
        }
      }
    }
    const encoded = ok ? undefined : encodeError(value);
    this.#results.push(id, ok ? 1 : 0, ok ? value : encoded, ms);
    return ok
      ? chunk && chunkThrewCancelAll(value as EncodedChunkOutcome)
      : isEncodedCancelAll(encoded);
  }

  /** Sends the outcomes collected so far in one message (with the worker's usage, now and then). */
  flush(): void {
    if (this.#results.length === 0) return;
    const done = this.#results;
    const transfer = this.#resultsTransfer;
    this.#results = [];
    this.#resultsTransfer = undefined;
    const message: WorkerMessage = { cf: PROTOCOL_TAG, k: 'results', done };
    if (performance.now() - this.#usageAt >= USAGE_INTERVAL_MS) {
      message.u = this.usage();
      this.startClock();
    }
    try {
      this.#track(this.#channel.send(message, transfer));
    } catch {
      // Some value cannot be cloned: send them one by one to find it.
      for (let at = 0; at < done.length; at += OUTCOME_FIELDS) {
        this.#sendOne(done.slice(at, at + OUTCOME_FIELDS));
      }
    }
  }

  #sendOne(outcome: unknown[]): void {
    try {
      this.#track(this.#channel.send({ cf: PROTOCOL_TAG, k: 'results', done: outcome }));
    } catch (sendError) {
      // The result could not be cloned: fail this task, keep the worker.
      const what = outcome[1] === 1 ? 'result' : 'error';
      const error = new TypeError(
        `The task's ${what} cannot be sent to the parent: ${describeError(sendError)}`,
        { cause: sendError },
      );
      try {
        this.#track(
          this.#channel.send({
            cf: PROTOCOL_TAG,
            k: 'results',
            done: [outcome[0], 0, encodeError(error), outcome[3]],
          }),
        );
      } catch {
        // The encoded error is plain data; only a closed channel can refuse
        // it, and then the parent learns of this worker's end by its exit.
      }
    }
  }

  /** Remembers the last message still being written. */
  #track(writing: Promise<void> | undefined): void {
    if (writing === undefined) return;
    this.#writing = writing;
    void writing.then(() => {
      if (this.#writing === writing) this.#writing = undefined;
    });
  }

  /** The worker's resources now. */
  /**
   * Starts the clock of the usage interval. Apart from usage(): 'ready'
   * carries the usage before the clock is loaded (see WorkerRuntime).
   */
  startClock(): void {
    this.#usageAt = performance.now();
  }

  usage(): Usage {
    if (this.#channel.thread) return [-1, process.memoryUsage().heapUsed, -1];
    const cpu = process.cpuUsage();
    return [
      process.memoryUsage.rss(),
      process.memoryUsage().heapUsed,
      (cpu.user + cpu.system) / 1000,
    ];
  }
}
