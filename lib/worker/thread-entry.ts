/**
 * Entry of a ThreadPoolExecutor worker thread. It connects the worker
 * runtime to the thread's parent port.
 */
import { parentPort, threadId } from 'node:worker_threads';
import { WorkerRuntime } from './runtime.js';

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
