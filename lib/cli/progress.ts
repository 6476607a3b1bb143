/**
 * Counters of a run and how they are shown on stderr: a progress bar
 * (cli-progress) when stderr is a terminal, a plain line every
 * `--progress-interval` ms when it is not (a log file, CI), and one summary
 * line at the end.
 *
 * The total is unknown until the input is fully read. For a regular file
 * it is estimated from the bytes read so far (shown as `~N`); for a pipe
 * only the count done is shown until the end of the input.
 */
import { SingleBar } from 'cli-progress';
import type { Status } from './output.js';

/** Counters, updated by the runner as records finish. */
export class Stats {
  readonly startedAt = performance.now();
  /** Records read from the input. */
  read = 0;
  /** Records finished (any status). */
  done = 0;
  readonly byStatus: Record<Status, number> = {
    ok: 0,
    failed: 0,
    crashed: 0,
    timeout: 0,
    cancelled: 0,
    invalid: 0,
  };
  /** Worker crashes, counting those a retry recovered from. */
  crashes = 0;
  /** Tasks re-run after a crash. */
  retries = 0;
  /** Bytes of input read, and the input's size when it is a regular file. */
  offset = 0;
  size: number | undefined;
  /** The whole input was read: `read` is the total. */
  complete = false;

  count(status: Status): void {
    this.done++;
    this.byStatus[status]++;
  }

  /** The total, exact once the input is read, estimated for a file before that. */
  total(): { value: number; exact: boolean } | undefined {
    if (this.complete) return { value: this.read, exact: true };
    if (this.size === undefined || this.offset === 0) return undefined;
    return {
      value: Math.max(this.read, Math.round((this.read * this.size) / this.offset)),
      exact: false,
    };
  }

  #endedAt: number | undefined;

  /** Stops the clock: the run's time excludes the workers' shutdown. */
  end(): void {
    this.#endedAt ??= performance.now();
  }

  seconds(): number {
    return ((this.#endedAt ?? performance.now()) - this.startedAt) / 1000;
  }
}

/** Rate over the last few seconds, so that a slow start does not weigh forever. */
class RateMeter {
  /** Starts with the run's start, so the first reading already has a span. */
  readonly #samples: Array<{ t: number; done: number }> = [{ t: performance.now(), done: 0 }];
  static readonly SPAN_MS = 10_000;

  sample(done: number): number | undefined {
    const t = performance.now();
    this.#samples.push({ t, done });
    while (this.#samples.length > 2 && t - this.#samples[0]!.t > RateMeter.SPAN_MS) {
      this.#samples.shift();
    }
    const first = this.#samples[0]!;
    const span = t - first.t;
    return span < 200 ? undefined : ((done - first.done) * 1000) / span;
  }
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function plural(n: number, word: string, words = `${word}s`): string {
  return `${n} ${n === 1 ? word : words}`;
}

/** "3 failed, 1 crashed, ..." for the counts that are not zero. */
function problems(stats: Stats): string[] {
  const b = stats.byStatus;
  const parts: string[] = [];
  if (b.failed > 0) parts.push(`${b.failed} failed`);
  if (b.crashed > 0) parts.push(`${b.crashed} crashed`);
  if (b.timeout > 0) parts.push(`${b.timeout} timed out`);
  if (b.cancelled > 0) parts.push(`${b.cancelled} cancelled`);
  if (b.invalid > 0) parts.push(`${b.invalid} invalid`);
  return parts;
}

function workerEvents(stats: Stats): string[] {
  const parts: string[] = [];
  if (stats.crashes > 0) parts.push(plural(stats.crashes, 'worker crash', 'worker crashes'));
  if (stats.retries > 0) parts.push(plural(stats.retries, 'retry', 'retries'));
  return parts;
}

/** The progress state as one line: done/total, rate, ETA and what went wrong so far. */
function statusText(stats: Stats, rate: number | undefined): string {
  const total = stats.total();
  let head: string;
  if (total === undefined) head = `${stats.done} done (${stats.read} read, total not known yet)`;
  else {
    const percent = total.value === 0 ? 100 : Math.floor((stats.done * 100) / total.value);
    head = `${stats.done}/${total.exact ? '' : '~'}${total.value} (${percent}%)`;
  }
  const parts = [head];
  parts.push(rate === undefined ? 'rate ?' : `${rate < 10 ? rate.toFixed(1) : Math.round(rate)}/s`);
  if (total !== undefined && rate !== undefined && rate > 0) {
    parts.push(`ETA ${duration((total.value - stats.done) / rate)}`);
  }
  const b = stats.byStatus;
  parts.push(
    `failed ${b.failed + b.invalid}`,
    `crashes ${stats.crashes}`,
    `timed out ${b.timeout}`,
    `retries ${stats.retries}`,
  );
  return parts.join(' | ');
}

const BAR_WIDTH = 24;

/** Where progress goes: a redrawn bar, periodic lines, or nowhere. */
export type ProgressMode = 'bar' | 'lines' | 'off';

/** Shows a run's progress on stderr until `stop()`. */
export class Progress {
  readonly #stats: Stats;
  readonly #mode: ProgressMode;
  readonly #interval: number;
  readonly #rate = new RateMeter();
  #bar: SingleBar | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(stats: Stats, mode: ProgressMode, interval: number) {
    this.#stats = stats;
    this.#mode = mode;
    this.#interval = interval;
  }

  start(): void {
    if (this.#mode === 'bar') {
      // cli-progress redraws on its own timer (10 per second) and only when
      // the text changed; the text is computed here from the live counters.
      this.#bar = new SingleBar({
        stream: process.stderr,
        hideCursor: true,
        fps: 10,
        format: () => this.#barText(),
      });
      this.#bar.start(0, 0);
    } else if (this.#mode === 'lines') {
      this.#timer = setInterval(() => {
        process.stderr.write(
          `concurrent-futures: ${statusText(this.#stats, this.#sampleRate())}\n`,
        );
      }, this.#interval);
      // Progress lines must never be what keeps the process alive.
      this.#timer.unref();
    }
  }

  #sampleRate(): number | undefined {
    return this.#rate.sample(this.#stats.done);
  }

  #barText(): string {
    const stats = this.#stats;
    const total = stats.total();
    const fraction = total === undefined || total.value === 0 ? 0 : stats.done / total.value;
    const filled = Math.min(BAR_WIDTH, Math.round(fraction * BAR_WIDTH));
    const bar =
      total === undefined
        ? '?'.repeat(BAR_WIDTH)
        : `${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}`;
    return `[${bar}] ${statusText(stats, this.#sampleRate())}`;
  }

  /** Prints a message without tearing the bar. */
  note(message: string): void {
    const line = `concurrent-futures: ${message}\n`;
    if (this.#bar !== undefined) process.stderr.write(`\r\x1b[K${line}`);
    else process.stderr.write(line);
  }

  /** Stops the bar (restoring the cursor) or the periodic lines. Safe to call twice. */
  stop(): void {
    if (this.#bar !== undefined) {
      this.#bar.stop();
      this.#bar = undefined;
    }
    if (this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}

/** The final line: what happened to every record, how long it took, and why it stopped early if it did. */
export function summaryLine(stats: Stats, stopped: string | undefined): string {
  const seconds = stats.seconds();
  const rate = seconds > 0 ? stats.done / seconds : 0;
  const outcome = [`${stats.byStatus.ok} ok`, ...problems(stats)].join(', ');
  const events = workerEvents(stats);
  let line = `concurrent-futures: ${plural(stats.done, 'record')} in ${seconds.toFixed(1)} s (${
    rate < 10 ? rate.toFixed(1) : Math.round(rate)
  }/s): ${outcome}`;
  if (events.length > 0) line += `; ${events.join(', ')}`;
  if (stopped !== undefined) line += `; ${stopped}`;
  return line;
}
