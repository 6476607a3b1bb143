/**
 * `concurrent-futures worker`: a worker node of `concurrent-futures/distributed`
 * on this machine, until SIGTERM or SIGINT (drain: finish the running
 * tasks, take no new ones, exit 0); a second signal stops at once (running
 * tasks are cancelled and run again elsewhere, within their retries).
 *
 * The distributed module (and BullMQ with it) is loaded only here, only for
 * this command.
 */
import { parseArgs } from 'node:util';
import { UsageError } from './args.js';

export const WORKER_USAGE = `Usage: concurrent-futures worker --redis <url> --queue <name> [options]

Runs a worker node: takes the tasks of a DistributedExecutor's queue from
Redis and runs them in worker processes on this machine. SIGTERM or SIGINT
drains it (running tasks finish, no new ones start) and it exits; a second
signal stops it at once. Needs the packages bullmq and ioredis.

Options:
      --redis <url>              Redis, e.g. redis://10.0.0.5:6379 (required)
      --queue <name>             the queue's name (required)
  -c, --concurrency <n>          tasks run at once (default: --workers, or the available parallelism)
  -w, --workers <n>              worker processes (default: --concurrency)
      --root <dir>               resolve relative task modules against <dir> (default: the current directory)
      --allow-inline-functions   also run inline functions (source text); see the security note in docs/distributed.md
      --prefix <prefix>          BullMQ key prefix (default: bull)
      --name <name>              the node's name in stats and errors (default: host:pid)
      --lock-duration <ms>       job lock; a killed node's jobs run elsewhere after about this (default: 4000)
      --stalled-interval <ms>    between checks for other nodes' stalled jobs (default: lock-duration / 2)
      --max-value-size <bytes>   largest result or error sent back (default: 16777216)
      --connect-timeout <ms>     give up if Redis cannot be reached (default: 5000)
  -q, --quiet                    no status lines
  -h, --help                     show this help

Details: docs/distributed.md`;

const OPTIONS = {
  redis: { type: 'string' },
  queue: { type: 'string' },
  concurrency: { type: 'string', short: 'c' },
  workers: { type: 'string', short: 'w' },
  root: { type: 'string' },
  'allow-inline-functions': { type: 'boolean' },
  prefix: { type: 'string' },
  name: { type: 'string' },
  'lock-duration': { type: 'string' },
  'stalled-interval': { type: 'string' },
  'max-value-size': { type: 'string' },
  'connect-timeout': { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Settings of a worker node, from the command line. */
export interface WorkerConfig {
  redis: string;
  queue: string;
  concurrency: number | undefined;
  workers: number | undefined;
  root: string | undefined;
  allowInlineFunctions: boolean;
  prefix: string | undefined;
  name: string | undefined;
  lockDuration: number | undefined;
  stalledInterval: number | undefined;
  maxValueSize: number | undefined;
  connectTimeout: number | undefined;
  quiet: boolean;
}

function integer(option: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  const value = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`--${option} expects an integer >= ${min}, got '${text}'`);
  }
  return value;
}

/** Parses the arguments after `worker`. Throws `UsageError`; `undefined` means --help. */
export function parseWorkerArgs(argv: string[]): WorkerConfig | undefined {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`worker: ${(error as Error).message}`);
  }
  const { values, positionals } = parsed;
  if (values.help) return undefined;
  if (positionals.length > 0) {
    throw new UsageError(`worker: unexpected argument '${positionals[0]}': expected only options`);
  }
  if (values.redis === undefined || values.redis === '') {
    throw new UsageError('worker: missing --redis <url>, e.g. --redis redis://127.0.0.1:6379');
  }
  if (values.queue === undefined || values.queue === '') {
    throw new UsageError('worker: missing --queue <name>');
  }
  return {
    redis: values.redis,
    queue: values.queue,
    concurrency: integer('concurrency', values.concurrency, 1),
    workers: integer('workers', values.workers, 1),
    root: values.root,
    allowInlineFunctions: values['allow-inline-functions'] === true,
    prefix: values.prefix,
    name: values.name,
    lockDuration: integer('lock-duration', values['lock-duration'], 1),
    stalledInterval: integer('stalled-interval', values['stalled-interval'], 1),
    maxValueSize: integer('max-value-size', values['max-value-size'], 1),
    connectTimeout: integer('connect-timeout', values['connect-timeout'], 1),
    quiet: values.quiet === true,
  };
}

/** Runs `concurrent-futures worker ...`; resolves with the exit code once the node has closed. */
export async function runWorkerCommand(argv: string[]): Promise<number> {
  const config = parseWorkerArgs(argv);
  if (config === undefined) {
    process.stdout.write(`${WORKER_USAGE}\n`);
    return 0;
  }
  const say = (line: string): void => {
    if (!config.quiet) process.stdout.write(`${line}\n`);
  };
  let node: import('../distributed/index.js').WorkerNode;
  try {
    // Loaded here only: a missing bullmq or ioredis is reported like any other start failure.
    const { startWorker } = await import('../distributed/index.js');
    node = await startWorker({
      connection: config.redis,
      queue: config.queue,
      concurrency: config.concurrency,
      maxWorkers: config.workers,
      root: config.root,
      allowInlineFunctions: config.allowInlineFunctions,
      prefix: config.prefix,
      name: config.name,
      lockDuration: config.lockDuration,
      stalledInterval: config.stalledInterval,
      maxValueSize: config.maxValueSize,
      connectTimeout: config.connectTimeout,
    });
  } catch (error) {
    process.stderr.write(
      `concurrent-futures worker: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    return 1;
  }
  const { id, concurrency } = node.stats();
  say(`worker node ${id} ready: queue '${config.queue}', concurrency ${concurrency}`);
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      say(`worker node ${id}: ${signal}, draining (a second signal stops at once)`);
      void node.close();
    } else {
      say(`worker node ${id}: ${signal} again, stopping now`);
      void node.close({ force: true });
    }
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  await node.closed;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  const { completed, failed } = node.stats();
  say(`worker node ${id} closed: ${completed} tasks run, ${failed} failed`);
  return 0;
}
