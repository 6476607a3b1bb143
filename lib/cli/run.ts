/**
 * `concurrent-futures map`: everything around the map loop. Checks the
 * module, opens the input, starts the pool and probes the module in a
 * worker before any input is read, opens the output, runs the loop with
 * progress on stderr and interrupt handling, and ends with the summary and
 * the exit code.
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { messageOf } from '../describe.js';
import { CancelAll, ProcessPoolExecutor, task, WorkerCrashedError } from '../index.js';
import { didYouMean } from '../suggest.js';
import { type MapConfig, UsageError } from './args.js';
import type { probe, runBatch } from './batch-task.js';
import { openInput } from './input.js';
import { openOutput, RecordWriter } from './output.js';
import { Progress, type ProgressMode, Stats, summaryLine } from './progress.js';
import { MapRunner, type StopKind } from './runner.js';
import { watchInterrupts } from './signals.js';

const HELPER = new URL('./batch-task.js', import.meta.url);
const probeTask = task<typeof probe>(HELPER, 'probe');
const batchTask = task<typeof runBatch>(HELPER, 'runBatch');

/** Exit codes, as documented in docs/cli.md. */
export const EXIT = Object.freeze({ ok: 0, failed: 1, usage: 2 });

/** The module's absolute path; a missing file is a usage error before any worker starts. */
function modulePathOf(config: MapConfig): string {
  const absolute = resolve(process.cwd(), config.modulePath);
  let isFile: boolean;
  try {
    isFile = statSync(absolute).isFile();
  } catch {
    throw new UsageError(
      `expected <module> to be a file, got '${config.modulePath}', which does not exist (looked for ${absolute})`,
    );
  }
  if (!isFile) {
    throw new UsageError(
      `expected <module> to be a file, got '${config.modulePath}', which is not a file`,
    );
  }
  return absolute;
}

/**
 * Loads the module in a worker once and checks the export, so that a typo
 * is one clear error and not one error record per input line.
 *
 * The probe runs in a pool of its own, shut down afterwards. In the run's
 * pool its quick answer would be the first task time the engine measures,
 * and it sends several tasks at once to a worker whose tasks look quick: the
 * first records would queue behind each other in one worker, a slow one
 * holding back the rest while the other workers idle. Fresh workers take
 * one task at a time until they have timed the user's function.
 */
async function probeModule(url: string, config: MapConfig, signal: AbortSignal): Promise<void> {
  const pool = workerPool(1);
  let found: Awaited<ReturnType<typeof probe>>;
  try {
    found = await pool.submit(probeTask, [url, config.exportName], {
      timeout: config.timeout,
      signal,
    });
  } catch (error) {
    if (signal.aborted) throw error;
    if (error instanceof WorkerCrashedError) {
      throw new UsageError(
        `<module> '${config.modulePath}' crashed its worker while loading (${error.message})`,
      );
    }
    if (TS_EXTENSION.test(config.modulePath) && codeOf(error) === 'ERR_UNKNOWN_FILE_EXTENSION') {
      // The library's hint, for the command line: the workers inherit NODE_OPTIONS.
      throw new UsageError(
        `cannot load <module> '${config.modulePath}': no TypeScript loader is active. ` +
          `Run the command with one; its workers inherit it: NODE_OPTIONS='--import tsx' npx concurrent-futures map ${config.modulePath} ${config.exportName}`,
      );
    }
    throw new UsageError(`cannot load <module> '${config.modulePath}': ${messageOf(error)}`);
  } finally {
    await pool.shutdown({ cancelFutures: true });
  }
  if (!found.found) {
    const { functions } = found;
    const exports = functions.length > 0 ? functions.join(', ') : '(none)';
    let hint = '';
    if (found.got === 'no such export') hint = didYouMean(config.exportName, functions);
    else if (functions.length > 0) {
      hint = `; name one after the module: concurrent-futures map ${config.modulePath} ${functions[0]}`;
    }
    throw new UsageError(
      `expected <module> '${config.modulePath}' to export a function named '${config.exportName}', got ${found.got}; its function exports are: ${exports}${hint}`,
    );
  }
}

const TS_EXTENSION = /\.(?:[cm]?ts|tsx)$/i;

function codeOf(error: unknown): unknown {
  try {
    return (error as { code?: unknown } | null)?.code;
  } catch {
    return undefined;
  }
}

/**
 * A pool whose workers' output goes to the CLI's stderr, a line at a time
 * tagged with the worker's pid: a `console.log` in task code (or a
 * subprocess it starts) must not corrupt the JSON Lines on stdout.
 */
function workerPool(workers: number): ProcessPoolExecutor {
  const pool = new ProcessPoolExecutor({ maxWorkers: workers, stdio: 'pipe' });
  pool.stdout?.pipe(process.stderr, { end: false });
  pool.stderr?.pipe(process.stderr, { end: false });
  return pool;
}

function progressMode(config: MapConfig): ProgressMode {
  if (!config.progress) return 'off';
  // A bar redrawn in place on the terminal that also shows the records would tear both.
  const outputOnTerminal = config.output === '-' && process.stdout.isTTY === true;
  return process.stderr.isTTY === true && !outputOnTerminal ? 'bar' : 'lines';
}

const STOP_TEXT: Record<StopKind, string> = {
  'fail-fast': 'stopped by --fail-fast',
  'cancel-all': 'stopped by CancelAll',
  interrupted: 'interrupted',
  output: 'stopped: the output cannot be written',
  broken: 'stopped: the workers cannot start',
};

/** Runs `map` and returns the exit code. Throws `UsageError` for problems found before the run. */
export async function runMap(config: MapConfig): Promise<number> {
  const absolute = modulePathOf(config);
  const moduleUrl = pathToFileURL(absolute).href;
  const input = await openInput(config.input);
  const stats = new Stats();
  stats.size = input.size;
  const progress = new Progress(stats, progressMode(config), config.progressInterval);
  let runner: MapRunner | undefined;
  let writer: RecordWriter | undefined;
  const interrupts = watchInterrupts((signal) => {
    progress.stop();
    writer?.flushNow();
    if (!config.quiet)
      process.stderr.write(`concurrent-futures: ${signal} again: exiting at once\n`);
  });
  const pool = workerPool(config.workers);
  try {
    await probeModule(moduleUrl, config, interrupts.signal);
    const output = await openOutput(config.output, config.input);
    if (input.interactive && !config.quiet) {
      process.stderr.write(
        'concurrent-futures: reading JSON Lines from the terminal; end with Ctrl-D\n',
      );
    }
    writer = new RecordWriter(output.stream, {
      ordered: config.ordered,
      ownsStream: output.ownsStream,
      onRoom: () => runner?.poke(),
    });
    runner = new MapRunner({
      pool,
      config,
      input,
      writer,
      stats,
      userTask: task(moduleUrl, config.exportName),
      batchTask,
      moduleUrl,
    });
    const active = runner;
    const onInterrupt = (): void => {
      const signal = String(interrupts.signal.reason);
      if (!config.quiet) {
        progress.note(
          `${signal}: cancelling running tasks and writing the finished records (${signal} again exits at once)`,
        );
      }
      active.stop('interrupted', new CancelAll(`interrupted by ${signal}`));
    };
    if (interrupts.signal.aborted) onInterrupt();
    else interrupts.signal.addEventListener('abort', onInterrupt, { once: true });
    progress.start();
    await runner.run();
    await writer.finish();
    progress.stop();
    stats.end();
    // The summary comes last, once no worker is left; after an interrupt a
    // task that ignores its signal holds this for the grace periods (a
    // second signal exits at once).
    await pool.shutdown({ cancelFutures: true });
    const stopped = runner.stopped;
    const outputError = writer.error as NodeJS.ErrnoException | undefined;
    if (outputError !== undefined && outputError.code !== 'EPIPE') {
      process.stderr.write(`concurrent-futures: cannot write the output: ${outputError.message}\n`);
    }
    if (!config.quiet) {
      process.stderr.write(
        `${summaryLine(stats, stopped === undefined ? undefined : STOP_TEXT[stopped.kind])}\n`,
      );
    }
    const interrupted = interrupts.exitCode();
    if (interrupted !== undefined) return interrupted;
    const allOk = stats.byStatus.ok === stats.read && stopped === undefined;
    return allOk ? EXIT.ok : EXIT.failed;
  } catch (error) {
    progress.stop();
    // Interrupted before the run began (while the module was probed).
    const interrupted = interrupts.exitCode();
    if (interrupted !== undefined && !(error instanceof UsageError)) return interrupted;
    throw error;
  } finally {
    input.close();
    // Workers that ignore their aborted signal are killed after the grace period.
    await pool.shutdown({ cancelFutures: true });
    interrupts.dispose();
  }
}
