/**
 * What `stats()`, `counts()` and `workerIds()` report: read from the
 * engine's workers, queue, telemetry and nesting counters, never written.
 * Out of the scheduler, which only hands its state over.
 */
import type { NestedStats, PoolCounts, PoolStats, WorkerStats } from '../stats.js';
import type { Engine } from './context.js';

/** The part of the engine introspection reads. */
export type Observed = Pick<Engine, 'workers' | 'queue' | 'telemetry' | 'nesting'>;

/** Workers by state, tasks queued and running. */
export function counts(engine: Observed): PoolCounts {
  let idle = 0;
  let busy = 0;
  let starting = 0;
  let running = 0;
  // Tasks sent ahead to a worker but not started count as queued.
  let queued = engine.queue.live;
  for (const slot of engine.workers) {
    if (!slot.ready && slot.open) starting++;
    else if (slot.tasks.length > 0 || slot.hasParked) busy++;
    else if (slot.idle) idle++;
    for (const task of slot.tasks) {
      if (task.future.running()) running++;
      else if (!task.future.done()) queued++;
    }
    // Tasks awaiting nested ones still run.
    for (const task of slot.nest?.parked.values() ?? []) {
      if (task.future.running()) running++;
    }
  }
  return { workers: engine.workers.size, idle, busy, starting, queued, running };
}

/** Counts, counters, time distributions and per-worker figures. */
export function stats(engine: Observed): PoolStats {
  const now = performance.now();
  const perWorker: WorkerStats[] = [];
  for (const slot of engine.workers) {
    const usage = slot.usage;
    perWorker.push({
      pid: slot.workerId,
      state: !slot.open
        ? 'retiring'
        : !slot.ready
          ? 'starting'
          : slot.tasks.length > 0 || slot.hasParked
            ? 'busy'
            : 'idle',
      tasksCompleted: slot.completed,
      rss: usage?.rss,
      heapUsed: usage?.heapUsed,
      cpuTime: usage?.cpuTime,
      usageAge: usage === undefined ? undefined : now - usage.at,
    });
  }
  return {
    ...counts(engine),
    ...engine.telemetry.counters,
    nested: nestedStats(engine),
    runTime: engine.telemetry.runTime,
    waitTime: engine.telemetry.waitTime,
    perWorker,
  };
}

function nestedStats(engine: Observed): NestedStats {
  const { nesting } = engine;
  let parked = 0;
  for (const slot of engine.workers) parked += slot.nest?.parked.size ?? 0;
  return {
    submitted: nesting.submitted,
    refused: nesting.refused,
    live: nesting.live,
    peak: nesting.peak,
    deepest: nesting.deepest,
    parked,
  };
}

/** Process ids (thread ids) of the live workers. */
export function workerIds(engine: Observed): number[] {
  return [...engine.workers].map((slot) => slot.workerId).filter((id) => id !== undefined);
}
