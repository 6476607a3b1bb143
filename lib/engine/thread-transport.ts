/**
 * Workers as `worker_threads` in the same process: cheaper to start and to
 * talk to than processes, but a crash of native code takes the whole process
 * with it. Messages use the thread's structured clone.
 */
import { Worker } from 'node:worker_threads';
import { isPoolMessage, type WorkerMessage } from './protocol.js';
import {
  type SpawnOptions,
  TailBuffer,
  type Transport,
  type WorkerEvents,
  type WorkerHandle,
} from './transport.js';

const ENTRY = new URL('../worker/thread-entry.js', import.meta.url);

class ThreadWorker implements WorkerHandle {
  readonly #worker: Worker;
  #exited = false;

  constructor(worker: Worker) {
    this.#worker = worker;
    worker.once('exit', () => {
      this.#exited = true;
    });
  }

  get pid(): number | undefined {
    return this.#worker.threadId;
  }

  send(message: Parameters<WorkerHandle['send']>[0]): void {
    if (this.#exited) return;
    this.#worker.postMessage(message);
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
    // default). Capturing them with `stderr: true` would keep a MessagePort
    // referenced and an idle pool would hold the program open; a crashing
    // thread's error arrives as a message or 'error' event instead.
    const worker = new Worker(ENTRY, {
      env: options.env ?? process.env,
      ...(options.execArgv === undefined ? {} : { execArgv: options.execArgv }),
      ...(options.resourceLimits === undefined ? {} : { resourceLimits: options.resourceLimits }),
    });
    const tail = new TailBuffer();
    let uncaught: Error | undefined;
    worker.on('message', (message: unknown) => {
      if (isPoolMessage(message)) events.message(message as WorkerMessage);
    });
    worker.on('error', (error) => {
      uncaught ??= error;
    });
    worker.once('exit', (exitCode) => {
      events.exit({
        exitCode,
        signal: null,
        error: uncaught,
        stderr: tail.toString() + (uncaught?.stack ? `\n${uncaught.stack}` : ''),
      });
    });
    return new ThreadWorker(worker);
  },
};
