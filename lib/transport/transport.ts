/**
 * The seam between the scheduling engine and the way a worker is reached.
 *
 * The engine only ever sees a `WorkerHandle`; `process.ts` makes them from
 * child processes, `thread.ts` from worker threads. The engine is written
 * once, against this interface; a new kind of worker (a remote machine, a
 * browser worker) is a new `Transport` and a worker entry that connects the
 * worker runtime (lib/worker/runtime.ts) to its channel. See
 * docs/architecture.md.
 */
import type { TransferListItem } from 'node:worker_threads';
import { markerPattern } from '../wire/markers.js';
import type { EngineMessage, ParentMessage } from '../wire/protocol.js';

/** How a worker ended. */
export interface ExitInfo {
  /** Exit code, or `null` when killed by a signal. */
  exitCode: number | null;
  /** The signal that ended a process, or `null`. */
  signal: NodeJS.Signals | null;
  /** An error the transport saw (spawn failure, uncaught error in a thread, out of memory). */
  error?: Error | undefined;
  /** The worker never came to exist (the spawn itself failed); `error` says why. */
  spawnFailed?: boolean | undefined;
  /** The last part of what the worker wrote to stderr. */
  stderr: string;
}

/** What the engine listens to on a worker. */
export interface WorkerEvents {
  message(message: EngineMessage): void;
  /** Output on the worker's stdout or stderr (`stdio` other than `'inherit'` only). */
  output(stream: 'stdout' | 'stderr', chunk: Buffer): void;
  /**
   * The worker is gone. With `stdio` other than `'inherit'`, reported after
   * its output streams ended (or a short grace), so that all its output came
   * first.
   */
  exit(info: ExitInfo): void;
}

/** One worker, as the engine sees it. */
export interface WorkerHandle {
  /**
   * Process id of a worker process, thread id of a worker thread;
   * `undefined` when the process could not be spawned. Shown to users as
   * `pid` (events, stats, WorkerCrashedError).
   */
  readonly workerId: number | undefined;
  /**
   * Sends a message to the worker. Throws synchronously (a `DataCloneError`
   * or `TypeError`) when the payload cannot be cloned; nothing is sent then.
   * `transfer` (threads only) moves those ArrayBuffers instead of copying
   * them; a process copies everything.
   */
  send(message: ParentMessage, transfer?: readonly TransferListItem[]): void;
  /**
   * Stops the worker: `'SIGTERM'` asks, `'SIGKILL'` forces. A thread has no
   * signals: both terminate it.
   */
  kill(signal: 'SIGTERM' | 'SIGKILL'): void;
  /** Keep the parent's event loop alive while this worker has work... */
  ref(): void;
  /** ...and let the parent exit while it is idle. */
  unref(): void;
}

/** Options every transport understands. */
export interface SpawnOptions {
  env: NodeJS.ProcessEnv | undefined;
  execArgv: string[] | undefined;
  cwd: string | undefined;
  /**
   * `'inherit'`: the worker's output goes to the parent's stdout/stderr.
   * `'capture'` and `'pipe'`: both streams are piped and reported through
   * `WorkerEvents.output`.
   */
  stdio: 'inherit' | 'capture' | 'pipe';
  /** The nonce of the task markers the worker writes (not `'inherit'`), stripped from crash reports. */
  nonce: string | undefined;
  /** Heap limits of a worker thread (threads only). */
  resourceLimits?: import('node:worker_threads').ResourceLimits | undefined;
}

/** Makes workers of one kind. */
export interface Transport {
  /** `'process'` or `'thread'`, for messages and stats. */
  readonly kind: 'process' | 'thread';
  spawn(options: SpawnOptions, events: WorkerEvents): WorkerHandle;
}

/** How much of a worker's stderr is kept for crash reports. */
export const STDERR_TAIL_BYTES = 8 * 1024;

/** Keeps the last STDERR_TAIL_BYTES of a stream of chunks. */
export class TailBuffer {
  #chunks: Buffer[] = [];
  #size = 0;

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    while (this.#size - (this.#chunks[0]?.length ?? 0) >= STDERR_TAIL_BYTES) {
      this.#size -= this.#chunks.shift()!.length;
    }
  }

  /** The tail as text, without the task markers of `nonce`. */
  toString(nonce?: string): string {
    const all = Buffer.concat(this.#chunks);
    const text = all.subarray(Math.max(0, all.length - STDERR_TAIL_BYTES)).toString('utf8');
    return nonce === undefined ? text : text.replace(markerPattern(nonce), '');
  }
}
