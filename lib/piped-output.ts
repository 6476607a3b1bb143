/**
 * `stdio: 'pipe'`: every worker's output merged into two readable streams,
 * `executor.stdout` and `executor.stderr`, a whole line at a time, each line
 * tagged with the pid (thread id) of the worker that wrote it:
 *
 *   [31337] compiling a.ts
 *   [31338] compiling b.ts
 *
 * Lines are never interleaved mid-way; a last line without a newline is
 * passed on when its worker exits.
 */
import { PassThrough } from 'node:stream';

type Stream = 'stdout' | 'stderr';

export class PipedOutput {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  /** Partial lines, by stream and worker. */
  readonly #partial: Record<Stream, Map<number | undefined, Buffer>> = {
    stdout: new Map(),
    stderr: new Map(),
  };

  /** A chunk from worker `pid`, or `null` when that worker's stream ended. */
  write(pid: number | undefined, stream: Stream, chunk: Buffer | null): void {
    const partial = this.#partial[stream];
    const held = partial.get(pid);
    if (chunk === null) {
      partial.delete(pid);
      if (held !== undefined) this[stream].write(this.#tag(pid, Buffer.concat([held, NEWLINE])));
      return;
    }
    const data = held === undefined ? chunk : Buffer.concat([held, chunk]);
    const end = data.lastIndexOf(0x0a);
    if (end < 0) {
      partial.set(pid, Buffer.from(data));
      return;
    }
    if (end + 1 < data.length) partial.set(pid, Buffer.from(data.subarray(end + 1)));
    else partial.delete(pid);
    this[stream].write(this.#tag(pid, data.subarray(0, end + 1)));
  }

  /** Ends both streams (the executor shut down). */
  end(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      for (const pid of [...this.#partial[stream].keys()]) this.write(pid, stream, null);
      this[stream].end();
    }
  }

  /** Prefixes every line of `lines` (which ends with a newline) with the worker's tag. */
  #tag(pid: number | undefined, lines: Buffer): Buffer {
    const prefix = Buffer.from(`[${pid ?? '?'}] `);
    const parts: Buffer[] = [];
    let start = 0;
    for (let nl = lines.indexOf(0x0a); nl >= 0; nl = lines.indexOf(0x0a, start)) {
      parts.push(prefix, lines.subarray(start, nl + 1));
      start = nl + 1;
    }
    return Buffer.concat(parts);
  }
}

const NEWLINE = Buffer.from('\n');
