/**
 * A worker's own stdout and stderr, kept usable for the worker's needs
 * whatever task code does to them.
 *
 * With `stdio: 'capture'` or `'pipe'` the worker writes a marker into both
 * streams as each task starts and ends (wire/markers.ts), and the parent
 * splits the streams there. Task code shares those streams and may do
 * anything to them: replace `process.stdout.write` to silence it, `end()` or
 * `destroy()` them, close the descriptor. So:
 *
 * - markers are written with the `write` method the stream had when the
 *   worker started (or, in a thread, posted straight to the parent), so a
 *   replaced `process.stdout.write` cannot swallow them;
 * - an error on either stream (a write after `end()`, EPIPE, EBADF) is
 *   caught here: left alone it would kill the worker later, while another,
 *   innocent task runs;
 * - `check()` says when a stream became unusable (ended, destroyed,
 *   failed): the worker then stops taking tasks and is replaced, and no task
 *   is blamed; the one that did it keeps its outcome;
 * - `flushed()` waits (bounded) until what a task wrote left the process,
 *   so that its output is not held back behind the next task, which may
 *   block the event loop that writes it.
 *
 * Whatever escapes this (a `_write` replaced by one that never calls back,
 * a native addon closing descriptors) only delays the parent's view of the
 * output: the parent waits for a task's end markers a bounded time.
 */

import { messageOf } from '../describe.js';

/** How long a worker waits for the output of the last task to leave before the next task (ms). */
export const OUTPUT_FLUSH_MS = 5_000;

type Stream = NodeJS.WriteStream;

interface Watched {
  readonly name: 'stdout' | 'stderr';
  readonly stream: Stream;
  /** The stream's `write` when the worker started. */
  readonly write: Stream['write'];
}

export class OutputGuard {
  readonly #streams: Watched[] = [];
  readonly #post: ((text: string) => void) | undefined;
  /** The first error either stream reported. */
  #failure: string | undefined;

  /**
   * `post`, when given, delivers a marker to the parent by other means than
   * the streams (a worker thread's message port), in order with the output.
   *
   * `lazy` (no markers to write): a stream is watched from the moment
   * anything first reads `process.stdout` / `process.stderr`, not made
   * here. Node makes each stream on first use, and a pipe's costs a
   * worker's start 0.5 to 9 ms (measured on Node 20); tasks that never
   * write pay nothing. The first reader still goes through Node's getter
   * wrapped here, so the stream is watched, with its own `write`, before
   * task code can touch it. With markers the streams are needed for the
   * first task anyway and are watched at once.
   */
  constructor(post?: (text: string) => void, lazy = false) {
    this.#post = post;
    for (const name of ['stdout', 'stderr'] as const) {
      const descriptor = lazy ? Object.getOwnPropertyDescriptor(process, name) : undefined;
      const made = descriptor?.get;
      if (made === undefined || descriptor?.configurable !== true) {
        this.#watch(name, process[name]);
        continue;
      }
      let watched = false;
      Object.defineProperty(process, name, {
        configurable: true,
        enumerable: descriptor?.enumerable ?? true,
        get: () => {
          const stream = made.call(process) as Stream;
          if (!watched) {
            watched = true;
            this.#watch(name, stream);
          }
          return stream;
        },
      });
    }
  }

  #watch(name: 'stdout' | 'stderr', stream: Stream): void {
    this.#streams.push({ name, stream, write: stream.write });
    stream.on('error', (error: unknown) => {
      this.#failure ??= `${name} failed: ${messageOf(error)}`;
    });
  }

  /** Writes a marker into both streams; never throws. */
  mark(text: string): void {
    if (this.#post !== undefined) {
      this.#post(text);
      return;
    }
    for (const { name, stream, write } of this.#streams) {
      if (unusable(stream) !== undefined) continue;
      try {
        write.call(stream, text);
      } catch (error) {
        this.#failure ??= `${name} failed: ${messageOf(error)}`;
      }
    }
  }

  /** Why the streams can no longer carry output, or `undefined` while they can. */
  check(): string | undefined {
    if (this.#failure !== undefined) return this.#failure;
    for (const { name, stream } of this.#streams) {
      const why = unusable(stream);
      if (why !== undefined) return `${name} was ${why}`;
    }
    return undefined;
  }

  /**
   * `undefined` when nothing written is waiting in the streams; else a
   * promise that resolves once it left the process (with `undefined`), or
   * after OUTPUT_FLUSH_MS with the reason the output is stuck.
   */
  flushed(): Promise<string | undefined> | undefined {
    const waiting = this.#streams.filter(
      ({ stream }) => unusable(stream) === undefined && stream.writableLength > 0,
    );
    if (waiting.length === 0) return undefined;
    return new Promise((resolve) => {
      let left = waiting.length;
      const timer = setTimeout(() => {
        const names = waiting.map(({ name }) => name).join(' and ');
        resolve(`${names} did not take its output for ${OUTPUT_FLUSH_MS} ms`);
      }, OUTPUT_FLUSH_MS);
      const done = (): void => {
        if (--left > 0) return;
        clearTimeout(timer);
        resolve(undefined);
      };
      for (const { name, stream, write } of waiting) {
        try {
          // Writes complete in order: the callback of an empty write runs
          // once everything written before it is out (or the stream failed,
          // which check() then reports).
          write.call(stream, '', 'utf8', done);
        } catch (error) {
          this.#failure ??= `${name} failed: ${messageOf(error)}`;
          done();
        }
      }
    });
  }
}

function unusable(stream: Stream): string | undefined {
  if (stream.destroyed) return 'destroyed';
  if (stream.writableEnded) return 'ended';
  if (stream.errored !== null && stream.errored !== undefined) return 'failed';
  return undefined;
}
