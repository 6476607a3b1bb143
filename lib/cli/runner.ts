/**
 * The map loop: reads records within a bounded window, submits them to the
 * pool one by one or in chunks, turns every outcome into an output record,
 * retries tasks whose worker crashed, and stops early on `--fail-fast`, a
 * `CancelAll` from task code, an interrupt or an unwritable output.
 *
 *   input ──read while window has room──> chunk ──submit──> pool
 *                                                             │
 *   output <──RecordWriter (reorder buffer)<──record<── outcome
 *
 * The window counts records from the moment they are read until their
 * record leaves the reorder buffer, so reading, the pool's queue and the
 * buffer together never hold more than `window` records. Every record read
 * gets exactly one output record: a result, an error, or `cancelled` when
 * the run stopped before it could finish.
 */
import {
  BrokenExecutorError,
  CancelAll,
  CancelledError,
  type ProcessPoolExecutor,
  type TaskRef,
  TaskTimeoutError,
  WorkerCrashedError,
} from '../index.js';
import type { MapConfig } from './args.js';
import type { ItemOutcome, runBatch } from './batch-task.js';
import { type ErrorRecord, errorRecord, resultJson } from './encode.js';
import type { Input, InputRecord } from './input.js';
import { errorRecordLine, okRecord, type RecordWriter, type Status } from './output.js';
import type { Stats } from './progress.js';

/**
 * Records in flight per worker and chunk. Four keeps every worker fed while
 * the parent handles outcomes, and bounds the reorder buffer when one slow
 * record holds back the ones after it.
 */
export const WINDOW_PER_WORKER_CHUNK = 4;

/** Why a run stopped before the end of its input. */
export type StopKind = 'fail-fast' | 'cancel-all' | 'interrupted' | 'output' | 'broken';

/** What the runner needs around it. */
export interface RunnerParts {
  pool: ProcessPoolExecutor;
  config: MapConfig;
  input: Input;
  writer: RecordWriter;
  stats: Stats;
  /** The user's function, for single-item tasks. */
  userTask: TaskRef<(item: unknown) => unknown>;
  /** The batch helper, for chunks. */
  batchTask: TaskRef<typeof runBatch>;
  moduleUrl: string;
}

const FAILURES: ReadonlySet<Status> = new Set(['failed', 'crashed', 'timeout', 'invalid']);

export class MapRunner {
  readonly #p: RunnerParts;
  readonly #window: number;
  #stop: { kind: StopKind; reason: CancelAll } | undefined;
  /** The pool's tasks were cancelled (a stop that only stops reading leaves them be). */
  #cancelled = false;
  /** Wakes the read loop when room may have appeared or the run stopped. */
  #wake: (() => void) | undefined;

  constructor(parts: RunnerParts) {
    this.#p = parts;
    this.#window = WINDOW_PER_WORKER_CHUNK * parts.config.workers * parts.config.chunksize;
  }

  /** Why the run stopped early, if it did. */
  get stopped(): { kind: StopKind; reason: CancelAll } | undefined {
    return this.#stop;
  }

  /** Called by the writer and by every settled task. */
  poke(): void {
    if (this.#p.writer.error !== undefined) {
      this.stop('output', new CancelAll('the output cannot be written'));
    }
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /**
   * Stops the run: cancels every task not done (pending ones never start,
   * running ones see their signal abort and are killed after the grace
   * period), stops reading, and lets the records in flight end as cancelled.
   */
  stop(kind: StopKind, reason: CancelAll): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    // A stop that only stopped reading (an invalid line under --fail-fast)
    // gives way to the reason that now cancels the tasks.
    this.#stop = { kind, reason };
    this.#p.pool.cancelAll(reason);
    this.#p.input.close();
    this.poke();
  }

  /**
   * Stops reading, and lets every record already read run to its end
   * (retries included): the run ends as if the input ended here.
   */
  #stopReading(kind: StopKind, reason: CancelAll): void {
    if (this.#stop !== undefined) return;
    this.#stop = { kind, reason };
    this.#p.input.close();
    this.poke();
  }

  /** Runs until the input ends or the run stops, and every record read has been handed to the writer. */
  async run(): Promise<void> {
    const { config, input, stats } = this.#p;
    let chunk: InputRecord[] = [];
    while (this.#stop === undefined) {
      await this.#room();
      if (this.#stop !== undefined) break;
      const next = await input.records.next();
      if (next.done === true) {
        if (this.#stop === undefined) stats.complete = true;
        break;
      }
      const record = next.value;
      stats.read++;
      stats.offset = record.offset;
      if (!record.ok) {
        if (config.failFast) {
          // Invalid input stops the run at the bad line. The records before
          // it are valid and were read first: they run to their end, the
          // ones waiting for a full chunk included; nothing after it is read.
          if (chunk.length > 0) this.#submit(chunk, 1);
          chunk = [];
          this.#stopReading(
            'fail-fast',
            new CancelAll(`--fail-fast: record ${record.index} (line ${record.line}) invalid`),
          );
        }
        this.#finish(record, 'invalid', record.error, 1);
        continue;
      }
      chunk.push(record);
      if (chunk.length >= config.chunksize) {
        this.#submit(chunk, 1);
        chunk = [];
      }
    }
    if (chunk.length > 0) {
      if (this.#stop === undefined) this.#submit(chunk, 1);
      else for (const record of chunk) this.#cancelUnstarted(record);
    }
    input.close();
    while (this.#p.writer.emitted < stats.read) await this.#changed();
  }

  /** Resolves at the next poke. */
  #changed(): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
    });
  }

  async #room(): Promise<void> {
    const { writer, stats } = this.#p;
    while (
      this.#stop === undefined &&
      (writer.blocked || stats.read - writer.emitted >= this.#window)
    ) {
      await this.#changed();
    }
  }

  #submit(records: InputRecord[], attempt: number): void {
    const { pool, config, userTask, batchTask, moduleUrl } = this.#p;
    const options = { timeout: config.timeout };
    if (config.chunksize === 1) {
      const record = records[0]!;
      const value = (record as { value: unknown }).value;
      pool.submit(userTask, [value], options).then(
        (result) => this.#single(record, result, attempt),
        (error: unknown) => this.#failed(records, error, attempt),
      );
    } else {
      const values = records.map((record) => (record as { value: unknown }).value);
      pool.submit(batchTask, [moduleUrl, config.exportName, values], options).then(
        (outcomes) => this.#batch(records, outcomes, attempt),
        (error: unknown) => this.#failed(records, error, attempt),
      );
    }
  }

  #single(record: InputRecord, result: unknown, attempt: number): void {
    let json: string;
    try {
      json = resultJson(result);
    } catch (error) {
      this.#finish(record, 'failed', errorRecord(error), attempt);
      return;
    }
    this.#finishOk(record, json, attempt);
  }

  #batch(records: InputRecord[], outcomes: ItemOutcome[], attempt: number): void {
    // Stop first, so that the run's stop reason is the CancelAll even under --fail-fast.
    const thrower = outcomes.find(
      (outcome) => !outcome.ok && 'error' in outcome && outcome.cancelAll,
    );
    const cancelAll =
      thrower !== undefined && 'error' in thrower ? cancelAllFromRecord(thrower.error) : undefined;
    if (cancelAll !== undefined) this.stop('cancel-all', cancelAll);
    records.forEach((record, i) => {
      const outcome = outcomes[i];
      if (outcome === undefined) {
        const error = new Error('the chunk returned no outcome for this item');
        this.#finish(record, 'failed', errorRecord(error), attempt);
      } else if (outcome.ok) {
        this.#finishOk(record, outcome.json, attempt);
      } else if ('skipped' in outcome) {
        const error = new CancelledError(
          'not started: an earlier item of its chunk threw CancelAll',
          { cause: cancelAll },
        );
        this.#finish(record, 'cancelled', errorRecord(error), attempt);
      } else {
        this.#finish(record, 'failed', outcome.error, attempt);
      }
    });
  }

  #failed(records: InputRecord[], error: unknown, attempt: number): void {
    let status: Exclude<Status, 'ok'> = 'failed';
    if (error instanceof WorkerCrashedError) {
      this.#p.stats.crashes++;
      if (attempt <= this.#p.config.retries && !this.#cancelled) {
        this.#p.stats.retries++;
        this.#submit(records, attempt + 1);
        return;
      }
      status = 'crashed';
    } else if (error instanceof TaskTimeoutError) {
      status = 'timeout';
    } else if (error instanceof CancelledError) {
      status = 'cancelled';
    } else if (error instanceof CancelAll) {
      // The library already cancelled this task's siblings; stopping also
      // stops reading and catches tasks submitted since.
      this.stop('cancel-all', error);
    } else if (error instanceof BrokenExecutorError) {
      this.stop('broken', new CancelAll('the workers cannot start'));
    }
    const encoded = errorRecord(error);
    for (const record of records) this.#finish(record, status, encoded, attempt);
  }

  #cancelUnstarted(record: InputRecord): void {
    const reason = this.#stop?.reason;
    const error = new CancelledError('not started: the run stopped', { cause: reason });
    this.#finish(record, 'cancelled', errorRecord(error), 0);
  }

  #finishOk(record: InputRecord, json: string, attempt: number): void {
    this.#p.stats.count('ok');
    this.#p.writer.put(record.index, okRecord(record.index, record.line, json, attempt));
  }

  #finish(
    record: InputRecord,
    status: Exclude<Status, 'ok'>,
    error: ErrorRecord,
    attempt: number,
  ): void {
    this.#p.stats.count(status);
    this.#p.writer.put(
      record.index,
      errorRecordLine(record.index, record.line, status, error, attempt),
    );
    if (this.#p.config.failFast && FAILURES.has(status) && this.#stop === undefined) {
      this.stop(
        'fail-fast',
        new CancelAll(`--fail-fast: record ${record.index} (line ${record.line}) ${status}`),
      );
    }
  }
}

/** A CancelAll rebuilt from its record, to pass to `cancelAll` with the same reason. */
function cancelAllFromRecord(record: ErrorRecord): CancelAll {
  return new CancelAll('reason' in record ? record.reason : record.message);
}
