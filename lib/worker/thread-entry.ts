/**
 * Entry of a ThreadPoolExecutor worker thread. It connects the worker
 * runtime to the thread's parent port.
 */
import { parentPort, threadId } from 'node:worker_threads';
import { encodeError } from '../engine/error-codec.js';
import { PROTOCOL_TAG } from '../engine/protocol.js';
import { flushOnExit, WorkerRuntime } from './runtime.js';

const port = parentPort;
if (port === null) {
  throw new Error(
    'concurrent-futures: this file is the worker entry of ThreadPoolExecutor and must be started by it',
  );
}

const runtime = new WorkerRuntime({
  // A MessagePort delivers without this thread's event loop: nothing to wait for.
  send: (message, transfer) => {
    port.postMessage(message, transfer);
    return undefined;
  },
  exit: (code) => process.exit(code),
  pid: threadId,
  thread: true,
  captureOutput: () => {
    for (const stream of ['stdout', 'stderr'] as const) {
      // Below the Writable machinery, so console.log, write callbacks and
      // encodings behave as usual; each chunk goes out at once, in order
      // with the results.
      const writable = process[stream] as NodeJS.WriteStream & {
        _write: (chunk: Buffer | string, encoding: BufferEncoding, done: () => void) => void;
        _writev?: unknown;
      };
      writable._write = (chunk, encoding, done) => {
        const data = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk;
        port.postMessage({ cf: PROTOCOL_TAG, k: 'output', stream, data });
        done();
      };
      writable._writev = undefined;
    }
  },
  // Straight to the port, in order with the output: task code cannot swallow them.
  mark: (text) => {
    const data = Buffer.from(text);
    port.postMessage({ cf: PROTOCOL_TAG, k: 'output', stream: 'stdout', data });
    port.postMessage({ cf: PROTOCOL_TAG, k: 'output', stream: 'stderr', data });
  },
});

port.on('message', (message) => runtime.receive(message));

const exit = flushOnExit(runtime);
// An error escaping task code ends the thread: report it (and what finished)
// first, like a worker process does.
let dying = false;
process.on('uncaughtException', (error, origin) => {
  if (dying) return;
  dying = true;
  try {
    runtime.flush();
    port.postMessage({ cf: PROTOCOL_TAG, k: 'fatal', origin, error: encodeError(error) });
  } finally {
    exit(1);
  }
});
