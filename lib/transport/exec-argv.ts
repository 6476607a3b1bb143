/**
 * What a worker process inherits of its parent's Node options, and the
 * guard against a worker starting a pool by accident.
 *
 * A worker is `node <execArgv> <worker entry>`. The parent's execArgv holds
 * options a worker needs (a loader such as `--import tsx`, `--conditions`,
 * memory limits, `--enable-source-maps`) but also options that say what to
 * run instead of a file: `node -e "<script>"`, `-p`, `--input-type`,
 * `--test`, `--watch`, `-i`... A worker started with `-e <script>` runs the
 * script, not the worker entry; if the script starts a pool, every worker
 * starts its own, without end: a fork bomb. So only options that shape how
 * code runs are inherited, never those that choose what runs.
 *
 * And should a worker run pool-starting code anyway (a preload given in
 * `execArgv` on purpose, a flag this list does not know), the guard stops
 * it: a worker is started with WORKER_ENV naming its parent, and the worker
 * entry removes it as soon as it runs. A process that still has it, and
 * whose parent is the one it names, is a worker whose entry has not run:
 * code running there is not task code, and it may not start workers. Task
 * code runs after the entry, so pools started by tasks on purpose (nested
 * pools) work, and so do programs that tasks start (the variable is gone).
 */
import { BrokenExecutorError } from '../errors.js';

/** Set in a worker's environment to its parent's pid; removed by the worker entry. */
export const WORKER_ENV = 'CONCURRENT_FUTURES_WORKER_OF';

/**
 * Options that say what to run, or that make node do something other than
 * run its file (evaluate, print, test, watch, check, build a snapshot,
 * print help), or that a second process cannot share (a debugger port).
 */
const DROPPED = [
  /^--(eval|print|interactive|check|input-type|run|entry-url)$/,
  /^--(test|watch)(-.*)?$/,
  /^--experimental-test-/,
  /^--(inspect|debug)(-brk|-port|-wait|-publish-uid)?$/,
  /^--(build-snapshot|build-snapshot-config|snapshot-blob|experimental-sea-config)$/,
  /^--(prof-process|v8-options|help|version|completion-bash)$/,
  /^--$/,
];

/** Options that take a value, which may be written as the next token (and may start with `-`). */
const TAKES_VALUE = new Set([
  '--eval',
  '--print',
  '--require',
  '--import',
  '--loader',
  '--experimental-loader',
  '--conditions',
  '--input-type',
  '--run',
  '--watch-path',
  '--title',
  '--env-file',
  '--env-file-if-exists',
  '--disable-warning',
  '--unhandled-rejections',
  '--inspect-port',
  '--debug-port',
  '--inspect-publish-uid',
  '--snapshot-blob',
  '--build-snapshot-config',
  '--experimental-sea-config',
  '--test-name-pattern',
  '--test-skip-pattern',
  '--test-reporter',
  '--test-reporter-destination',
  '--test-shard',
  '--test-concurrency',
  '--test-timeout',
  '--redirect-warnings',
  '--report-dir',
  '--report-directory',
  '--report-filename',
  '--report-signal',
  '--diagnostic-dir',
  '--cpu-prof-dir',
  '--cpu-prof-name',
  '--heap-prof-dir',
  '--heap-prof-name',
  '--heapsnapshot-signal',
  '--trace-event-categories',
  '--trace-event-file-pattern',
  '--icu-data-dir',
  '--openssl-config',
  '--experimental-policy',
  '--policy-integrity',
  '--dns-result-order',
  '--allow-fs-read',
  '--allow-fs-write',
]);

/** Short options a worker keeps: `-r <module>` (`--require`) and `-C <condition>` (`--conditions`). */
const KEPT_SHORT = new Set(['-r', '-C']);

/**
 * The options of `execArgv` a worker should inherit: loaders, conditions,
 * memory and V8 flags, warnings, source maps... and none that say what to
 * run (`-e`, `-p`, `--input-type`, `--test`, `--watch`, `-i`, `-c`, ...) or
 * that a second process cannot share (`--inspect`). What is unknown is
 * kept, except short options (`-x`), which all say what to run or print,
 * but for `-r` and `-C`.
 */
export function inheritedExecArgv(execArgv: readonly string[] = process.execArgv): string[] {
  const kept: string[] = [];
  // Whether the option just seen was kept, while its value may follow.
  let keepValue: boolean | undefined;
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    if (!arg.startsWith('-') || arg === '-') {
      // A value of the option before it ('-' alone is "read the script from stdin").
      if (keepValue === true) kept.push(arg);
      keepValue = undefined;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg : arg.slice(0, eq);
    let keep: boolean;
    let valueNext: boolean;
    if (!arg.startsWith('--')) {
      // A short option or a cluster of them (`-pe`): e, p, r and C take a value.
      keep = KEPT_SHORT.has(name);
      valueNext = eq < 0 && /[eprC]/.test(name.slice(1));
    } else {
      keep = !DROPPED.some((pattern) => pattern.test(name));
      valueNext = eq < 0 && TAKES_VALUE.has(name);
    }
    if (keep) kept.push(arg);
    if (valueNext && i + 1 < execArgv.length) {
      i++;
      if (keep) kept.push(execArgv[i]!);
      keepValue = undefined;
    } else {
      keepValue = eq < 0 ? keep : undefined;
    }
  }
  return kept;
}

/** The environment of a new worker: the given one (or the parent's), naming its parent. */
export function workerEnv(env: NodeJS.ProcessEnv | undefined): NodeJS.ProcessEnv {
  return { ...(env ?? process.env), [WORKER_ENV]: String(process.pid) };
}

/**
 * Throws when this process is a pool worker whose entry has not run (see
 * the top of this file): starting workers from here would repeat itself in
 * every worker.
 */
export function refuseAccidentalPool(): void {
  const parent = process.env[WORKER_ENV];
  if (parent === undefined || parent !== String(process.ppid)) return;
  throw new BrokenExecutorError(
    `This process (${process.pid}) is a worker of a ProcessPoolExecutor in process ${parent}, ` +
      'and code that runs before or instead of its worker entry started a pool here: a script ' +
      'given with -e/--eval or -p, or a preload (--import, --require) that the workers run too. ' +
      'Each worker would start a pool of its own, without end, so no worker is started. ' +
      'Start pools from the main module or from task code, not from code every worker preloads.',
  );
}

/** Called by the worker entry once it runs: from now on, code here is task code. */
export function markWorkerEntryStarted(): void {
  delete process.env[WORKER_ENV];
}
