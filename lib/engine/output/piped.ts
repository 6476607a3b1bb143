/**
 * `stdio: 'pipe'`: every worker's output merged into two readable streams,
 * `executor.stdout` and `executor.stderr`, a whole line at a time, each line
 * tagged with the pid (thread id) of the worker that wrote it:
 *
 *   [31337] compiling a.ts
 *   [31338] compiling b.ts
 *
 * Lines are never interleaved mid-way; a last line without a newline is
 * passed on when its worker exits. A line longer than MAX_LINE_BYTES is
 * passed on in pieces of that size, each ending with a newline (a progress
 * bar that redraws itself with `\r` writes one endless line).
 *
 * The cost is linear in the output: the partial line of each worker is held
 * as the list of chunks it came in, each copied once, and joined once when
 * the line is complete. (Joining the held bytes with every new chunk made a
 * line without a newline cost quadratic time: 32 MB took 20 s of CPU.)
 */
import { PassThrough } from 'node:stream';

type Stream = 'stdout' | 'stderr';

/** The longest line passed on whole; longer ones are split into pieces of this size. */
export const MAX_LINE_BYTES = 64 * 1024;

/** The start of a line not yet complete: its chunks, and their total size. */
interface PartialLine {
  chunks: Buffer[];
  bytes: number;
}

export class PipedOutput {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  /** Partial lines, by stream and worker. */
  readonly #partial: Record<Stream, Map<number | undefined, PartialLine>> = {
    stdout: new Map(),
    stderr: new Map(),
  };

  /**
   * A chunk from worker `pid` (process id, or thread id), or `null` when
   * that worker's stream ended.
   */
  write(pid: number | undefined, stream: Stream, chunk: Buffer | null): void {
    const partial = this.#partial[stream];
    const started = partial.get(pid);
    if (chunk === null) {
      partial.delete(pid);
      if (started !== undefined) this[stream].write(this.#line(pid, started.chunks, NEWLINE));
      return;
    }
    const out: Buffer[] = [];
    let start = 0;
    let line = started?.chunks ?? [];
    let lineBytes = started?.bytes ?? 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      line.push(chunk.subarray(start, nl + 1));
      lineBytes += nl + 1 - start;
      this.#pieces(pid, line, lineBytes, out, true);
      line = [];
      lineBytes = 0;
      start = nl + 1;
    }
    if (start < chunk.length) {
      // Copied: the stream may reuse its buffer for the next chunk.
      line.push(Buffer.from(chunk.subarray(start)));
      lineBytes += chunk.length - start;
    }
    const rest = this.#pieces(pid, line, lineBytes, out, false);
    if (rest === undefined) partial.delete(pid);
    else partial.set(pid, rest);
    if (out.length > 0) this[stream].write(out.length === 1 ? out[0]! : Buffer.concat(out));
  }

  /** Ends both streams (the executor shut down). */
  end(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      for (const pid of [...this.#partial[stream].keys()]) this.write(pid, stream, null);
      this[stream].end();
    }
  }

  /**
   * Tags the line made of `chunks` (`bytes` long) into `out`, split into
   * pieces of at most MAX_LINE_BYTES. `complete`: it ends with its newline.
   * Otherwise the pieces that reach the bound are passed on and the rest is
   * returned, to be held until more comes.
   */
  #pieces(
    pid: number | undefined,
    chunks: Buffer[],
    bytes: number,
    out: Buffer[],
    complete: boolean,
  ): PartialLine | undefined {
    if (bytes === 0) return undefined;
    if (bytes <= MAX_LINE_BYTES) {
      if (complete) {
        out.push(this.#line(pid, chunks, undefined));
        return undefined;
      }
      return { chunks, bytes };
    }
    // Long: join once, then cut it at character boundaries.
    const all = Buffer.concat(chunks, bytes);
    let at = 0;
    while (all.length - at > MAX_LINE_BYTES) {
      const end = charBoundary(all, at + MAX_LINE_BYTES);
      out.push(this.#line(pid, [all.subarray(at, end)], NEWLINE));
      at = end;
    }
    const tail = all.subarray(at);
    if (complete) {
      out.push(this.#line(pid, [tail], undefined));
      return undefined;
    }
    return tail.length === 0 ? undefined : { chunks: [tail], bytes: tail.length };
  }

  /** One tagged line: the worker's tag, the chunks, and `end` (a newline) if given. */
  #line(pid: number | undefined, chunks: Buffer[], end: Buffer | undefined): Buffer {
    const parts = [Buffer.from(`[${pid ?? '?'}] `), ...chunks];
    if (end !== undefined) parts.push(end);
    return Buffer.concat(parts);
  }
}

/**
 * `at`, moved back to the start of the UTF-8 character it falls in (at most
 * 3 bytes back), so that a split never cuts a character in two.
 */
function charBoundary(buffer: Buffer, at: number): number {
  for (let i = at; i > at - 4 && i > 0; i--) {
    // Continuation bytes are 10xxxxxx: a character starts at any other byte.
    if ((buffer[i]! & 0xc0) !== 0x80) return i;
  }
  return at;
}

const NEWLINE = Buffer.from('\n');
