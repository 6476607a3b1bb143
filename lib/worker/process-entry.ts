/**
 * Entry of a ProcessPoolExecutor worker process (started with
 * `child_process.fork`). It connects the worker runtime to the IPC channel.
 */
import { WorkerRuntime } from './runtime.js';

const send = process.send?.bind(process);
if (send === undefined) {
  console.error(
    'concurrent-futures: this file is the worker entry of ProcessPoolExecutor and must be started by it (no IPC channel)',
  );
  process.exit(2);
}

const runtime = new WorkerRuntime({
  send: (message) => {
    send(message);
  },
  exit: (code) => process.exit(code),
  pid: process.pid,
});

process.on('message', (message) => runtime.receive(message));
// The parent went away (exit, crash, kill): nobody is left to take results.
process.on('disconnect', () => process.exit(0));
