/**
 * What a function given to `submit` or `map` becomes in a job: a `task()`
 * reference travels as its module and export (each node resolves it), an
 * inline function as its source text, only where the executor allows it
 * (see docs/distributed.md, "Security"). The job is named after the
 * export, or the function, for dashboards.
 */
import { isTaskRef } from '../index.js';
import { typeError } from './internal.js';
import type { FnSpec } from './protocol.js';

/** A function as a job carries it, and the job's name. */
export interface JobFunction {
  spec: FnSpec;
  name: string;
}

/** The source of a native function, or of a bound one: nothing a node could compile. */
const NATIVE_SOURCE = /\{\s*\[native code\]\s*\}\s*$/;
/** A class: calling it without `new` throws, so it cannot be a task. */
const CLASS_SOURCE = /^class[\s{]/;

/** Turns `fn` into what a job carries; remembers inline functions, whose source is read once. */
export class JobFunctions {
  readonly #allowInline: boolean;
  readonly #inline = new WeakMap<object, JobFunction>();

  constructor(allowInlineFunctions: boolean) {
    this.#allowInline = allowInlineFunctions;
  }

  /** Throws a TypeError naming `fn` for anything that cannot be sent. */
  of(fn: unknown): JobFunction {
    if (typeof fn === 'function') {
      const known = this.#inline.get(fn);
      if (known !== undefined) return known;
      if (!this.#allowInline) {
        throw typeError(
          'fn',
          'a task() reference: DistributedExecutor refuses inline functions unless created with ' +
            'allowInlineFunctions: true (and its worker nodes started with --allow-inline-functions)',
          fn,
        );
      }
      const src = Function.prototype.toString.call(fn);
      if (NATIVE_SOURCE.test(src) || CLASS_SOURCE.test(src)) {
        throw typeError(
          'fn',
          'a function with JavaScript source (not native, bound or a class)',
          fn,
        );
      }
      const made = { spec: { src }, name: nameOf(fn) };
      this.#inline.set(fn, made);
      return made;
    }
    if (isTaskRef(fn)) return { spec: { m: fn.url, e: fn.exportName }, name: fn.exportName };
    throw typeError('fn', 'a task() reference (or, with allowInlineFunctions, a function)', fn);
  }
}

/** The function's own name for the job, or `inline`; its `name` may be a getter that throws, or no string. */
function nameOf(fn: object): string {
  try {
    const name: unknown = (fn as { name?: unknown }).name;
    return typeof name === 'string' && name !== '' ? name : 'inline';
  } catch {
    return 'inline';
  }
}
