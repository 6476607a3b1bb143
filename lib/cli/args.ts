/**
 * The command line: parsing (`node:util` parseArgs), validation and the
 * usage text. Every mistake becomes a `UsageError` that names the argument,
 * what was expected and what was given; `main.ts` prints it and exits 2.
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { didYouMean } from '../suggest.js';

/** A bad command line. Exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Settings of a `map` run, validated. */
export interface MapConfig {
  /** The module path as given, resolved against the working directory by the runner. */
  modulePath: string;
  exportName: string;
  /** A file path, or `-` for stdin. */
  input: string;
  /** A file path, or `-` for stdout. */
  output: string;
  workers: number;
  /** Time limit per task (one item, or one chunk) in ms; undefined for none. */
  timeout: number | undefined;
  /** Re-runs of a task whose worker crashed. */
  retries: number;
  chunksize: number;
  /** Output in input order (the default) or in completion order. */
  ordered: boolean;
  failFast: boolean;
  /** Progress bar (TTY) or periodic lines (not a TTY) on stderr. */
  progress: boolean;
  /** ms between progress lines when stderr is not a terminal. */
  progressInterval: number;
  /** No progress and no final summary. */
  quiet: boolean;
}

/**
 * What the command line asks for. `help` is the overview of the commands
 * (`concurrent-futures --help`) or the usage of `map` (`map --help`).
 */
export type Command =
  | { kind: 'help'; usage: string }
  | { kind: 'version' }
  | { kind: 'map'; config: MapConfig };

/** `concurrent-futures --help`: every command, one line each. */
export const OVERVIEW = `Usage: concurrent-futures <command> [options]

Commands:
  map <module> [export]   call a module's function once per JSON Lines input record, on worker processes
  worker                  run a worker node: take the tasks of a DistributedExecutor's queue from Redis

Options:
  -h, --help      show this help; 'concurrent-futures <command> --help' shows a command's options
  -v, --version   show the version

Details: docs/cli.md, docs/distributed.md`;

export const USAGE = `Usage: concurrent-futures map <module> [export] [options]

Calls the exported function of <module> once per line of JSON Lines input, on
worker processes, and writes one JSON Lines record per input line.

  <module>   path of an ES or CommonJS module, relative to the current directory
  [export]   name of the exported function (default: default)

Options:
  -i, --input <file|->         JSON Lines to read, one argument per line (default: - for stdin)
  -o, --output <file|->        where to write the records (default: - for stdout)
  -w, --workers <n>            worker processes (default: ${availableParallelism()}, the available parallelism)
  -t, --timeout <ms>           time limit of each task (an item, or a chunk with --chunksize)
  -r, --retries <n>            re-run a task whose worker crashed, up to n times (default: 0)
  -c, --chunksize <n>          items sent to a worker at once (default: 1)
  -u, --unordered              write records as tasks finish, not in input order
      --fail-fast              stop at the first failed record and cancel the rest
      --no-progress            no progress bar or progress lines on stderr
      --progress-interval <ms> ms between progress lines when stderr is not a terminal (default: 2000)
  -q, --quiet                  no progress and no final summary
  -h, --help                   show this help
  -v, --version                show the version

Exit codes: 0 every record succeeded, 1 some record failed (or the run was
stopped by --fail-fast or CancelAll), 2 usage error (nothing was run),
130 interrupted (SIGINT), 143 terminated (SIGTERM).

Example:
  concurrent-futures map ./tasks.mjs resize --input jobs.jsonl --output results.jsonl -w 4

Details: docs/cli.md`;

const OPTIONS = {
  input: { type: 'string', short: 'i' },
  output: { type: 'string', short: 'o' },
  workers: { type: 'string', short: 'w' },
  timeout: { type: 'string', short: 't' },
  retries: { type: 'string', short: 'r' },
  chunksize: { type: 'string', short: 'c' },
  unordered: { type: 'boolean', short: 'u' },
  'fail-fast': { type: 'boolean' },
  // Node 20's parseArgs has no negated booleans, so `--no-progress` is its own flag.
  'no-progress': { type: 'boolean' },
  'progress-interval': { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

/** Every option as it can be typed, for "did you mean". */
const SPELLINGS: readonly string[] = Object.entries(OPTIONS).flatMap(([name, spec]) =>
  'short' in spec ? [`--${name}`, `-${spec.short}`] : [`--${name}`],
);

/** What each value-taking option expects, for messages. */
const EXPECTED: Record<string, string> = {
  input: 'a file path or -',
  output: 'a file path or -',
  workers: 'an integer >= 1',
  timeout: 'an integer number of milliseconds >= 1',
  retries: 'an integer >= 0',
  chunksize: 'an integer >= 1',
  'progress-interval': 'an integer number of milliseconds >= 1',
};

function integer(option: string, text: string | undefined, min: number, fallback: number): number;
function integer(
  option: string,
  text: string | undefined,
  min: number,
  fallback: undefined,
): number | undefined;
function integer(
  option: string,
  text: string | undefined,
  min: number,
  fallback: number | undefined,
): number | undefined {
  if (text === undefined) return fallback;
  const value = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`--${option} expects ${EXPECTED[option]}, got '${text}'`);
  }
  return value;
}

/** The option named in one of parseArgs' messages, e.g. `'-w, --workers <value>'` -> `--workers`. */
function optionIn(message: string): string | undefined {
  return /'(?:-\w, )?(--?[^'\s,]+)/.exec(message)?.[1];
}

/** Rewrites parseArgs' errors in this tool's terms: what was expected, what was given. */
function translate(error: unknown, argv: string[]): UsageError {
  const { code, message } = error as { code?: string; message: string };
  const option = optionIn(message);
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option !== undefined) {
    return new UsageError(`unknown option '${option}'${didYouMean(option, SPELLINGS)}`);
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option !== undefined) {
    const name = option.replace(/^-+/, '');
    const entry = Object.entries(OPTIONS).find(
      ([key, spec]) => key === name || ('short' in spec && spec.short === name),
    );
    const long = entry?.[0];
    if (entry !== undefined && long !== undefined && EXPECTED[long] !== undefined) {
      const spellings = new Set([`--${long}`, 'short' in entry[1] ? `-${entry[1].short}` : '']);
      const at = argv.findIndex((token) => spellings.has(token));
      // parseArgs refuses a value that looks like an option ("--timeout -5").
      const next = /ambiguous/.test(message) && at >= 0 ? argv[at + 1] : undefined;
      const given =
        next === undefined
          ? 'nothing'
          : `the option '${next}' (a value starting with '-' is written --${long}=${next})`;
      return new UsageError(`--${long} expects ${EXPECTED[long]}, got ${given}`);
    }
    if (long !== undefined) return new UsageError(`--${long} takes no value`);
  }
  return new UsageError(message);
}

/** Parses `argv` (without node and the script). Throws `UsageError`. */
export function parseCommandLine(argv: string[]): Command {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw translate(error, argv);
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help', usage: positionals[0] === 'map' ? USAGE : OVERVIEW };
  if (values.version) return { kind: 'version' };

  const [command, modulePath, exportName, ...extra] = positionals;
  if (command === undefined) throw new UsageError("missing command: expected 'map' or 'worker'");
  if (command !== 'map') {
    throw new UsageError(`unknown command '${command}': expected 'map' or 'worker'`);
  }
  if (modulePath === undefined || modulePath === '') {
    throw new UsageError('missing <module>: expected the path of a JavaScript module');
  }
  if (extra.length > 0) {
    throw new UsageError(
      `unexpected argument '${extra[0]}': expected 'map <module> [export]' followed by options`,
    );
  }
  if (exportName === '') throw new UsageError("expected [export] to be a name, got ''");
  for (const option of ['input', 'output'] as const) {
    if (values[option] === '')
      throw new UsageError(`--${option} expects ${EXPECTED[option]}, got ''`);
  }
  return {
    kind: 'map',
    config: {
      modulePath,
      exportName: exportName ?? 'default',
      input: values.input ?? '-',
      output: values.output ?? '-',
      workers: integer('workers', values.workers, 1, availableParallelism()),
      timeout: integer('timeout', values.timeout, 1, undefined),
      retries: integer('retries', values.retries, 0, 0),
      chunksize: integer('chunksize', values.chunksize, 1, 1),
      ordered: values.unordered !== true,
      failFast: values['fail-fast'] === true,
      progress: values['no-progress'] !== true && values.quiet !== true,
      progressInterval: integer('progress-interval', values['progress-interval'], 1, 2000),
      quiet: values.quiet === true,
    },
  };
}
