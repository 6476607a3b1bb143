/**
 * `task()`: a typed reference to a function exported by a module, the way to
 * run code that has imports or state in a worker.
 */
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe } from './describe.js';
import { ArgumentTypeError } from './errors.js';

/** Any function a task can be: sync or async, any arguments. */
export type AnyFunction = (...args: any[]) => any;

const TASK_REF = Symbol.for('concurrent-futures.TaskRef');

/**
 * A reference to `exportName` of the module at `url`, made by `task()`.
 * The type parameter is the function's type, so `submit(ref, args)` checks
 * the arguments and infers the result.
 */
export interface TaskRef<F extends AnyFunction = AnyFunction> {
  /** The module, as a `file:` URL string. */
  readonly url: string;
  /** The export to call (`'default'` for the default export). */
  readonly exportName: string;
  /** Type-only marker; never set at run time. */
  readonly __fn?: F;
}

/**
 * Makes a typed reference to a module function for `submit` / `map`. The
 * worker imports the module (ESM or CommonJS) once and calls the export.
 * Relative paths are refused: a worker's working directory may differ from
 * the caller's, so the module is named by a `file:` URL or absolute path.
 *
 * @example
 * ```ts
 * const fib = task<typeof import('./tasks.js').fib>(new URL('./tasks.js', import.meta.url), 'fib');
 * const future = executor.submit(fib, [30]); // Future<number>
 * ```
 */
export function task<F extends AnyFunction>(
  module: string | URL,
  exportName = 'default',
): TaskRef<F> {
  let url: string;
  if (module instanceof URL) {
    url = module.href;
  } else if (typeof module === 'string') {
    if (/^[a-z][a-z0-9+.-]*:/i.test(module) && !/^[a-z]:[\\/]/i.test(module)) {
      url = new URL(module).href;
    } else if (isAbsolute(module)) {
      url = pathToFileURL(module).href;
    } else {
      throw new ArgumentTypeError(
        `Expected \`module\` to be a file: URL or an absolute path, got the relative path '${module}'; ` +
          `use new URL('${module}', import.meta.url) or path.resolve()`,
      );
    }
  } else {
    throw new ArgumentTypeError(
      `Expected \`module\` to be a URL or a string, got ${module === null ? 'null' : typeof module}`,
    );
  }
  if (typeof exportName !== 'string' || exportName === '') {
    throw new ArgumentTypeError(
      `Expected \`exportName\` to be a non-empty string, got ${describe(exportName)}`,
    );
  }
  const ref = { url, exportName } as TaskRef<F>;
  Object.defineProperty(ref, TASK_REF, { value: true });
  return Object.freeze(ref);
}

/** `true` if `value` was made by `task()`. */
export function isTaskRef(value: unknown): value is TaskRef {
  return typeof value === 'object' && value !== null && TASK_REF in value;
}
