/**
 * The output room: everything the engine does with workers' stdout and
 * stderr when they are not simply inherited (`stdio: 'capture'` or
 * `'pipe'`). The engine holds one `OutputRoom` (none with `'inherit'`) and
 * talks to it only:
 *
 * - each worker's output is split at the task markers (wire/markers.ts,
 *   demux.ts) by its `WorkerOutput` (worker-output.ts);
 * - `'capture'`: each attempt of a task gets a fresh `Capture`
 *   (capture.ts), put on its future before it settles; an outcome that
 *   arrives before the end of its output is held a bounded time;
 * - `'pipe'`: every worker's lines are merged into `executor.stdout` and
 *   `executor.stderr` (piped.ts);
 * - every chunk is an `output` event.
 */
import { makeNonce } from '../../wire/markers.js';
import type { TaskRecord } from '../task-record.js';
import type { Telemetry } from '../telemetry.js';
import type { WorkerSlot } from '../worker-slot.js';
import { Capture } from './capture.js';
import { PipedOutput } from './piped.js';
import { type OutputRoute, WorkerOutput } from './worker-output.js';

export class OutputRoom implements OutputRoute {
  /** The nonce of this executor's task markers. */
  readonly nonce = makeNonce();
  readonly telemetry: Telemetry;
  readonly piped: PipedOutput | undefined;
  /** `'capture'`: tasks whose output is being collected, by id. */
  readonly #capturing: Map<number, TaskRecord> | undefined;
  readonly #onComplete: (task: TaskRecord) => void;
  #ended = false;

  /** `onComplete(task)`: both end markers of a captured task arrived. */
  constructor(
    mode: 'capture' | 'pipe',
    telemetry: Telemetry,
    onComplete: (task: TaskRecord) => void,
  ) {
    this.telemetry = telemetry;
    this.piped = mode === 'pipe' ? new PipedOutput() : undefined;
    this.#capturing = mode === 'capture' ? new Map() : undefined;
    this.#onComplete = onComplete;
  }

  /** The splitter of one new worker's output. */
  forWorker(workerId: number | undefined): WorkerOutput {
    return new WorkerOutput(this, workerId);
  }

  lookup(id: number): TaskRecord | undefined {
    return this.#capturing?.get(id);
  }

  complete(task: TaskRecord): void {
    this.#onComplete(task);
  }

  /** A task was sent to a worker: with `'capture'`, a fresh record for this attempt. */
  begin(task: TaskRecord): void {
    if (this.#capturing === undefined) return;
    // A retried task keeps only its last run's output.
    task.capture = new Capture();
    this.#capturing.set(task.id, task);
  }

  /** Puts what the task wrote on its future, before it settles. */
  attach(task: TaskRecord): void {
    const capture = task.capture;
    if (capture === undefined) return;
    task.future._setOutput(capture.result());
    this.forget(task);
  }

  /** Stops collecting the task's output (its attempt is over). */
  forget(task: TaskRecord): void {
    if (task.capture === undefined) return;
    task.capture.dispose();
    task.capture = undefined;
    this.#capturing?.delete(task.id);
  }

  /** Tasks of `slot` that finished and whose outcome waits for their output. */
  heldOn(slot: WorkerSlot): TaskRecord[] {
    const held: TaskRecord[] = [];
    for (const task of this.#capturing?.values() ?? []) {
      if (task.worker === slot && task.capture?.heldOutcome !== undefined) held.push(task);
    }
    return held;
  }

  /** The executor shut down: the merged streams end (once). */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.piped?.end();
  }
}
