/**
 * What the coordinator knows of each explorer of a `mapReduce` (its phase,
 * its queue's size as reported, the steal it takes part in, its figures),
 * and the run's statistics made of it. The coordinator (coordinator.ts)
 * moves explorers from phase to phase; this module only shapes and reads
 * the records.
 */
import type { Future } from '../../future.js';
import type { ExplorerStats, MapReduceStats } from '../../map-reduce-types.js';
import type { WorkerSlot } from '../worker-slot.js';

/** What an explorer task returns (worker/explorer.ts). */
export interface ExplorerOutcome {
  value: unknown;
  nodes: number;
  idleMs: number;
}

/** Where an explorer stands (coordinator.ts says how it moves). */
export type Phase = 'unstarted' | 'busy' | 'idle' | 'finishing' | 'done' | 'dropped';

/** A queue size not reported yet: as good a victim as any. */
export const UNKNOWN = Number.POSITIVE_INFINITY;

/** One explorer as the coordinator knows it. */
export interface Explorer {
  readonly future: Future<ExplorerOutcome>;
  phase: Phase;
  taskId: number;
  slot: WorkerSlot | undefined;
  /** Its queue's size as last reported (UNKNOWN after it was given nodes). */
  size: number;
  /** The steal request it is the victim of, if any. */
  victimOf: number | undefined;
  /** The steal request made for it, if any. */
  thiefOf: number | undefined;
  /** Busy but down to its last node(s): it wants work before it runs dry. */
  low: boolean;
  /** `mrWork` messages sent to it: an idle or low notice that saw fewer is out of date. */
  given: number;
  nodes: number;
  idleMs: number | undefined;
  stolenFrom: number;
  stolenBy: number;
  startedAt: number;
}

/** The record of an explorer just submitted: not started, nothing known yet. */
export function newExplorer(future: Future<ExplorerOutcome>): Explorer {
  return {
    future,
    phase: 'unstarted',
    taskId: 0,
    slot: undefined,
    size: 0,
    victimOf: undefined,
    thiefOf: undefined,
    low: false,
    given: 0,
    nodes: 0,
    idleMs: undefined,
    stolenFrom: 0,
    stolenBy: 0,
    startedAt: 0,
  };
}

/** `a` is a better victim of a steal than `b`: not low before low, then the larger queue. */
export function richer(a: Explorer, b: Explorer): boolean {
  if (a.low !== b.low) return !a.low;
  return a.size > b.size;
}

/** The run's statistics: the started explorers in the order they started, and the run's counters. */
export function statistics(
  all: readonly Explorer[],
  startedAt: number,
  counters: Omit<MapReduceStats, 'elapsed' | 'nodes' | 'explorers'>,
): MapReduceStats {
  const explorers: ExplorerStats[] = all
    .filter((explorer) => explorer.startedAt > 0)
    .sort((a, b) => a.startedAt - b.startedAt)
    .map((explorer) => ({
      taskId: explorer.taskId,
      pid: explorer.slot?.workerId,
      nodes: explorer.nodes,
      idleTime: explorer.idleMs,
      stolenFrom: explorer.stolenFrom,
      stolenBy: explorer.stolenBy,
    }));
  return {
    elapsed: performance.now() - startedAt,
    nodes: explorers.reduce((sum, explorer) => sum + explorer.nodes, 0),
    ...counters,
    explorers,
  };
}
