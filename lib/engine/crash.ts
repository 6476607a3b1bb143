/**
 * What a worker's death means: its reason (exit, signal, out of memory...)
 * and the WorkerCrashedError its running task fails with; also the
 * TypeError for a task whose arguments cannot cross the channel.
 */
import { describeError } from '../describe.js';
import { WorkerCrashedError } from '../errors.js';
import type { ExitInfo } from '../transport/transport.js';
import type { TaskKind } from './task-record.js';
import type { KillReason } from './worker-slot.js';

/** What the engine knew about a worker when it died. */
export interface DeadWorker {
  /** Process id, or thread id (shown as `pid`). */
  workerId: number | undefined;
  /** Set when the engine itself killed it (time limit, cancellation, init failure). */
  killReason: KillReason | undefined;
  /** What it reported just before dying of an error that escaped task code. */
  fatal: { origin: string; error: unknown } | undefined;
}

/** The error of the task that was running (`taskId`), or of a start that failed. */
export function crashError(
  worker: DeadWorker,
  info: ExitInfo,
  taskId: number | undefined,
): WorkerCrashedError {
  const pid = worker.workerId;
  const how =
    info.signal !== null ? `was killed by ${info.signal}` : `exited with code ${info.exitCode}`;
  const reason = crashReason(worker, info);
  const during = taskId === undefined ? 'while starting' : `while running task ${taskId}`;
  const cause = worker.fatal?.error ?? info.error;
  const hasCause = worker.fatal !== undefined || info.error !== undefined;
  const detail = hasCause ? `: ${describeError(cause)}` : '';
  return new WorkerCrashedError(`Worker ${pid} ${how} ${during} (${reason})${detail}`, {
    exitCode: info.exitCode,
    signal: info.signal,
    pid,
    reason,
    stderr: info.stderr,
    ...(hasCause ? { cause } : {}),
  });
}

/**
 * The error of a task that moved buffers to a worker (a transfer list) and
 * lost them with it: the worker died before the task could be reported
 * done, so it cannot run anywhere else. Without this it would be sent again
 * with detached buffers, which Node drops silently: a future that hangs.
 */
export function lostTransferError(
  worker: DeadWorker,
  info: ExitInfo,
  taskId: number,
): WorkerCrashedError {
  const crash = crashError(worker, info, undefined);
  return new WorkerCrashedError(
    `Task ${taskId} cannot run again: its transfer list moved its buffers to worker ${worker.workerId}, which ended before the task was done (${crash.reason}), and they went with it. Submit it again with fresh buffers.`,
    {
      exitCode: crash.exitCode,
      signal: crash.signal,
      pid: crash.pid,
      reason: crash.reason,
      stderr: crash.stderr,
      cause: crash,
    },
  );
}

/** Why a worker ended, in the words of `WorkerCrashedError.reason`. */
export function crashReason(worker: DeadWorker, info: ExitInfo): string {
  if (info.spawnFailed === true) return 'spawn-failed';
  if (worker.killReason !== undefined) return worker.killReason;
  if (worker.fatal !== undefined) {
    return worker.fatal.origin === 'unhandledRejection'
      ? 'unhandled-rejection'
      : 'uncaught-exception';
  }
  const code = (info.error as { code?: unknown } | undefined)?.code;
  if (
    code === 'ERR_WORKER_OUT_OF_MEMORY' ||
    /JavaScript heap out of memory|Allocation failed|ERR_WORKER_OUT_OF_MEMORY/.test(info.stderr)
  ) {
    return 'out-of-memory';
  }
  if (info.signal === 'SIGABRT' || info.exitCode === 134) return 'abort';
  if (info.signal !== null) return 'signal';
  if (info.error !== undefined) return 'uncaught-exception';
  return 'exit';
}

/** Names the argument (or chunk item) that cannot be cloned. */
export function uncloneableError(
  taskId: number,
  kind: TaskKind,
  payload: unknown[],
  error: unknown,
): TypeError {
  const what = kind === 'chunk' ? 'item' : 'argument';
  for (let i = 0; i < payload.length; i++) {
    try {
      structuredClone(payload[i]);
    } catch (cloneError) {
      return new TypeError(
        `${kind === 'chunk' ? `Item ${i} of the chunk` : `Argument ${i}`} of task ${taskId} cannot be sent to a worker: ${describeError(cloneError)}`,
        { cause: error },
      );
    }
  }
  return new TypeError(
    `The ${what}s of task ${taskId} cannot be sent to a worker: ${describeError(error)}`,
    { cause: error },
  );
}
