/**
 * Worker-side helpers of the CLI. This module runs inside the worker
 * processes; the CLI reaches its exports with `task()`.
 *
 * - `probe`: loads the user's module once before any input is read, so that
 *   a missing module or export is a usage error and not a million error
 *   records.
 * - `runBatch`: runs the user's function over a chunk of items and returns
 *   one outcome per item. `executor.map` would stop a chunk at its first
 *   failing item; a command line tool owes every record its own answer.
 */
import { currentTask } from '../current-task.js';
import { isThenable } from '../describe.js';
import { isCancelAll } from '../errors.js';
import {
  explainImportError,
  exportOf,
  functionExports,
  importModule,
  kindOf,
} from '../worker/modules.js';
import { type ErrorRecord, errorRecord, resultJson } from './encode.js';

/** What `runBatch` returns for one item. */
export type ItemOutcome =
  /** The result as JSON text, encoded here so that a value JSON cannot hold fails only its item. */
  | { ok: true; json: string }
  /** The item threw; `cancelAll` is set when what it threw was a `CancelAll`. */
  | { ok: false; error: ErrorRecord; cancelAll?: true }
  /** Not run: an earlier item of the chunk threw `CancelAll`. */
  | { ok: false; skipped: true };

/** What `probe` found. */
export type ProbeResult = { found: true } | { found: false; got: string; functions: string[] };

type ItemFunction = (item: unknown) => unknown;

/**
 * Imports the module and reports whether `name` is a function export. A
 * module that cannot be imported throws the library's explained error (a
 * TypeScript module without a loader keeps Node's `code`, so the CLI can
 * give its own hint).
 */
export async function probe(url: string, name: string): Promise<ProbeResult> {
  let mod: Record<string, unknown>;
  try {
    mod = await importModule(url);
  } catch (error) {
    throw explainImportError(error, url, name);
  }
  const fn = exportOf(mod, name);
  if (typeof fn === 'function') return { found: true };
  let got = fn === undefined ? 'no such export' : kindOf(fn);
  if (name === 'default' && typeof fn === 'object' && fn !== null) {
    got += ' (for a CommonJS module, module.exports)';
  }
  return { found: false, got, functions: functionExports(mod) };
}

/**
 * Runs `fn(item)` for each item of the chunk, catching each item's error on
 * its own. Between items it checks the task's signal: once the chunk was
 * cancelled or timed out, its outcome is no longer wanted, and stopping
 * promptly lets the worker live on instead of being killed.
 */
export async function runBatch(
  url: string,
  name: string,
  items: unknown[],
): Promise<ItemOutcome[]> {
  const fn = exportOf(await importModule(url), name);
  if (typeof fn !== 'function') {
    throw new TypeError(`Expected module ${url} to export a function named '${name}'`);
  }
  const { signal } = currentTask();
  const outcomes: ItemOutcome[] = [];
  for (let i = 0; i < items.length; i++) {
    if (signal.aborted) throw signal.reason;
    try {
      let value = (fn as ItemFunction)(items[i]);
      if (isThenable(value)) value = await value;
      outcomes.push({ ok: true, json: resultJson(value) });
    } catch (error) {
      // By its brand (errors.ts): the user's module may import another copy of this package.
      if (!isCancelAll(error)) {
        outcomes.push({ ok: false, error: errorRecord(error) });
        continue;
      }
      // A CancelAll stops the whole run; the rest of this chunk never starts.
      outcomes.push({ ok: false, error: errorRecord(error), cancelAll: true });
      for (let j = i + 1; j < items.length; j++) outcomes.push({ ok: false, skipped: true });
      break;
    }
  }
  return outcomes;
}
