/**
 * How a worker dies, for both entries (process-entry.ts, thread-entry.ts):
 * finished work is sent first, and an error that escaped task code is
 * reported to the parent before it kills the worker, so that the crash
 * report can name it.
 */
import { inspect } from 'node:util';
import { encodeError } from '../wire/error-codec.js';
import { type FatalMessage, PROTOCOL_TAG } from '../wire/protocol.js';
import type { WorkerRuntime } from './runtime.js';

/**
 * How long (ms) a dying worker waits for its fatal report to be written
 * before it exits anyway (the parent then learns of the end by the exit).
 */
const FATAL_REPORT_MS = 1_000;

/**
 * Makes `process.exit()` in task code send the outcomes waiting in a batch
 * first (they would be lost, and their tasks re-run). Returns the original
 * `process.exit`, for the entry's own use.
 */
export function flushOnExit(runtime: WorkerRuntime): (code?: number) => never {
  const exit = process.exit.bind(process) as (code?: number) => never;
  process.exit = ((code?: number | string | null) => {
    runtime.flush();
    return exit(code as number | undefined);
  }) as typeof process.exit;
  return exit;
}

export interface FatalReporting {
  runtime: WorkerRuntime;
  /** Sends the report; calls `sent` once it is written. Throws if it cannot be sent. */
  send(message: FatalMessage, sent: () => void): void;
  /** Ends the worker (the original `process.exit`). */
  exit: (code?: number) => never;
  /** Also describe the error on stderr (a process: its parent keeps the tail for crash reports). */
  toStderr: boolean;
}

/**
 * An error escaping task code asynchronously (a throw in a timer, an
 * unhandled rejection) kills the worker, as it would kill any Node
 * process; first the parent hears what it was, and gets what finished.
 */
export function reportFatalErrors({ runtime, send, exit, toStderr }: FatalReporting): void {
  let dying = false;
  process.on('uncaughtException', (error, origin) => {
    if (dying) return;
    dying = true;
    if (toStderr) {
      const label = origin === 'unhandledRejection' ? 'Unhandled rejection' : 'Uncaught exception';
      try {
        process.stderr.write(`${label} in task code: ${inspect(error)}\n`);
      } catch {
        // stderr is gone; the parent still gets the message below.
      }
    }
    const die = (): never => exit(1);
    setTimeout(die, FATAL_REPORT_MS);
    try {
      runtime.flush();
      send({ cf: PROTOCOL_TAG, k: 'fatal', origin, error: encodeError(error) }, die);
    } catch {
      die();
    }
  });
}
