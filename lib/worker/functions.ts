/**
 * Inside a worker: turning a function reference into a function to call
 * (the function cache). Inline source is compiled once, a `task()`
 * reference's module imported once, and both are cached by the reference's
 * id; errors say what to do (capture hint for inline functions here; a
 * module that cannot be loaded or lacks the export in modules.ts).
 */
import type { TaskContext } from '../current-task.js';
import { isInstance, read } from '../describe.js';
import { CancelAll } from '../errors.js';
import { transfer } from '../transfer.js';
import type { FnRef } from '../wire/protocol.js';
import { explainImportError, exportOf, importModule, missingExportError } from './modules.js';

export type TaskFunction = (...args: unknown[]) => unknown;

/** A function ready to call, with what the runtime learns about its runs. */
export interface Resolved {
  fn: TaskFunction;
  /** Inline functions get a hint when they hit a ReferenceError. */
  inline: boolean;
  /** Synchronous runs timed so far, and their average duration in ms. */
  runs: number;
  avgMs: number;
}

const INLINE_HINT =
  ' (inline functions are sent to the worker as source text and cannot use variables from the scope they were written in: pass values as arguments, or put the function in a module and submit task(moduleUrl, exportName))';

/** Resolves references by id, compiling or importing each once per worker. */
export class FunctionCache {
  readonly #fns = new Map<number, Resolved | Promise<Resolved>>();
  /** Module exports loaded, by function object: a nested submit of one names its module. */
  readonly #modules = new WeakMap<object, { url: string; name: string }>();

  /** The module export `fn` is, if a task module of this worker exported it. */
  moduleOf(fn: object): { url: string; name: string } | undefined {
    return this.#modules.get(fn);
  }

  /** The function if it is ready, a promise while it loads, undefined if never seen. */
  get(ref: number | FnRef): Resolved | Promise<Resolved> | undefined {
    return this.#fns.get(typeof ref === 'number' ? ref : ref.id);
  }

  resolve(ref: number | FnRef): Resolved | Promise<Resolved> {
    const cached = this.get(ref);
    if (cached !== undefined) return cached;
    if (typeof ref === 'number') throw new Error(`worker received an unknown function id ${ref}`);
    let resolved: Resolved | Promise<Resolved>;
    if (ref.src !== undefined) {
      resolved = { fn: compileInline(ref.src), inline: true, runs: 0, avgMs: 0 };
    } else if (ref.url !== undefined) {
      const loading = this.#importExport(ref.url, ref.name ?? 'default');
      resolved = loading;
      // Once loaded, later tasks take the synchronous path.
      loading.then(
        (done) => this.#fns.set(ref.id, done),
        // A failed import is not cached: the next task may find the module fixed.
        () => this.#fns.delete(ref.id),
      );
    } else {
      throw new Error(`worker received an unknown function id ${ref.id}`);
    }
    this.#fns.set(ref.id, resolved);
    return resolved;
  }

  /**
   * Remembers which function each export of a task module is, so that task
   * code submitting one of them (nested submission) names it by its module:
   * its source alone would lose the module's imports.
   */
  #noteExports(mod: Record<string, unknown>, url: string): void {
    let names: string[];
    try {
      names = Object.keys(mod);
    } catch {
      return;
    }
    for (const name of names) {
      let value: unknown;
      try {
        value = mod[name];
      } catch {
        continue; // An export not initialised yet (a cycle): it cannot be submitted by name.
      }
      if (typeof value === 'function' && !this.#modules.has(value)) {
        this.#modules.set(value, { url, name });
      }
    }
  }

  async #importExport(url: string, name: string): Promise<Resolved> {
    let mod: Record<string, unknown>;
    try {
      mod = await importModule(url);
    } catch (error) {
      // Explained per task: tasks sharing a module may name different exports.
      throw explainImportError(error, url, name);
    }
    const fn = exportOf(mod, name);
    if (typeof fn !== 'function') throw missingExportError(mod, url, name, fn);
    this.#noteExports(mod, url);
    return { fn: fn as TaskFunction, inline: false, runs: 0, avgMs: 0 };
  }
}

/**
 * Compiles an inline function's source. `currentTask`, `CancelAll` and
 * `transfer` are in scope so inline task code can use them without imports.
 */
function compileInline(src: string): TaskFunction {
  const factory = (body: string) =>
    new Function('currentTask', 'CancelAll', 'transfer', `return (${body}\n);`) as (
      ...names: unknown[]
    ) => unknown;
  let made: unknown;
  try {
    made = factory(src)(currentTaskForInline, CancelAll, transfer);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    // Method shorthand (`run(x) { ... }`) is not an expression on its own.
    try {
      const holder = factory(`{ ${src} }`)(currentTaskForInline, CancelAll, transfer) as Record<
        string,
        unknown
      >;
      made = Object.values(holder)[0];
    } catch {
      throw new SyntaxError(
        `Could not compile the inline function sent to the worker: ${error.message}. Source: ${src.slice(0, 200)}`,
      );
    }
  }
  if (typeof made !== 'function') {
    throw new TypeError(`The inline source did not evaluate to a function: ${src.slice(0, 200)}`);
  }
  return made as TaskFunction;
}

function currentTaskForInline(): TaskContext {
  const context = (globalThis as Record<symbol, TaskContext | undefined>)[
    Symbol.for('concurrent-futures.currentTask')
  ];
  if (context === undefined) throw new Error('currentTask() called outside a running task');
  return context;
}

/**
 * Adds the capture hint to a ReferenceError thrown by an inline function.
 * The error is changed in place when it can be; a frozen error (or one whose
 * `message` cannot be written) is replaced by a new ReferenceError with the
 * hint, whose `cause` is the original. Never throws.
 */
export function withHint(error: unknown, resolved: Resolved | undefined): unknown {
  if (!resolved?.inline || !isInstance(error, ReferenceError)) return error;
  const message = read(error, 'message');
  if (!message.ok || typeof message.value !== 'string' || message.value.includes(INLINE_HINT)) {
    return error;
  }
  const original = message.value;
  const hinted = original + INLINE_HINT;
  const stack = read(error, 'stack');
  try {
    error.message = hinted;
    if (stack.ok && typeof stack.value === 'string') {
      error.stack = stack.value.replace(original, hinted);
    }
    return error;
  } catch {
    const replacement = new ReferenceError(hinted, { cause: error });
    if (stack.ok && typeof stack.value === 'string') {
      replacement.stack = stack.value.replace(original, hinted);
    }
    return replacement;
  }
}
