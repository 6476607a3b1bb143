/**
 * Inside a worker: loading task modules. `importModule` imports a module
 * once, `exportOf` finds the export a task names (also through `default`,
 * for a CommonJS module), and when either fails, the errors a user meets
 * are rewritten to say what happened in the user's terms (their path, their
 * export, the `task()` call) and what to do. Shared by the worker runtime
 * (functions.ts) and the CLI's worker helper (cli/batch-task.ts).
 *
 * Every function here reads values that come from user modules (export
 * objects with getters, proxies), so each read is guarded where a message
 * is made: a message must never be the thing that throws.
 */
import { fileURLToPath } from 'node:url';
import { didYouMean } from '../suggest.js';

/**
 * Read when a message needs it: node:worker_threads costs a worker process
 * ~2.5 ms to load at its start, and only a thread's message depends on it.
 */
function isMainThread(): boolean {
  return (process.getBuiltinModule('node:worker_threads') as typeof import('node:worker_threads'))
    .isMainThread;
}

const TS_EXTENSION = /\.(?:[cm]?ts|tsx)$/i;

/**
 * The modules of this package that import a task module: this one, as
 * bundled into the worker entries or as loaded by the CLI's helper. Node
 * names the importer in "Cannot find module ... imported from <file>"; that
 * file is ours, not the user's, so a message must not send them there.
 */
const INTERNAL_IMPORTER = /[\\/]lib[\\/]worker[\\/](?:(?:process|thread)-entry\.cjs|modules\.js)$/;

const modules = new Map<string, Promise<Record<string, unknown>>>();

/**
 * Imports the module at `url` once per worker. A failed import is not
 * kept: the next task may find the module fixed, and reports again if not.
 */
export function importModule(url: string): Promise<Record<string, unknown>> {
  let loading = modules.get(url);
  if (loading === undefined) {
    loading = import(url) as Promise<Record<string, unknown>>;
    loading.catch(() => modules.delete(url));
    modules.set(url, loading);
  }
  return loading;
}

/**
 * The export `name` of `mod`. A CommonJS module's exports may only be
 * reachable through `default` (`module.exports = { double }`, which Node's
 * static analysis may not list as named exports): a function found there
 * is taken when the module has no function of that name itself. May throw
 * (a getter of the module's).
 */
export function exportOf(mod: Record<string, unknown>, name: string): unknown {
  const direct = mod[name];
  if (typeof direct === 'function' || name === 'default') return direct;
  const fallback = (mod.default as Record<string, unknown> | null | undefined)?.[name];
  return typeof fallback === 'function' ? fallback : direct;
}

/** Node 20 and 21 do not run `--import` loaders in worker threads. */
const THREADS_WITHOUT_LOADERS = Number(process.versions.node.split('.')[0]) < 22;

/** A module URL as the user wrote it: the path for a `file:` URL, else the URL. */
export function displayPath(url: string): string {
  try {
    return url.startsWith('file:') ? fileURLToPath(url) : url;
  } catch {
    return url;
  }
}

/** How `task()` was called for this module and export, for messages. */
export function taskCall(url: string, name: string): string {
  const quote = (text: string): string => `'${text.replaceAll("'", "\\'")}'`;
  return name === 'default'
    ? `task(${quote(displayPath(url))})`
    : `task(${quote(displayPath(url))}, ${quote(name)})`;
}

/** "a string", "an object", "null": what a non-function export is. */
export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  const type = typeof value;
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function functionKeys(holder: unknown): string[] {
  if (holder === null || (typeof holder !== 'object' && typeof holder !== 'function')) return [];
  const names: string[] = [];
  let keys: string[];
  try {
    keys = Object.keys(holder);
  } catch {
    return names;
  }
  for (const key of keys) {
    try {
      if (typeof (holder as Record<string, unknown>)[key] === 'function') names.push(key);
    } catch {
      // A throwing getter is not a function export we could call either.
    }
  }
  return names;
}

/**
 * The function exports a task can name: the module's own, plus the
 * function properties of its default export when that is an object. For a
 * CommonJS module that is `module.exports = { double }`, whose properties
 * Node's static analysis may not list as named exports; `task(url,
 * 'double')` finds them through `default`, so a message must list them.
 */
export function functionExports(mod: Record<string, unknown>): string[] {
  const names = functionKeys(mod);
  let fallback: unknown;
  try {
    fallback = mod.default;
  } catch {
    fallback = undefined;
  }
  if (typeof fallback === 'object') {
    for (const key of functionKeys(fallback)) if (!names.includes(key)) names.push(key);
  }
  return names;
}

/** The error of a task whose module has no function of that name. */
export function missingExportError(
  mod: Record<string, unknown>,
  url: string,
  name: string,
  got: unknown,
): TypeError {
  const available = functionExports(mod);
  let found = got === undefined ? 'no such export' : kindOf(got);
  if (name === 'default' && typeof got === 'object' && got !== null) {
    found += ' (for a CommonJS module, module.exports)';
  }
  const hint = got === undefined ? didYouMean(name, available) : '';
  return new TypeError(
    `Expected module ${displayPath(url)} to export a function named '${name}', got ${found}; ` +
      `its function exports are: ${available.length > 0 ? available.join(', ') : '(none)'}${hint}`,
  );
}

function ownString(error: unknown, key: string): string | undefined {
  try {
    const value = (error as Record<string, unknown> | null)?.[key];
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Rewrites an error from `import(url)` of a task module:
 *
 * - a TypeScript module that Node cannot load: say which loader to start
 *   with, or, in a worker thread on Node 20, that loaders do not reach
 *   threads there and what to do instead;
 * - the module itself not found (or a directory): name the `task()` call
 *   and the path, without the internal file Node says imported it;
 * - anything else Node reports as imported from one of our files: the same
 *   without that file.
 *
 * Errors from inside the user's module (a missing dependency, a throw at
 * load time) name the user's files and pass unchanged.
 */
export function explainImportError(error: unknown, url: string, name: string): unknown {
  const code = ownString(error, 'code');
  const message = ownString(error, 'message');
  const path = displayPath(url);
  let pathname: string;
  try {
    pathname = new URL(url).pathname;
  } catch {
    pathname = url;
  }
  if (
    TS_EXTENSION.test(pathname) &&
    (code === 'ERR_UNKNOWN_FILE_EXTENSION' || error instanceof SyntaxError)
  ) {
    const explained = new TypeError(
      !isMainThread() && THREADS_WITHOUT_LOADERS
        ? `Cannot import the TypeScript module ${path} in a worker thread: on Node ${process.versions.node}, ` +
            `loaders such as \`--import tsx\` do not run in worker threads, even when the main thread has one. ` +
            'Use ProcessPoolExecutor for TypeScript task modules (its workers inherit the loader), ' +
            'compile the module to JavaScript, or use a Node version that loads .ts modules itself ' +
            '(Node 22.18 and later strip types by default)'
        : `Cannot import the TypeScript module ${path} in the worker: no TypeScript loader is active. ` +
            "Start node with a loader (for example `node --import tsx main.ts`; workers inherit the parent's execArgv), " +
            "or pass execArgv: ['--import', 'tsx'] to the executor",
      { cause: error },
    );
    if (code !== undefined) Object.assign(explained, { code });
    return explained;
  }
  const missing = ownString(error, 'url');
  if (
    missing === url &&
    (code === 'ERR_MODULE_NOT_FOUND' || code === 'ERR_UNSUPPORTED_DIR_IMPORT')
  ) {
    const what =
      code === 'ERR_MODULE_NOT_FOUND'
        ? `there is no file ${path}`
        : `${path} is a directory; name the module file in it`;
    // No cause: the original names our internal entry file as the importer.
    return Object.assign(new Error(`Cannot load the module of ${taskCall(url, name)}: ${what}`), {
      code,
      url,
    });
  }
  if (message !== undefined) {
    const at = message.lastIndexOf(' imported from ');
    if (at >= 0 && INTERNAL_IMPORTER.test(message.slice(at + ' imported from '.length))) {
      return Object.assign(
        new Error(`Cannot load the module of ${taskCall(url, name)}: ${message.slice(0, at)}`),
        code === undefined ? {} : { code },
      );
    }
  }
  return error;
}
