/**
 * The reaper: one small process, alive while worker processes are, that
 * kills every worker with everything its tasks started when the parent
 * dies in a way that runs no code of ours (SIGKILL, a crash, an uncaught
 * signal).
 *
 * Why a process: a worker whose task spins in `while (true) {}` never sees
 * its IPC channel close, and nothing in the parent runs after SIGKILL. It
 * used to be a watchdog thread in each worker, which cost every worker
 * 32-40 ms of CPU at start (a whole Node isolate) on the cores the workers
 * boot on. The reaper is `/bin/sh` reading a pipe from the parent: `+ pid`
 * when a worker starts, `- pid` when it exits, `q` when no worker is left
 * (it exits). The kernel closes that pipe when the parent dies, however it
 * dies; only then does the reaper start Node, to walk and kill each live
 * worker's process tree (kill-tree.ts). So it costs one `sh` per pool start,
 * a millisecond, and Node only on the parent's death.
 *
 * It leads a process group of its own and ignores SIGINT, SIGTERM and
 * SIGHUP: a terminal's Ctrl-C or a kill of the parent's group must not take
 * it with the parent. If it dies anyway (SIGKILL), the parent starts another
 * one with the live workers. Without `/bin/sh` (Windows) there is no reaper:
 * the workers' IPC 'disconnect' event is all there is.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { killTree } from './kill-tree.js';

const SHELL = '/bin/sh';

/**
 * The name the reaper shows in its command line (`$0` of the script), so
 * that tools and tests can find it.
 */
export const REAPER_NAME = 'concurrent-futures-reaper';

/**
 * Starts with the pids of the workers alive when it was started (its
 * arguments after Node's path and the code to run), then reads `+ pid` /
 * `- pid` lines until `q` (exit) or the end of input (the parent died):
 * then runs Node with the live pids. Removal is by parameter expansion, no
 * subshell per line. `set -f`: no globbing of what is read.
 */
const SCRIPT = `set -f
trap '' INT TERM HUP
node=$1
reap=$2
shift 2
live=' '
for pid in "$@"; do live="$live$pid "; done
while read -r op pid; do
  case $op in
    +) live="$live$pid " ;;
    -) case $live in *" $pid "*) live="\${live%% $pid *} \${live#* $pid }" ;; esac ;;
    q) exit 0 ;;
  esac
done
exec "$node" -e "$reap" $live`;

/** What Node runs once the parent is gone: kill each worker's tree. */
const REAP = `const killTree = ${killTree.toString()};
for (const pid of process.argv.slice(1)) killTree(Number(pid), 'SIGKILL');`;

let reaper: ChildProcess | undefined;
const workers = new Set<number>();
let available = process.platform !== 'win32' && existsSync(SHELL);

function write(line: string): void {
  const stdin = reaper?.stdin;
  if (stdin == null || stdin.destroyed) return;
  stdin.write(line);
}

/**
 * Starts a reaper that knows `pids` from its start. They go in its
 * arguments, not down the pipe after the spawn: a parent killed between
 * the spawn and those writes would leave a reaper that knows no worker (a
 * test that kills the reaper, then the parent, found that window).
 * Exported for tests. @internal
 */
export function spawnReaper(pids: Iterable<number>): ChildProcess {
  return spawn(
    SHELL,
    ['-c', SCRIPT, REAPER_NAME, process.execPath, REAP, ...[...pids].map(String)],
    {
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true,
      // Nothing from the parent's environment (NODE_OPTIONS loaders) in the Node it may start.
      env: {},
    },
  );
}

function start(): void {
  if (!available) return;
  let child: ChildProcess;
  try {
    child = spawnReaper(workers);
  } catch {
    available = false;
    return;
  }
  reaper = child;
  // The reaper must never keep the parent alive, nor crash it.
  child.unref();
  child.stdin?.on('error', () => {});
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  child.on('error', () => {
    // Could not start (EAGAIN, EMFILE): the 'exit' handler below decides.
  });
  child.once('exit', () => {
    if (reaper !== child) return;
    reaper = undefined;
    // Killed while workers live: they need another one.
    if (workers.size > 0 && child.pid !== undefined) start();
  });
  if (child.pid === undefined) reaper = undefined;
}

/** A worker process started: the reaper kills it if the parent dies. */
export function reapOnParentDeath(pid: number): void {
  workers.add(pid);
  if (reaper === undefined) start();
  else write(`+ ${pid}\n`);
}

/**
 * How long an ending reaper may take to read `q` and exit before it is
 * killed (it is a shell reading a pipe: normally a millisecond).
 */
const END_GRACE_MS = 1000;

/**
 * A worker process exited: its pid is nobody's to kill any more. When it
 * was the last one, the reaper ends, and the promise returned settles once
 * it has exited: the worker's exit is reported only then, so that a
 * finished `shutdown()` leaves no process of ours behind, the reaper
 * included.
 */
export function forgetWorker(pid: number): Promise<void> | undefined {
  if (!workers.delete(pid)) return undefined;
  write(`- ${pid}\n`);
  if (workers.size > 0) return undefined;
  // No worker left: the reaper ends; the next worker starts another one.
  const ending = reaper;
  reaper = undefined;
  if (ending === undefined) return undefined;
  return new Promise<void>((resolve) => {
    if (ending.exitCode !== null || ending.signalCode !== null) {
      resolve();
      return;
    }
    // Referenced while it ends: the caller reports the worker's exit only
    // after this, and an unref'd child's exit would never be seen.
    ending.ref();
    const timer = setTimeout(() => ending.kill('SIGKILL'), END_GRACE_MS);
    ending.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    if (ending.stdin == null || ending.stdin.destroyed) ending.kill('SIGKILL');
    else ending.stdin.end('q\n');
  });
}

/**
 * The parent exits and kills its workers itself: the reaper has nothing to
 * do. Synchronous (for the 'exit' event).
 */
export function stopReaper(): void {
  const ending = reaper;
  reaper = undefined;
  workers.clear();
  ending?.kill('SIGKILL');
}

/** The reaper's pid, if one runs (for tests). @internal */
export function reaperPid(): number | undefined {
  return reaper?.pid;
}
