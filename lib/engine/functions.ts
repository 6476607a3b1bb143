/**
 * Turns what users pass to `submit`/`map` into a function reference the
 * worker can resolve: the source text of an inline function, or the module
 * and export of a `task()`. Each distinct function gets a numeric id once per
 * executor; workers cache by that id, so the source crosses the channel once
 * per worker, not once per task.
 */
import { ArgumentTypeError } from '../errors.js';
import { isTaskRef } from '../task.js';
import { describeValue } from '../validate.js';

/** What the engine knows about a function. */
export interface FnInfo {
  readonly id: number;
  /** Inline source, for inline functions. */
  readonly src?: string;
  /** Module URL and export name, for `task()` references. */
  readonly url?: string;
  readonly name?: string;
}

const NATIVE = /\{\s*\[native code\]\s*\}\s*$/;

export class FunctionRegistry {
  #nextId = 1;
  readonly #byKey = new Map<string, FnInfo>();
  /** Avoids `toString()` on every submit of the same function object. */
  readonly #byFunction = new WeakMap<object, FnInfo>();

  /** Returns the reference for `fn`, or throws a TypeError the caller reports at once. */
  lookup(fn: unknown, what = 'fn'): FnInfo {
    if (typeof fn === 'function') {
      const known = this.#byFunction.get(fn);
      if (known !== undefined) return known;
      const src = Function.prototype.toString.call(fn);
      if (NATIVE.test(src)) {
        throw new ArgumentTypeError(
          `Expected \`${what}\` to be a function with JavaScript source, got the native or bound function ${
            fn.name || '(anonymous)'
          }; wrap it, e.g. (x) => Math.sqrt(x)`,
        );
      }
      if (/^class[\s{]/.test(src)) {
        throw new ArgumentTypeError(`Expected \`${what}\` to be a function, got a class`);
      }
      const info = this.#intern(`src:${src}`, { src });
      this.#byFunction.set(fn, info);
      return info;
    }
    if (isTaskRef(fn)) {
      return this.#intern(`mod:${fn.url}#${fn.exportName}`, { url: fn.url, name: fn.exportName });
    }
    throw new ArgumentTypeError(
      `Expected \`${what}\` to be a function or a task() reference, got ${describeValue(fn)}`,
    );
  }

  /**
   * The reference for a function a worker named (a nested submission): its
   * inline source, or its module and export. Same ids as `lookup`.
   */
  fromRef(ref: {
    src?: string | undefined;
    url?: string | undefined;
    name?: string | undefined;
  }): FnInfo {
    if (typeof ref.src === 'string') return this.#intern(`src:${ref.src}`, { src: ref.src });
    const url = String(ref.url);
    const name = typeof ref.name === 'string' ? ref.name : 'default';
    return this.#intern(`mod:${url}#${name}`, { url, name });
  }

  #intern(key: string, fields: Omit<FnInfo, 'id'>): FnInfo {
    let info = this.#byKey.get(key);
    if (info === undefined) {
      info = { id: this.#nextId++, ...fields };
      this.#byKey.set(key, info);
    }
    return info;
  }
}
