/**
 * Output: one JSON Lines record per input record, in input order or in
 * completion order, written with the stream's backpressure respected.
 *
 * In input order, a record that finished early waits in a reorder buffer
 * until every record before it is written. The runner counts those waiting
 * records against its in-flight window, so the buffer can never hold more
 * than the window. Records are gathered into writes of up to 64 KiB: one
 * write per record would cost a system call each on a pipe.
 */
import { createWriteStream, statSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { UsageError } from './args.js';
import type { ErrorRecord } from './encode.js';

/** What became of a record. */
export type Status = 'ok' | 'failed' | 'crashed' | 'timeout' | 'cancelled' | 'invalid';

/** The record of a success; `json` is the result's JSON text. */
export function okRecord(index: number, line: number, json: string, attempts: number): string {
  const tail = attempts > 1 ? `,"attempts":${attempts}}` : '}';
  return `{"index":${index},"line":${line},"status":"ok","result":${json}${tail}`;
}

/** The record of anything but a success. */
export function errorRecordLine(
  index: number,
  line: number,
  status: Exclude<Status, 'ok'>,
  error: ErrorRecord,
  attempts: number,
): string {
  const tail = attempts > 1 ? `,"attempts":${attempts}}` : '}';
  return `{"index":${index},"line":${line},"status":"${status}","error":${JSON.stringify(error)}${tail}`;
}

const WRITE_BYTES = 64 * 1024;

/** Writes records to a stream in the chosen order. */
export class RecordWriter {
  readonly #stream: Writable;
  readonly #ordered: boolean;
  readonly #ownsStream: boolean;
  /** Finished records waiting for an earlier one (input order only). */
  readonly #held = new Map<number, string>();
  #next = 0;
  #emitted = 0;
  #pending = '';
  #flushScheduled = false;
  #blocked = false;
  #error: Error | undefined;
  /** Called whenever room may have appeared: records emitted, the stream drained or failed. */
  readonly #onRoom: () => void;

  constructor(
    stream: Writable,
    options: { ordered: boolean; ownsStream: boolean; onRoom: () => void },
  ) {
    this.#stream = stream;
    this.#ordered = options.ordered;
    this.#ownsStream = options.ownsStream;
    this.#onRoom = options.onRoom;
    stream.on('error', (error: Error) => {
      this.#error ??= error;
      this.#blocked = false;
      this.#pending = '';
      // Held records will never be written; count them out so the run can end.
      this.#emitted += this.#held.size;
      this.#held.clear();
      this.#onRoom();
    });
  }

  /** Records that left the reorder buffer (all of them, in completion order). */
  get emitted(): number {
    return this.#emitted;
  }

  /** True while the stream asked to wait for 'drain'. */
  get blocked(): boolean {
    return this.#blocked;
  }

  /** The stream's error, once writing failed (a closed pipe, a full disk). */
  get error(): Error | undefined {
    return this.#error;
  }

  /** Hands over the record of input record `index`. */
  put(index: number, text: string): void {
    if (this.#error !== undefined) {
      // Nothing can be written any more; count it so the run can wind down.
      this.#emitted++;
      return;
    }
    if (!this.#ordered) {
      this.#append(text);
    } else if (index !== this.#next) {
      this.#held.set(index, text);
      return;
    } else {
      this.#append(text);
      this.#next++;
      for (let held = this.#held.get(this.#next); held !== undefined; ) {
        this.#held.delete(this.#next);
        this.#append(held);
        this.#next++;
        held = this.#held.get(this.#next);
      }
    }
    this.#onRoom();
  }

  #append(text: string): void {
    this.#emitted++;
    this.#pending += `${text}\n`;
    if (this.#pending.length >= WRITE_BYTES) this.#flush();
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#pending === '' || this.#error !== undefined) return;
    const text = this.#pending;
    this.#pending = '';
    if (!this.#stream.write(text) && !this.#blocked) {
      this.#blocked = true;
      this.#stream.once('drain', () => {
        this.#blocked = false;
        this.#onRoom();
      });
    }
  }

  /** Hands what is gathered to the stream now (before a forced exit). */
  flushNow(): void {
    this.#flush();
  }

  /** Writes what is left and waits until it reached the file or pipe. */
  async finish(): Promise<void> {
    this.#flush();
    if (this.#error !== undefined) return;
    const stream = this.#stream;
    await new Promise<void>((resolve) => {
      const done = (): void => resolve();
      stream.once('error', done);
      if (this.#ownsStream) {
        stream.once('close', done);
        stream.end();
      } else {
        // stdout cannot be ended; an empty write calls back once everything before it is out.
        stream.write('', done);
      }
    });
  }
}

/** Opens `path` (`-` for stdout). A file that cannot be created is a `UsageError`. */
export async function openOutput(
  path: string,
  inputPath: string,
): Promise<{ stream: Writable; ownsStream: boolean }> {
  if (path === '-') return { stream: process.stdout, ownsStream: false };
  if (inputPath !== '-' && sameFile(path, inputPath)) {
    throw new UsageError(
      `--output expects a file other than the input, got '${path}' (writing it would destroy the input)`,
    );
  }
  const file = createWriteStream(path);
  await new Promise<void>((resolve, reject) => {
    file.once('open', () => resolve());
    file.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new UsageError(
          `--output expects a writable file, got '${path}' (${error.code ?? error.message})`,
        ),
      ),
    );
  });
  return { stream: file, ownsStream: true };
}

function sameFile(a: string, b: string): boolean {
  try {
    const x = statSync(a);
    const y = statSync(b);
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}
