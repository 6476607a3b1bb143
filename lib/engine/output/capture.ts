/**
 * `stdio: 'capture'`: what one attempt of a task wrote, and its outcome
 * while it waits for the rest of that output.
 *
 * Output and results travel on different channels, so a task's result may
 * arrive before the end of its output. The outcome is then held until both
 * end markers came, for at most OUTPUT_HOLD_MS: the worker writes its end
 * markers before it sends the outcome, so they normally arrive first or
 * right after; they can be missing only when task code broke the worker's
 * streams (see worker/output-guard.ts), and the outcome must never be held
 * hostage by its output.
 */
import type { TaskOutput } from '../../future-support.js';

/** How much of each stream one task keeps in `future.output`. */
export const CAPTURE_LIMIT_BYTES = 1024 * 1024;

/** How long (ms) a finished task's outcome waits for the end markers of its output. */
export const OUTPUT_HOLD_MS = 2_000;

/** A worker's report of a finished task: returned (`ok`) or threw, and its running time. */
export interface HeldOutcome {
  ok: boolean;
  value: unknown;
  ms: number;
}

/** Collects one attempt's output on both streams, up to CAPTURE_LIMIT_BYTES each. */
export class Capture {
  readonly #chunks: { stdout: Buffer[]; stderr: Buffer[] } = { stdout: [], stderr: [] };
  readonly #bytes = { stdout: 0, stderr: 0 };
  #truncated = false;
  /** End markers seen (one per stream). */
  ends = 0;
  /** The outcome, held until both end markers arrived (or OUTPUT_HOLD_MS passed). */
  heldOutcome: HeldOutcome | undefined = undefined;
  #holdTimer: NodeJS.Timeout | undefined = undefined;

  add(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    const room = CAPTURE_LIMIT_BYTES - this.#bytes[stream];
    if (room <= 0) {
      this.#truncated = true;
      return;
    }
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    if (kept !== chunk) this.#truncated = true;
    // Copied: the stream may reuse its buffers.
    this.#chunks[stream].push(Buffer.from(kept));
    this.#bytes[stream] += kept.length;
  }

  result(): TaskOutput {
    return {
      stdout: Buffer.concat(this.#chunks.stdout).toString('utf8'),
      stderr: Buffer.concat(this.#chunks.stderr).toString('utf8'),
      truncated: this.#truncated,
    };
  }

  /** Holds the outcome; `onExpire` runs if the output is still incomplete after OUTPUT_HOLD_MS. */
  hold(outcome: HeldOutcome, onExpire: () => void): void {
    this.heldOutcome = outcome;
    this.#holdTimer = setTimeout(onExpire, OUTPUT_HOLD_MS);
  }

  /** Takes the held outcome, if any; the hold ends. */
  takeHeld(): HeldOutcome | undefined {
    const held = this.heldOutcome;
    this.dispose();
    return held;
  }

  /** Drops the held outcome and its timer (the task is done with). */
  dispose(): void {
    this.heldOutcome = undefined;
    clearTimeout(this.#holdTimer);
    this.#holdTimer = undefined;
  }
}
