/**
 * `stdio: 'pipe'` merges the workers' output into tagged lines
 * (lib/engine/output/piped.ts). A worker may write without newlines (a progress
 * bar redrawn with `\r`): the parent must neither hold such a line whole
 * nor pay more than linear time for it.
 */
import { expect } from 'chai';
import { MAX_LINE_BYTES, PipedOutput } from '../lib/engine/output/piped.js';

/** Everything written to `stream` so far, collected synchronously. */
function collect(stream: NodeJS.ReadableStream): () => Buffer {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return () => Buffer.concat(chunks);
}

/** The lines of `text` (each with its newline removed), checked to carry `tag`. */
function payloads(output: Buffer, tag: string): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  for (let nl = output.indexOf(0x0a); nl >= 0; nl = output.indexOf(0x0a, start)) {
    const line = output.subarray(start, nl);
    expect(line.subarray(0, tag.length).toString()).to.equal(tag);
    lines.push(line.subarray(tag.length));
    start = nl + 1;
  }
  expect(start, 'output ends with a newline').to.equal(output.length);
  return lines;
}

/** Lets the PassThrough deliver what was written. */
const flushed = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('stdio: pipe line merging', () => {
  it('passes whole lines on with their worker tag, holding a partial line until its newline', async () => {
    const piped = new PipedOutput();
    const out = collect(piped.stdout);
    piped.write(1, 'stdout', Buffer.from('one\ntw'));
    piped.write(2, 'stdout', Buffer.from('alpha'));
    piped.write(1, 'stdout', Buffer.from('o\nthr'));
    piped.write(2, 'stdout', Buffer.from(' beta\n'));
    await flushed();
    expect(out().toString()).to.equal('[1] one\n[1] two\n[2] alpha beta\n');
    piped.write(1, 'stdout', null);
    piped.end();
    await flushed();
    expect(out().toString()).to.equal('[1] one\n[1] two\n[2] alpha beta\n[1] thr\n');
  });

  it('a line longer than the bound comes out in pieces of at most the bound as it arrives, never held whole', async () => {
    const piped = new PipedOutput();
    const out = collect(piped.stdout);
    const total = 16 * MAX_LINE_BYTES + 123;
    const input = Buffer.alloc(total, 'x');
    for (let at = 0; at < total; at += 1000)
      piped.write(7, 'stdout', input.subarray(at, at + 1000));
    await flushed();
    const before = payloads(out(), '[7] ');
    expect(before).to.have.length(16);
    for (const piece of before) expect(piece.length).to.equal(MAX_LINE_BYTES);
    piped.end();
    await flushed();
    const all = payloads(out(), '[7] ');
    expect(Buffer.concat(all).equals(input)).to.equal(true);
    expect(all.at(-1)?.length).to.equal(123);
  });

  it('splits a long line only between characters, never inside a multi-byte one', async () => {
    const piped = new PipedOutput();
    const out = collect(piped.stderr);
    // 'é' is two bytes, '€' three: the bound falls inside characters.
    const text = 'é€'.repeat(MAX_LINE_BYTES);
    const bytes = Buffer.from(text);
    for (let at = 0; at < bytes.length; at += 4093) {
      piped.write(3, 'stderr', bytes.subarray(at, at + 4093));
    }
    piped.write(3, 'stderr', Buffer.from('\n'));
    await flushed();
    const pieces = payloads(out(), '[3] ');
    expect(pieces.length).to.be.above(1);
    for (const piece of pieces) {
      expect(piece.length).to.be.at.most(MAX_LINE_BYTES);
      expect(Buffer.from(piece.toString('utf8')).equals(piece), 'valid UTF-8').to.equal(true);
    }
    expect(pieces.map((p) => p.toString('utf8')).join('')).to.equal(text);
  });

  it('copies each byte of a line without newlines a bounded number of times (linear, not quadratic)', async () => {
    // Counts the bytes Buffer.concat and Buffer.from produce while the lines
    // are merged: joining the held bytes with each new chunk, as before,
    // copies n²/2c bytes for n bytes in chunks of c.
    const piped = new PipedOutput();
    const out = collect(piped.stdout);
    const concat = Buffer.concat;
    const from = Buffer.from;
    let copied = 0;
    Buffer.concat = ((list: readonly Uint8Array[], length?: number) => {
      const result = concat(list, length);
      copied += result.length;
      return result;
    }) as typeof Buffer.concat;
    Buffer.from = ((...args: Parameters<typeof Buffer.from>) => {
      const result = (from as (...a: unknown[]) => Buffer)(...args);
      copied += result.length;
      return result;
    }) as typeof Buffer.from;
    const total = 2 * 1024 * 1024;
    const chunk = from('0123456789abcdef'.repeat(4));
    try {
      for (let written = 0; written < total; written += chunk.length) {
        piped.write(1, 'stdout', chunk);
      }
      piped.write(1, 'stdout', null);
    } finally {
      Buffer.concat = concat;
      Buffer.from = from;
    }
    piped.end();
    await flushed();
    expect(Buffer.concat(payloads(out(), '[1] ')).length).to.equal(total);
    expect(copied, `bytes copied for ${total} bytes of output`).to.be.below(4 * total);
  });
});
