/**
 * Input: JSON Lines, read lazily.
 *
 * readline over the stream pauses the stream while its consumer is busy, so
 * a 10-million-line file is never in memory: the runner pulls a record only
 * when its in-flight window has room. Each non-blank line is one record;
 * blank lines are skipped but counted, so line numbers match the file.
 */
import { createReadStream, type ReadStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { UsageError } from './args.js';
import { type ErrorRecord, errorRecord } from './encode.js';

/** One input record: a parsed value, or a line that is not JSON. */
export type InputRecord =
  | { index: number; line: number; offset: number; ok: true; value: unknown }
  | { index: number; line: number; offset: number; ok: false; error: ErrorRecord };

/** An opened input. */
export interface Input {
  /** Records in input order; pulling one reads no further than needed. */
  records: AsyncIterableIterator<InputRecord>;
  /** Size in bytes for a regular file (to estimate the record count), else undefined. */
  size: number | undefined;
  /** Stops reading and releases the stream (after `--fail-fast`, an interrupt). */
  close(): void;
  /** Whether this is the terminal (the user types the records). */
  interactive: boolean;
}

/** How much of a malformed line a record quotes. */
const QUOTE_CHARS = 200;

/** Opens `path` (`-` for stdin). A file that cannot be read is a `UsageError`. */
export async function openInput(path: string): Promise<Input> {
  let stream: Readable;
  let size: number | undefined;
  if (path === '-') {
    stream = process.stdin;
  } else {
    const file = createReadStream(path);
    await new Promise<void>((resolve, reject) => {
      file.once('open', () => resolve());
      file.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          new UsageError(
            `--input expects a readable file, got '${path}' (${error.code ?? error.message})`,
          ),
        ),
      );
    });
    try {
      const stat = statSync(path);
      if (stat.isFile()) size = stat.size;
    } catch {
      // Only an estimate depends on it.
    }
    stream = file;
  }
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  return {
    records: parse(lines[Symbol.asyncIterator]()),
    size,
    interactive: path === '-' && process.stdin.isTTY === true,
    close() {
      lines.close();
      // readline leaves its input open; a pipe or a terminal would keep the process alive.
      if (stream === process.stdin) process.stdin.destroy();
      else (stream as ReadStream).destroy();
    },
  };
}

async function* parse(lines: AsyncIterator<string>): AsyncGenerator<InputRecord> {
  let line = 0;
  let index = 0;
  // Bytes read so far, only for the progress estimate: +1 for each newline
  // (a CRLF file is undercounted by a byte a line, which an estimate can bear).
  let offset = 0;
  while (true) {
    const next = await lines.next();
    if (next.done === true) return;
    let text = next.value;
    line++;
    offset += Buffer.byteLength(text) + 1;
    if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.trim() === '') continue;
    let record: InputRecord;
    try {
      record = { index, line, offset, ok: true, value: JSON.parse(text) as unknown };
    } catch (error) {
      const quoted = text.length > QUOTE_CHARS ? `${text.slice(0, QUOTE_CHARS)}...` : text;
      const encoded = errorRecord(error);
      encoded.message = `line ${line} is not valid JSON: ${encoded.message}`;
      encoded.input = quoted;
      record = { index, line, offset, ok: false, error: encoded };
    }
    index++;
    yield record;
  }
}
