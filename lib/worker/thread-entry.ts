/**
 * Entry of a ThreadPoolExecutor worker thread. It connects the worker
 * runtime to the thread's parent port.
 */
import { parentPort } from 'node:worker_threads';
import { PROTOCOL_TAG } from '../wire/protocol.js';
import { flushOnExit, reportFatalErrors } from './fatal.js';
import { WorkerRuntime } from './runtime.js';

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
// A MessagePort delivers without this thread's event loop: sent at once.
// Nothing on stderr: the thread's transport adds the error to its crash report.
reportFatalErrors({
  runtime,
  send: (message, sent) => {
    port.postMessage(message);
    sent();
  },
  exit,
  toStderr: false,
});
