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
  send: (message) => port.postMessage(message),
  exit: (code) => process.exit(code),
  pid: threadId,
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
