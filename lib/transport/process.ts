/**
 * Workers as child processes: `child_process.fork` of the worker entry, with
 * IPC in V8's structured-clone format (`serialization: 'advanced'`), so Map,
 * Set, Date, BigInt, typed arrays, Buffers and cycles cross intact.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type EngineMessage, isPoolMessage } from '../wire/protocol.js';
import { inheritedExecArgv, refuseAccidentalPool, workerEnv } from './exec-argv.js';
import { killTree } from './kill-tree.js';
import { forgetWorker, reapOnParentDeath, stopReaper } from './reaper.js';
import {
  type ExitInfo,
  type SpawnOptions,
  TailBuffer,
  type Transport,
  type WorkerEvents,
  type WorkerHandle,
} from './transport.js';

const ENTRY = fileURLToPath(new URL('../worker/process-entry.cjs', import.meta.url));

/**
 * How long to wait, after a worker exits, for the rest of its output before
 * reporting the exit (a grandchild may hold the pipe open indefinitely).
 */
const STDERR_DRAIN_MS = 250;

/** Live worker processes, killed if the parent exits without shutting down. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' runs for a normal end and for process.exit(); only synchronous
  // work is possible there, and kill() is synchronous.
  process.on('exit', () => {
    for (const child of live) killGroup(child, 'SIGKILL');
    stopReaper();
  });
}

/**
 * Signals the worker with everything task code started in it: its process
 * group and, found by walking the process tree, descendants that made a
 * group of their own (see kill-tree.ts). Workers are group leaders
 * (`detached: true`), which also keeps a terminal's Ctrl-C away from them:
 * the parent decides what an interrupt means for running tasks.
 */
function killGroup(child: ChildProcess, signal: 'SIGTERM' | 'SIGKILL'): void {
  const pid = child.pid;
  if (pid === undefined) return;
  killTree(pid, signal);
}

/**
 * Says why a worker process could not be spawned: Node's own message names
 * the node binary for every ENOENT, also when it is the cwd that is missing.
 */
function spawnFailure(error: Error, cwd: string | undefined, execPath: string): Error {
  const code = (error as NodeJS.ErrnoException).code;
  let why: string;
  if (code === 'ENOENT' && cwd !== undefined && !existsSync(cwd)) {
    why = `its cwd ${cwd} does not exist`;
  } else if (code === 'ENOENT' && !existsSync(execPath)) {
    why = `the node binary ${execPath} does not exist`;
  } else if (code === 'EMFILE' || code === 'ENFILE') {
    why = 'no file descriptor is left for its pipes';
  } else if (code === 'EAGAIN') {
    why = 'the system refuses to start more processes';
  } else {
    why = 'the system refused';
  }
  const failure = new Error(`Cannot start a worker process: ${why} (${error.message})`, {
    cause: error,
  });
  if (typeof code === 'string') (failure as NodeJS.ErrnoException).code = code;
  return failure;
}

class ProcessWorker implements WorkerHandle {
  readonly #child: ChildProcess;

  constructor(child: ChildProcess) {
    this.#child = child;
  }

  get workerId(): number | undefined {
    return this.#child.pid;
  }

  send(message: Parameters<WorkerHandle['send']>[0]): void {
    if (!this.#child.connected) return;
    this.#child.send(message);
  }

  kill(signal: 'SIGTERM' | 'SIGKILL'): void {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    killGroup(this.#child, signal);
  }

  ref(): void {
    this.#child.ref();
    this.#child.channel?.ref();
  }

  unref(): void {
    this.#child.unref();
    this.#child.channel?.unref();
  }
}

export const processTransport: Transport = {
  kind: 'process',
  spawn(options: SpawnOptions, events: WorkerEvents): WorkerHandle {
    // Before anything: a worker must not start workers of its own by accident.
    refuseAccidentalPool();
    const piped = options.stdio !== 'inherit';
    const child = fork(ENTRY, [], {
      serialization: 'advanced',
      // stderr always passes through the parent, for the tail in crash
      // reports; stdout too when it is captured or piped.
      stdio: ['ignore', piped ? 'pipe' : 'inherit', 'pipe', 'ipc'],
      env: workerEnv(options.env),
      // Never the parent's -e/-p/--input-type...: see exec-argv.ts.
      execArgv: options.execArgv ?? inheritedExecArgv(),
      cwd: options.cwd,
      detached: true,
    });
    installExitHook();
    live.add(child);
    // Spinning workers and what their tasks started die if this process is
    // killed (reaper.ts); the IPC channel's close covers the others.
    if (child.pid !== undefined) reapOnParentDeath(child.pid);
    const tail = new TailBuffer();
    let spawnError: Error | undefined;
    // Streams whose end must be seen before the exit is reported.
    const open = new Set<Socket>();
    const watch = (stream: Socket | null | undefined, name: 'stdout' | 'stderr'): void => {
      // null without a pipe; undefined when the spawn failed before the pipes were made (EMFILE).
      if (stream == null) return;
      open.add(stream);
      // The pipe must not keep the parent alive; the child handle decides that.
      stream.unref();
      stream.on('data', (chunk: Buffer) => {
        if (name === 'stderr') tail.push(chunk);
        if (piped) events.output(name, chunk);
        else process.stderr.write(chunk);
      });
      stream.on('close', () => open.delete(stream));
    };
    watch(child.stderr as Socket | null | undefined, 'stderr');
    if (piped) watch(child.stdout as Socket | null | undefined, 'stdout');
    child.on('message', (message: unknown) => {
      // A worker process writes its output to its pipes, never as messages.
      if (isPoolMessage(message)) events.message(message as EngineMessage);
    });
    let exited = false;
    child.on('error', (error) => {
      // Sends racing with an exit arrive here too; the exit event reports
      // those better. But a spawn that failed (no pid: missing cwd or node
      // binary, EMFILE, EAGAIN...) is reported here only, never by 'exit':
      // report it as the worker's end, or it would stay "starting" forever.
      if (child.pid !== undefined || exited) {
        spawnError ??= error;
        return;
      }
      exited = true;
      live.delete(child);
      child.stdout?.destroy();
      child.stderr?.destroy();
      events.exit({
        exitCode: null,
        signal: null,
        error: spawnFailure(error, options.cwd, process.execPath),
        spawnFailed: true,
        stderr: '',
      });
    });
    child.once('exit', (exitCode, signal) => {
      if (exited) return;
      exited = true;
      live.delete(child);
      // Whatever task code started in the worker's group must not outlive it.
      let reaperEnding: Promise<void> | undefined;
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Nothing left in the group.
        }
        reaperEnding = forgetWorker(child.pid);
      }
      const reportNow = (): void => {
        const info: ExitInfo = {
          exitCode,
          signal,
          error: spawnError,
          stderr: tail.toString(options.nonce),
        };
        events.exit(info);
      };
      // The last worker's exit ends the reaper: reported once it is gone
      // (reaper.ts bounds that wait).
      const report =
        reaperEnding === undefined
          ? reportNow
          : (): void => {
              void reaperEnding.then(reportNow);
            };
      if (open.size === 0) {
        report();
        return;
      }
      let reported = false;
      const once = (): void => {
        if (reported || (open.size > 0 && !timedOut)) return;
        reported = true;
        clearTimeout(timer);
        report();
      };
      let timedOut = false;
      // Referenced, and the streams too: the exit must be reported even when
      // nothing else keeps the parent's event loop alive (an unref'd pipe's
      // EOF alone would never be read, and `await shutdown()` would end the
      // program silently).
      const timer = setTimeout(() => {
        timedOut = true;
        once();
      }, STDERR_DRAIN_MS);
      for (const stream of open) {
        stream.ref();
        stream.once('close', () => queueMicrotask(once));
      }
    });
    return new ProcessWorker(child);
  },
};
