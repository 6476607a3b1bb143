/**
 * Task references that cross machines.
 *
 * The package's `task()` wants a URL or an absolute path: right for a local
 * pool, where parent and workers share a file system. Across machines the
 * natural name of a module is relative to the checkout each node runs in,
 * or a package name. This `task()` accepts those too:
 *
 * - `task('./tasks.js', 'thumbnail')`: a path relative to each node's root
 *   (`--root`, default its working directory);
 * - `task('@acme/tasks', 'thumbnail')`: a module name, resolved by each node
 *   from its root (node_modules);
 * - a URL or an absolute path: used as it is on every node (the same
 *   checkout everywhere, as in containers).
 *
 * References made from relative paths or module names are meant for
 * DistributedExecutor; a local pool cannot resolve them.
 */
import { createRequire, isBuiltin } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type AnyFunction, task as localTask, type TaskRef } from '../index.js';
import { typeError } from './internal.js';

const TASK_REF = Symbol.for('concurrent-futures.TaskRef');
const HAS_SCHEME = /^[a-z][a-z0-9+.-]*:/i;
const WINDOWS_DRIVE = /^[a-z]:[\\/]/i;

/**
 * A typed reference to `exportName` of a module, for `submit` and `map` of
 * DistributedExecutor (and of the local pools, when `module` is a URL or an
 * absolute path). `module` may also be a path relative to each worker
 * node's root (`'./tasks.js'`) or a module name (`'@acme/tasks'`).
 *
 * @example
 * ```ts
 * import { DistributedExecutor, task } from 'concurrent-futures/distributed';
 * const thumbnail = task<typeof import('./tasks.js').thumbnail>('./tasks.js', 'thumbnail');
 * const future = executor.submit(thumbnail, ['photos/1.jpg']);
 * ```
 */
export function task<F extends AnyFunction>(
  module: string | URL,
  exportName = 'default',
): TaskRef<F> {
  if (
    module instanceof URL ||
    typeof module !== 'string' ||
    isAbsolute(module) ||
    WINDOWS_DRIVE.test(module) ||
    HAS_SCHEME.test(module)
  ) {
    return localTask<F>(module, exportName);
  }
  if (module === '' || module.trim() !== module) {
    throw typeError('module', 'a module name, a relative path, a URL or an absolute path', module);
  }
  if (typeof exportName !== 'string' || exportName === '') {
    throw typeError('exportName', 'a non-empty string', exportName);
  }
  const ref = { url: module, exportName } as TaskRef<F>;
  Object.defineProperty(ref, TASK_REF, { value: true });
  return Object.freeze(ref);
}

/** `true` for a path a node resolves against its root: `./x.js`, `../x.js`. */
function isRelative(spec: string): boolean {
  return spec.startsWith('./') || spec.startsWith('../') || spec === '.' || spec === '..';
}

/**
 * What a node imports for a reference's module: a URL as it is, an absolute
 * path as a file URL, a relative path resolved against `root`, a module name
 * resolved from `root` (or, if that fails, left to Node's own resolution
 * from where this package is installed).
 */
export function resolveModule(spec: string, root: string): string {
  if (HAS_SCHEME.test(spec) && !WINDOWS_DRIVE.test(spec)) return spec;
  if (isAbsolute(spec) || WINDOWS_DRIVE.test(spec)) return pathToFileURL(spec).href;
  if (isRelative(spec)) return pathToFileURL(resolve(root, spec)).href;
  if (isBuiltin(spec)) return spec.startsWith('node:') ? spec : `node:${spec}`;
  try {
    return pathToFileURL(createRequire(join(root, 'noop.js')).resolve(spec)).href;
  } catch {
    // ESM-only packages may refuse require.resolve (no "require" export condition).
    return spec;
  }
}
