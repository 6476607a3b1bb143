/**
 * Splitting one stream of one worker at the task markers (wire/markers.ts):
 * bytes between a task's start and end markers are that task's output,
 * bytes outside any are stray output (between tasks, or from a process the
 * task left running).
 */
import { MAX_ID_DIGITS, markerPrefix } from '../../wire/markers.js';

/** What the demultiplexer reports. */
export interface DemuxSink {
  /** Bytes written while task `taskId` ran, or between tasks (`undefined`). */
  data(taskId: number | undefined, chunk: Buffer): void;
  /** Task `taskId`'s end marker arrived: all of its output on this stream is in. */
  end(taskId: number): void;
}

/** Splits one stream of one worker at the markers. */
export class OutputDemux {
  readonly #prefix: Buffer;
  readonly #sink: DemuxSink;
  /** The task whose start marker was seen last, until its end marker. */
  #current: number | undefined;
  /** Bytes held back because they may be the beginning of a marker. */
  #partialMarker: Buffer | undefined;

  constructor(nonce: string, sink: DemuxSink) {
    this.#prefix = Buffer.from(markerPrefix(nonce), 'latin1');
    this.#sink = sink;
  }

  /** The task whose output is being received, if any. */
  get current(): number | undefined {
    return this.#current;
  }

  push(chunk: Buffer): void {
    let buffer =
      this.#partialMarker === undefined ? chunk : Buffer.concat([this.#partialMarker, chunk]);
    this.#partialMarker = undefined;
    for (;;) {
      const at = buffer.indexOf(this.#prefix);
      if (at < 0) {
        const keep = this.#partialPrefixAt(buffer);
        this.#emit(buffer.subarray(0, keep));
        if (keep < buffer.length) this.#partialMarker = Buffer.from(buffer.subarray(keep));
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
        this.#partialMarker = Buffer.from(buffer.subarray(at));
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
    if (this.#partialMarker !== undefined) this.#emit(this.#partialMarker);
    this.#partialMarker = undefined;
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
