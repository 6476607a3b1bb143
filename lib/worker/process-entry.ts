/**
 * Entry of a ProcessPoolExecutor worker process (started with
 * `child_process.fork`). It connects the worker runtime to the IPC channel,
 * reports errors that escape task code before dying of them, and ends the
 * process when the IPC channel closes (the parent went away). A worker that
 * cannot see that (its task spins in `while (true) {}`) is killed by the
 * parent's reaper (transport/reaper.ts), or on Windows by a watchdog thread.
 */
import { markWorkerEntryStarted } from '../transport/exec-argv.js';
import { killTree } from '../transport/kill-tree.js';
import { flushOnExit, reportFatalErrors } from './fatal.js';
import { WorkerRuntime } from './runtime.js';

// First: from here on, code in this process runs as tasks (or what they
// import), which may start pools of their own on purpose.
markWorkerEntryStarted();

/**
 * Windows only (no /bin/sh for the parent's reaper): how often the watchdog
 * thread checks that the parent is still there (ms). It runs on its own
 * thread, so it works while task code blocks the main thread
 * (`while (true) {}`); the IPC 'disconnect' event covers the rest.
 */
const WATCHDOG_INTERVAL_MS = 200;

const send = process.send?.bind(process);
if (send === undefined) {
  console.error(
    'concurrent-futures: this file is the worker entry of ProcessPoolExecutor and must be started by it (no IPC channel)',
  );
  process.exit(2);
}

const runtime = new WorkerRuntime({
  // The callback fires once the message is written (on a later tick when
  // the pipe was full): the runtime waits for it before a next task.
  send: (message) => {
    let written!: () => void;
    const done = new Promise<void>((resolve) => {
      written = resolve;
    });
    // Outside the promise executor: a value that cannot be cloned must throw here.
    send(message, undefined, {}, () => written());
    return done;
  },
  exit: (code) => process.exit(code),
  thread: false,
});

process.on('message', (message) => runtime.receive(message));

const exit = flushOnExit(runtime);
// The parent went away (exit, crash, kill): nobody is left to take results.
// What task code started goes first: once this process is gone, its
// children belong to init and cannot be found any more.
process.on('disconnect', () => {
  killTree(process.pid, 'SIGKILL', true);
  process.exit(0);
});

reportFatalErrors({
  runtime,
  // The callback runs once the message is written.
  send: (message, sent) => send(message, undefined, {}, sent),
  exit,
  toStderr: true,
});

// Elsewhere the parent's reaper does this, at no cost to each worker's start
// (a thread is a whole Node isolate: 32-40 ms of CPU).
if (process.platform === 'win32') startWatchdog(process.ppid);

function startWatchdog(parentPid: number): void {
  // The parent is gone and the main thread does not react (a task spins in
  // \`while (true) {}\`): kill this process with everything task code started.
  const code = `
    const { workerData } = require('node:worker_threads');
    const killTree = ${killTree.toString()};
    const check = () => {
      if (process.ppid !== workerData.parent) killTree(workerData.self, 'SIGKILL');
    };
    check();
    setInterval(check, workerData.interval);
  `;
  try {
    // Loaded here only: node:worker_threads costs every other worker's start ~2.5 ms.
    const { Worker } = process.getBuiltinModule(
      'node:worker_threads',
    ) as typeof import('node:worker_threads');
    const watchdog = new Worker(code, {
      eval: true,
      workerData: { parent: parentPid, self: process.pid, interval: WATCHDOG_INTERVAL_MS },
      // No loaders (--import tsx) in this tiny thread, and no output.
      execArgv: [],
      stdout: true,
      stderr: true,
    });
    watchdog.unref();
  } catch {
    // Without threads the IPC 'disconnect' event is still there.
  }
}
