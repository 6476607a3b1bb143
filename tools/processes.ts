/**
 * The process table, read from /proc (Linux): for the test suite's checks
 * that no process is left behind, and for the tools that watch a pool's
 * workers (chaos, cli-memory). Reading /proc starts no process, so the
 * checks cannot disturb what they check. Elsewhere the table is empty.
 *
 * (lib/transport/kill-tree.ts walks the same table for its own purpose and
 * stays self-contained: a worker's watchdog thread runs its source text.)
 */
import { readdirSync, readFileSync } from 'node:fs';

/** One process: its id, its parent's, and its state letter (`Z`: a zombie). */
export interface ProcessEntry {
  pid: number;
  ppid: number;
  state: string;
}

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces). */
function statFields(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    // Gone meanwhile, or no /proc.
    return undefined;
  }
}

/** Every process now (empty without /proc). */
export function processTable(): ProcessEntry[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const table: ProcessEntry[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(entry);
    if (fields !== undefined) {
      table.push({ pid: Number(entry), ppid: Number(fields[1]), state: fields[0] ?? '' });
    }
  }
  return table;
}

/** Pids of the live (non-zombie) child processes of `parent`. */
export function childPids(parent: number = process.pid): number[] {
  return processTable()
    .filter((entry) => entry.ppid === parent && entry.state !== 'Z')
    .map((entry) => entry.pid);
}

/** `true` while a process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const fields = statFields(pid);
  return fields !== undefined && fields[0] !== 'Z';
}

/**
 * Pids of live, non-zombie processes whose environment holds `text`
 * (`NAME=value`): finds a program's workers by a marker they inherited,
 * even after they were re-parented (an orphan no longer descends from us).
 */
export function processesWithEnv(text: string): number[] {
  const found: number[] = [];
  for (const entry of processTable()) {
    if (entry.state === 'Z') continue;
    try {
      if (readFileSync(`/proc/${entry.pid}/environ`).includes(text)) found.push(entry.pid);
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}
