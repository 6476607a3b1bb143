/**
 * Workers as `worker_threads` in the same process: cheaper to start and to
 * talk to than processes, but a crash of native code takes the whole process
 * with it. Messages use the thread's structured clone.
 */
import { type TransferListItem, Worker } from 'node:worker_threads';
import { isPoolMessage, type WorkerMessage } from '../wire/protocol.js';
import {
  type SpawnOptions,
  TailBuffer,
  type Transport,
  type WorkerEvents,
  type WorkerHandle,
} from './transport.js';

const ENTRY = new URL('../worker/thread-entry.cjs', import.meta.url);

class ThreadWorker implements WorkerHandle {
  readonly #worker: Worker;
  /** Kept: `worker.threadId` turns to -1 once the thread exited. */
  readonly #threadId: number;
  #exited = false;

  constructor(worker: Worker) {
    this.#worker = worker;
    this.#threadId = worker.threadId;
    worker.once('exit', () => {
      this.#exited = true;
    });
  }

  get workerId(): number | undefined {
    return this.#threadId;
  }

  send(message: Parameters<WorkerHandle['send']>[0], transfer?: readonly TransferListItem[]): void {
    if (this.#exited) return;
    this.#worker.postMessage(message, transfer);
  }

  kill(): void {
    if (this.#exited) return;
    void this.#worker.terminate();
  }

  ref(): void {
    this.#worker.ref();
  }

  unref(): void {
    this.#worker.unref();
  }
}

export const threadTransport: Transport = {
  kind: 'thread',
  spawn(options: SpawnOptions, events: WorkerEvents): WorkerHandle {
    // The thread's stdout/stderr go straight to the process's own (Node's
    // default). With 'capture' or 'pipe' the thread sends its output as
    // messages instead (see OutputMessage): Node's `stdout: true` streams
    // would keep an idle pool's process alive. A crashing thread's error
    // arrives as a message or 'error' event rather than on stderr.
    const worker = new Worker(ENTRY, {
      env: options.env ?? process.env,
      ...(options.execArgv === undefined ? {} : { execArgv: options.execArgv }),
      ...(options.resourceLimits === undefined ? {} : { resourceLimits: options.resourceLimits }),
    });
    const tail = new TailBuffer();
    let uncaught: Error | undefined;
    worker.on('message', (message: unknown) => {
      if (!isPoolMessage(message)) return;
      const msg = message as WorkerMessage;
      if (msg.k === 'output') {
        const chunk = Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength);
        if (msg.stream === 'stderr') tail.push(chunk);
        events.output(msg.stream, chunk);
        return;
      }
      events.message(msg);
    });
    worker.on('error', (error) => {
      uncaught ??= error;
    });
    worker.once('exit', (exitCode) => {
      events.exit({
        exitCode,
        signal: null,
        error: uncaught,
        stderr: tail.toString(options.nonce) + (uncaught?.stack ? `\n${uncaught.stack}` : ''),
      });
    });
    return new ThreadWorker(worker);
  },
};
