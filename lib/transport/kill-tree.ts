/**
 * Killing a worker process with everything task code started in it.
 *
 * Each worker leads its own process group, and processes that task code
 * starts (a compiler, a browser, `sleep`) join that group unless they make
 * their own (`detached: true`, `setsid`). A signal to the group reaches the
 * first kind; the second kind is found by walking the process tree from the
 * worker (`/proc` on Linux, `ps` elsewhere) while the worker still lives:
 * once it is dead its children belong to init and cannot be told apart.
 *
 * `killTree` is self-contained (no imports, no outer names): the reaper
 * (reaper.ts) runs its source text in a Node of its own once the parent is
 * dead, and it must work there as it does in the worker and in the parent.
 */

/**
 * Sends `signal` to every descendant of process `root`, to root's process
 * group, and to root itself, in that order (the caller may be root itself),
 * or to all but root when `spareRoot` is set (root is about to exit on its
 * own, running its exit handlers). With SIGKILL the others are stopped
 * first, a few rounds, so that none can start another process between the
 * walk and the kill. Never throws.
 */
export function killTree(root: number, signal: 'SIGTERM' | 'SIGKILL', spareRoot = false): void {
  const send = (pid: number, sig: NodeJS.Signals): void => {
    try {
      process.kill(pid, sig);
    } catch {
      // Gone already, or not ours to signal.
    }
  };
  /** Parent pid and process group of each process, from /proc or ps; empty when neither works (Windows). */
  const table = (): Map<number, [ppid: number, pgrp: number]> => {
    const found = new Map<number, [number, number]>();
    try {
      const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
      for (const entry of fs.readdirSync('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        try {
          const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
          // The command name in parentheses may hold spaces: fields follow the last ')'.
          const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
          found.set(Number(entry), [Number(fields[1]), Number(fields[2])]);
        } catch {
          // Exited while we looked.
        }
      }
      return found;
    } catch {
      // No /proc: ask ps.
    }
    try {
      const { execFileSync } = process.getBuiltinModule(
        'node:child_process',
      ) as typeof import('node:child_process');
      const text = execFileSync('ps', ['-A', '-o', 'pid=,ppid=,pgid='], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
        timeout: 2000,
      });
      for (const line of text.split('\n')) {
        const [pid, ppid, pgrp] = line.trim().split(/\s+/).map(Number);
        if (pid && ppid !== undefined && pgrp !== undefined) found.set(pid, [ppid, pgrp]);
      }
    } catch {
      // No ps either: the process group is all we can reach.
    }
    return found;
  };
  /** Root's descendants, and the other members of root's process group. */
  const others = (): number[] => {
    const rows = table();
    const children = new Map<number, number[]>();
    const out: number[] = [];
    for (const [pid, [ppid, pgrp]] of rows) {
      const list = children.get(ppid);
      if (list === undefined) children.set(ppid, [pid]);
      else list.push(pid);
      if (pgrp === root && pid !== root) out.push(pid);
    }
    const queue = [root];
    while (queue.length > 0) {
      for (const child of children.get(queue.shift()!) ?? []) {
        if (child === root || out.includes(child)) continue;
        out.push(child);
        queue.push(child);
      }
    }
    return out;
  };
  const tree = new Set<number>();
  for (let round = 0; round < (signal === 'SIGKILL' ? 3 : 1); round++) {
    let added = false;
    for (const pid of others()) {
      if (tree.has(pid)) continue;
      tree.add(pid);
      added = true;
      // A stopped process cannot fork; SIGKILL ends it all the same.
      if (signal === 'SIGKILL') send(pid, 'SIGSTOP');
    }
    if (!added) break;
  }
  for (const pid of tree) send(pid, signal);
  if (spareRoot) return;
  try {
    // The whole group, root with it: what the walk could not see too.
    process.kill(-root, signal);
  } catch {
    // Not a group leader, or no process groups (Windows).
  }
  send(root, signal);
}
