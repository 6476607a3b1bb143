/**
 * Telling which task wrote what (`stdio: 'capture'` and `'pipe'`).
 *
 * A worker's stdout and stderr are byte streams, apart from the channel
 * that carries results, and anything may write to them: console.log, a
 * native addon, a subprocess that inherited them. So the worker writes a
 * marker into both streams as each task starts and ends, and the parent
 * splits the streams at the markers:
 *
 *   ...stray... ⟨start 7⟩ output of task 7 ⟨end 7⟩ ...stray... ⟨start 8⟩ ...
 *
 * A marker is an OSC escape sequence (ESC ] ... BEL) with a per-executor
 * nonce, so it cannot be forged by accident and, should one ever reach a
 * terminal, the terminal ignores it. Because output and results travel
 * separately, a task's result may arrive before the end of its output: the
 * engine holds the result of a captured task until both end markers came,
 * for a bounded time (task code may have broken the streams; see
 * worker/output-guard.ts).
 */
/**
 * Makes the nonce that keys the markers of one executor. Web Crypto's
 * global, not `node:crypto`: Node loads it on first use, so an executor
 * without captured or piped output never pays for it (and neither does
 * importing the package).
 */
export function makeNonce(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(6))).toString('hex');
}

/** The marker text for the start (`s`) or end (`e`) of task `id`. */
export function marker(nonce: string, edge: 's' | 'e', id: number): string {
  return `\u001b]9999;cf-${nonce};${edge}${id}\u0007`;
}

/** A regular expression matching every marker of `nonce` (to strip them from crash reports). */
export function markerPattern(nonce: string): RegExp {
  return new RegExp(`\\u001b\\]9999;cf-${nonce};[se]\\d+\\u0007`, 'g');
}

/** What the demultiplexer reports. */
export interface DemuxSink {
  /** Bytes written while task `taskId` ran, or between tasks (`undefined`). */
  data(taskId: number | undefined, chunk: Buffer): void;
  /** Task `taskId`'s end marker arrived: all of its output on this stream is in. */
  end(taskId: number): void;
}

/** The longest marker: prefix, edge letter, a 16-digit id, BEL. */
const MAX_ID_DIGITS = 16;

/** Splits one stream of one worker at the markers. */
export class OutputDemux {
  readonly #prefix: Buffer;
  readonly #sink: DemuxSink;
  /** The task whose start marker was seen last, until its end marker. */
  #current: number | undefined;
  /** Bytes held back because they may be the beginning of a marker. */
  #held: Buffer | undefined;

  constructor(nonce: string, sink: DemuxSink) {
    this.#prefix = Buffer.from(`\u001b]9999;cf-${nonce};`, 'latin1');
    this.#sink = sink;
  }

  /** The task whose output is being received, if any. */
  get current(): number | undefined {
    return this.#current;
  }

  push(chunk: Buffer): void {
    let buffer = this.#held === undefined ? chunk : Buffer.concat([this.#held, chunk]);
    this.#held = undefined;
    for (;;) {
      const at = buffer.indexOf(this.#prefix);
      if (at < 0) {
        const keep = this.#partialPrefixAt(buffer);
        this.#emit(buffer.subarray(0, keep));
        if (keep < buffer.length) this.#held = Buffer.from(buffer.subarray(keep));
        return;
      }
      this.#emit(buffer.subarray(0, at));
      const bodyStart = at + this.#prefix.length;
      const bell = buffer.indexOf(7, bodyStart);
      if (bell < 0) {
        if (buffer.length - bodyStart > MAX_ID_DIGITS + 1) {
          // Not a marker after all (no BEL in reach): it is output.
          this.#emit(buffer.subarray(at, bodyStart));
          buffer = buffer.subarray(bodyStart);
          continue;
        }
        this.#held = Buffer.from(buffer.subarray(at));
        return;
      }
      const body = buffer.toString('latin1', bodyStart, bell);
      const edge = body[0];
      const id = Number(body.slice(1));
      if ((edge === 's' || edge === 'e') && /^\d+$/.test(body.slice(1))) {
        if (edge === 's') {
          this.#current = id;
        } else {
          if (this.#current === id) this.#current = undefined;
          this.#sink.end(id);
        }
      } else {
        this.#emit(buffer.subarray(at, bell + 1));
      }
      buffer = buffer.subarray(bell + 1);
    }
  }

  /** The stream ended: whatever was held back is output after all. */
  finish(): void {
    if (this.#held !== undefined) this.#emit(this.#held);
    this.#held = undefined;
  }

  #emit(bytes: Buffer): void {
    if (bytes.length > 0) this.#sink.data(this.#current, bytes);
  }

  /**
   * Where a possible start of the prefix begins in the last bytes of
   * `buffer` (so that a marker split across chunks is recognised), or
   * `buffer.length` when the tail cannot start one.
   */
  #partialPrefixAt(buffer: Buffer): number {
    const from = Math.max(0, buffer.length - this.#prefix.length + 1);
    for (let i = buffer.lastIndexOf(0x1b); i >= from; i = buffer.lastIndexOf(0x1b, i - 1)) {
      const tail = buffer.subarray(i);
      if (this.#prefix.subarray(0, tail.length).equals(tail)) return i;
      if (i === 0) break;
    }
    return buffer.length;
  }
}

/** How much of each stream one task keeps in `future.output`. */
export const CAPTURE_LIMIT_BYTES = 1024 * 1024;

/** What a task wrote, as kept with `stdio: 'capture'`. */
export interface TaskOutput {
  /** What the task wrote to stdout (the first 1 MiB). */
  stdout: string;
  /** What the task wrote to stderr (the first 1 MiB). */
  stderr: string;
  /** `true` if it wrote more than that on either stream; the rest was dropped. */
  truncated: boolean;
}

/** Collects one task's output on both streams, up to CAPTURE_LIMIT_BYTES each. */
export class Capture {
  readonly #chunks: { stdout: Buffer[]; stderr: Buffer[] } = { stdout: [], stderr: [] };
  readonly #bytes = { stdout: 0, stderr: 0 };
  #truncated = false;
  /** End markers seen (one per stream). */
  ends = 0;

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
}
