/**
 * The executor's view of the worker nodes, built from their heartbeats
 * (pub/sub, see protocol.ts): who is there, what each runs, when each was
 * last heard. It also answers "which node ran this job?" for a job whose
 * node was lost: the job ids in a node's last heartbeat.
 */
import type { EventHub, NodeStats } from './events.js';
import type { Heartbeat } from './protocol.js';

/** A node is lost after this many heartbeat intervals without one. */
const MISSED_HEARTBEATS = 3;

interface Entry {
  stats: NodeStats;
  jobs: readonly string[];
  interval: number;
}

export class NodeRegistry {
  readonly #hub: EventHub;
  readonly #nodes = new Map<string, Entry>();
  readonly #nodeOfJob = new Map<string, string>();
  /** Tasks of this executor each node finished, also before its first heartbeat arrived. */
  readonly #finishedHere = new Map<string, number>();

  constructor(hub: EventHub) {
    this.#hub = hub;
  }

  /** A heartbeat message arrived (from anyone who can publish: checked before use). */
  heard(text: string): void {
    let beat: Heartbeat;
    try {
      beat = JSON.parse(text) as Heartbeat;
    } catch {
      return;
    }
    if (!isHeartbeat(beat)) return;
    const now = Date.now();
    let entry = this.#nodes.get(beat.id);
    const isNew =
      entry === undefined || entry.stats.state === 'lost' || entry.stats.state === 'closed';
    if (entry === undefined) {
      entry = {
        stats: {
          id: beat.id,
          host: beat.host,
          pid: beat.pid,
          concurrency: beat.concurrency,
          state: beat.state,
          active: beat.active,
          completed: beat.completed,
          failed: beat.failed,
          completedHere: 0,
          firstSeen: now,
          lastHeartbeat: now,
        },
        jobs: [],
        interval: beat.interval,
      };
      this.#nodes.set(beat.id, entry);
    }
    const { stats } = entry;
    stats.concurrency = beat.concurrency;
    stats.active = beat.active;
    stats.completed = beat.completed;
    stats.failed = beat.failed;
    stats.lastHeartbeat = now;
    stats.state = beat.state;
    entry.interval = beat.interval;
    for (const id of entry.jobs) {
      if (this.#nodeOfJob.get(id) === beat.id) this.#nodeOfJob.delete(id);
    }
    entry.jobs = beat.jobs;
    for (const id of beat.jobs) this.#nodeOfJob.set(id, beat.id);
    if (beat.state === 'closed') {
      if (this.#hub.wants('nodeLost')) this.#hub.emit('nodeLost', { node: { ...stats } });
    } else if (isNew && this.#hub.wants('nodeSeen')) {
      this.#hub.emit('nodeSeen', { node: { ...stats } });
    }
  }

  /** Marks nodes silent for MISSED_HEARTBEATS intervals as lost. */
  check(now = Date.now()): void {
    for (const { stats, interval } of this.#nodes.values()) {
      if (stats.state === 'lost' || stats.state === 'closed') continue;
      if (now - stats.lastHeartbeat > interval * MISSED_HEARTBEATS) {
        stats.state = 'lost';
        if (this.#hub.wants('nodeLost')) this.#hub.emit('nodeLost', { node: { ...stats } });
      }
    }
  }

  /** A task of this executor finished on `node`. */
  finishedOn(node: string, jobId: string): void {
    this.#finishedHere.set(node, (this.#finishedHere.get(node) ?? 0) + 1);
    this.#nodeOfJob.delete(jobId);
  }

  /** The node that last reported running `jobId`, if any did. */
  nodeOf(jobId: string): string | undefined {
    return this.#nodeOfJob.get(jobId);
  }

  /** Forgets a job's node (the job is gone). */
  forget(jobId: string): void {
    this.#nodeOfJob.delete(jobId);
  }

  /** `id (host h, pid p)` for a known node, or the id alone. */
  describe(id: string): string {
    const stats = this.#nodes.get(id)?.stats;
    return stats === undefined ? id : `${id} (host ${stats.host}, pid ${stats.pid})`;
  }

  /** The node's host and pid, when known. */
  whereIs(id: string): { host: string; pid: number } | undefined {
    const stats = this.#nodes.get(id)?.stats;
    return stats === undefined ? undefined : { host: stats.host, pid: stats.pid };
  }

  /** Nodes whose heartbeat stopped. */
  lost(): string[] {
    return [...this.#nodes.values()].filter((e) => e.stats.state === 'lost').map((e) => e.stats.id);
  }

  /** Jobs the live nodes take at once, together. */
  capacity(): number {
    let total = 0;
    for (const { stats } of this.#nodes.values()) {
      if (stats.state === 'running') total += stats.concurrency;
    }
    return total;
  }

  /** Every node heard of, as copies. */
  list(): NodeStats[] {
    return [...this.#nodes.values()].map((e) => ({
      ...e.stats,
      completedHere: this.#finishedHere.get(e.stats.id) ?? 0,
    }));
  }
}

function isHeartbeat(value: unknown): value is Heartbeat {
  if (value === null || typeof value !== 'object') return false;
  const b = value as Record<string, unknown>;
  return (
    typeof b.id === 'string' &&
    typeof b.host === 'string' &&
    typeof b.pid === 'number' &&
    typeof b.concurrency === 'number' &&
    typeof b.active === 'number' &&
    typeof b.completed === 'number' &&
    typeof b.failed === 'number' &&
    typeof b.interval === 'number' &&
    b.interval > 0 &&
    Array.isArray(b.jobs) &&
    b.jobs.every((id) => typeof id === 'string') &&
    (b.state === 'running' || b.state === 'draining' || b.state === 'closed')
  );
}
