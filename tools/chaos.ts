/**
 * Chaos soak: thousands of tasks with random injected faults on a
 * ProcessPoolExecutor. Verifies that every future settles with the expected
 * outcome (no result lost or wrong), and that no worker process is left.
 *
 *   npm run chaos -- [--tasks 2000] [--fault-rate 0.1] [--workers 2] [--seed 1]
 *
 * Exit code 0 when every check holds; the report says what was seen.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CancelledError,
  type Future,
  ProcessPoolExecutor,
  TaskTimeoutError,
  task,
  WorkerCrashedError,
} from '../lib/index.js';
import { childPids } from './processes.js';

export const FAULTS = [
  'throw',
  'throw-falsy',
  'exit',
  'signal',
  'async-throw',
  'rejection',
  'hang',
  'wait-abort',
  'crash-once',
  'payload',
] as const;
export type Fault = (typeof FAULTS)[number] | 'none';

export interface ChaosOptions {
  tasks: number;
  faultRate: number;
  workers: number;
  seed: number;
  log?: (line: string) => void;
}

export interface ChaosReport {
  tasks: number;
  byFault: Record<string, number>;
  mismatches: string[];
  leftoverChildren: number[];
  ms: number;
  ok: boolean;
}

const chaosTask = task<(i: number, fault: Fault, dir: string) => Promise<unknown>>(
  new URL('../../tools/chaos-task.mjs', import.meta.url),
  'chaosTask',
);

/** A small seeded generator (mulberry32), so a failing run can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What each fault must produce; returns a description of the mismatch, or undefined. */
function check(
  i: number,
  fault: Fault,
  future: Future<unknown>,
  outcome: unknown,
): string | undefined {
  const failed = future.done() && !future.cancelled() && future._failed();
  const value = failed || future.cancelled() ? undefined : outcome;
  const error = failed || future.cancelled() ? outcome : undefined;
  const expectError = (cls: new (...a: any[]) => Error, extra?: (e: any) => boolean) =>
    error instanceof cls && (extra?.(error) ?? true)
      ? undefined
      : `expected ${cls.name}, got ${future}`;
  switch (fault) {
    case 'none':
    case 'crash-once':
      return value === i * 2 ? undefined : `expected ${i * 2}, got ${future}`;
    case 'throw':
      return expectError(RangeError, (e) => e.index === i && e.message === `task ${i} failed`);
    case 'throw-falsy':
      return failed && error === 0 ? undefined : `expected a failure with 0, got ${future}`;
    case 'exit':
      return expectError(WorkerCrashedError, (e) => e.exitCode === 3);
    case 'signal':
      return expectError(WorkerCrashedError, (e) => e.signal === 'SIGKILL');
    case 'async-throw':
      return expectError(WorkerCrashedError, (e) => e.reason === 'uncaught-exception');
    case 'rejection':
      return expectError(WorkerCrashedError, (e) => e.reason === 'unhandled-rejection');
    case 'hang':
      return expectError(TaskTimeoutError);
    case 'wait-abort':
      return future.cancelled() && error instanceof CancelledError
        ? undefined
        : `expected cancelled, got ${future}`;
    case 'payload':
      return value instanceof Uint8Array &&
        value.length === 1024 * 1024 &&
        value[0] === i % 251 &&
        value[value.length - 1] === i % 251
        ? undefined
        : `expected a 1 MiB payload of ${i % 251}, got ${future}`;
  }
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => {});
  const next = random(options.seed);
  const dir = mkdtempSync(join(tmpdir(), 'cf-chaos-'));
  const started = performance.now();
  const pool = new ProcessPoolExecutor({
    maxWorkers: options.workers,
    cancelGrace: 100,
    shutdownGrace: 300,
  });
  const byFault: Record<string, number> = {};
  const runs: Array<{ i: number; fault: Fault; future: Future<unknown> }> = [];
  try {
    for (let i = 0; i < options.tasks; i++) {
      const fault: Fault =
        next() < options.faultRate ? FAULTS[Math.floor(next() * FAULTS.length)]! : 'none';
      byFault[fault] = (byFault[fault] ?? 0) + 1;
      const submitOptions =
        fault === 'hang'
          ? { timeout: 150 }
          : fault === 'crash-once'
            ? { retries: 1 }
            : fault === 'wait-abort'
              ? { signal: AbortSignal.timeout(50 + Math.floor(next() * 100)) }
              : {};
      runs.push({ i, fault, future: pool.submit(chaosTask, [i, fault, dir], submitOptions) });
      // Keep a bounded number in flight, like a real producer would.
      if (runs.length % 200 === 0) {
        await pool.whenQueueBelow(400);
        log(`submitted ${runs.length}/${options.tasks}`);
      }
    }
    const mismatches: string[] = [];
    for (const { i, fault, future } of runs) {
      let outcome: unknown;
      try {
        outcome = await future.result({ timeout: 60_000 });
      } catch (error) {
        outcome = error;
      }
      const problem = check(i, fault, future, outcome);
      if (problem !== undefined) mismatches.push(`task ${i} (${fault}): ${problem}`);
    }
    await pool.shutdown();
    const leftoverChildren = childPids(process.pid);
    const report: ChaosReport = {
      tasks: options.tasks,
      byFault,
      mismatches,
      leftoverChildren,
      ms: Math.round(performance.now() - started),
      ok: mismatches.length === 0 && leftoverChildren.length === 0,
    };
    return report;
  } finally {
    await pool.shutdown({ cancelFutures: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  if (index < 0) return fallback;
  const value = Number(process.argv[index + 1]);
  if (!Number.isFinite(value)) {
    console.error(`--${name} expects a number, got ${process.argv[index + 1]}`);
    process.exit(2);
  }
  return value;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const options: ChaosOptions = {
    tasks: argument('tasks', 2000),
    faultRate: argument('fault-rate', 0.1),
    workers: argument('workers', 2),
    seed: argument('seed', Date.now() % 100_000),
    log: (line) => console.error(line),
  };
  console.error(
    `chaos: ${options.tasks} tasks, fault rate ${options.faultRate}, ${options.workers} workers, seed ${options.seed}`,
  );
  const report = await runChaos(options);
  console.log(JSON.stringify(report, null, 2));
  console.log(
    report.ok
      ? `chaos: OK, ${report.tasks} tasks settled as expected in ${report.ms} ms, no process left`
      : `chaos: FAILED, ${report.mismatches.length} mismatches, ${report.leftoverChildren.length} processes left`,
  );
  process.exitCode = report.ok ? 0 : 1;
}
