/**
 * The life of workers: starting them as work comes (up to `maxWorkers`,
 * at least `minWorkers`), bounding their start (`initializerTimeout`),
 * retiring idle ones (`idleTimeout`), and what their end means for the
 * tasks in their line (crash-blame.ts decides, this file carries it out).
 */
import { TimeoutError } from '../errors.js';
import type { ExitInfo } from '../transport/transport.js';
import { PROTOCOL_TAG } from '../wire/protocol.js';
import type { Engine } from './context.js';
import { crashError, crashReason, type DeadWorker, lostTransferError } from './crash.js';
import { blameCrash } from './crash-blame.js';
import { requeueFront } from './dispatch.js';
import { onMessage } from './messages.js';
import { hasChildren, takeParked } from './nesting.js';
import { failTask, outputComplete } from './outcomes.js';
import { clearStopGrace, type TaskRecord } from './task-record.js';
import { WorkerSlot } from './worker-slot.js';

/** Starts workers for the tasks waiting (up to `maxWorkers`) and to keep `minWorkers`. */
export function spawnAsNeeded(engine: Engine): void {
  let active = 0;
  let starting = 0;
  for (const slot of engine.workers) {
    if (!slot.open) continue;
    active++;
    if (!slot.ready) starting++;
  }
  const { maxWorkers, minWorkers } = engine.options;
  const waiting = engine.queue.live;
  while (active < maxWorkers && waiting > starting && !engine.broken) {
    spawn(engine);
    active++;
    starting++;
  }
  while (!engine.closing && active < minWorkers && !engine.broken) {
    spawn(engine);
    active++;
  }
}

function spawn(engine: Engine): void {
  const { options, output } = engine;
  let slot: WorkerSlot | undefined;
  let handle: WorkerSlot['handle'];
  try {
    handle = options.transport.spawn(
      { ...options.spawn, nonce: output?.nonce },
      {
        message: (message) => {
          if (slot !== undefined) onMessage(engine, slot, message);
        },
        output: (stream, chunk) => slot?.output?.push(stream, chunk),
        exit: (info) => {
          if (slot !== undefined) onExit(engine, slot, info);
        },
      },
    );
  } catch (error) {
    // A synchronous spawn failure (e.g. execArgv a worker thread refuses)
    // will not go away by retrying: the executor is broken at once.
    engine.breakDown(error);
    return;
  }
  slot = new WorkerSlot(handle);
  slot.output = output?.forWorker(handle.workerId);
  engine.workers.add(slot);
  const init = options.initializer;
  handle.send({
    cf: PROTOCOL_TAG,
    k: 'init',
    ...(init === undefined ? {} : { initializer: { ...init }, initargs: options.initargs }),
    ...(output === undefined ? {} : { markers: output.nonce }),
    nest: { maxTasks: options.maxNestedTasks, maxWorkers: options.maxWorkers },
  });
  if (init !== undefined) slot.knownFns.add(init.id);
  const limit = options.initializerTimeout;
  if (limit !== undefined) {
    // Bounds the whole start (Node's own, the worker entry, the
    // initializer): a worker that never gets ready must not hold its
    // tasks, or shutdown, forever.
    const starting = slot;
    slot.armStartTimer(limit, () => startTimedOut(engine, starting, limit));
  }
  engine.telemetry.workerSpawned(handle.workerId);
}

/** The worker did not get ready within `initializerTimeout`: a failed start. */
function startTimedOut(engine: Engine, slot: WorkerSlot, limit: number): void {
  // Not ready, and not killed for a fault meanwhile (a worker that shutdown
  // stopped while it started still counts as failing to start).
  if (slot.ready || (slot.ending !== undefined && slot.ending !== 'retired')) return;
  failStart(
    engine,
    slot,
    new TimeoutError(
      `Worker ${slot.workerId} did not get ready within initializerTimeout (${limit} ms): its start-up or initializer did not finish`,
    ),
    'initializer-timeout',
  );
}

/**
 * The engine knows a worker failed to start (its initializer threw or ran
 * out of time): count the failure now, then kill it. Counting at its exit
 * instead would let the pump start a replacement for each dying worker
 * before the count reaches the limit: one start too many per worker that
 * is slow to exit, which a loaded machine makes likely.
 */
export function failStart(
  engine: Engine,
  slot: WorkerSlot,
  error: unknown,
  reason: 'initializer-failed' | 'initializer-timeout',
): void {
  slot.startError = error;
  slot.startFailureCounted = true;
  engine.startFailed(() => error);
  slot.kill(engine.options.shutdownGrace, reason);
}

/** A ready worker has nothing to do: let the parent exit, and retire it after `idleTimeout`. */
export function becameIdleIfSo(engine: Engine, slot: WorkerSlot): void {
  if (!slot.idle) return;
  slot.keepAlive(false);
  const { minWorkers, idleTimeout, shutdownGrace } = engine.options;
  if (engine.closing || !Number.isFinite(idleTimeout)) return;
  if (openWorkers(engine) <= minWorkers) return;
  slot.armIdleTimer(idleTimeout, () => {
    if (!slot.idle) return;
    // Other idle workers may have been retired meanwhile: keep minWorkers.
    if (openWorkers(engine) > minWorkers) slot.retire(shutdownGrace);
  });
}

function openWorkers(engine: Engine): number {
  let open = 0;
  for (const slot of engine.workers) if (slot.open) open++;
  return open;
}

/** The worker is gone: settle or requeue the tasks in its line, and tell. */
function onExit(engine: Engine, slot: WorkerSlot, info: ExitInfo): void {
  engine.workers.delete(slot);
  slot.exited();
  slot.output?.finish();
  // The spawn itself failed (missing cwd or node binary, EMFILE...): that is why it never started.
  if (info.spawnFailed === true) slot.startError ??= info.error;
  const dead: DeadWorker = {
    workerId: slot.workerId,
    killReason: slot.ending === 'retired' ? undefined : slot.ending,
    fatal: slot.fatal,
  };
  // Captured tasks that finished but whose output never completed: settle them now.
  for (const task of engine.output?.heldOn(slot) ?? []) outputComplete(engine, task);
  // Tasks that awaited nested ones ran there: they fail, their children are cancelled.
  for (const task of takeParked(slot)) {
    clearStopGrace(task);
    if (task.future.done()) {
      engine.detach(task);
      engine.output?.forget(task);
    } else {
      engine.detach(task);
      engine.output?.attach(task);
      failTask(engine, task, crashError(dead, info, task.id));
    }
  }
  const live: TaskRecord[] = [];
  for (const task of slot.tasks.splice(0)) {
    clearStopGrace(task);
    if (task.future.done()) {
      engine.detach(task);
      engine.output?.forget(task);
    } else {
      live.push(task);
    }
  }
  const blame = blameCrash({
    ready: slot.ready,
    ending: slot.ending,
    tasks: live.map((task) => ({
      transfer: task.transfer !== undefined,
      reportAlone: task.reportAlone,
    })),
  });
  if (blame.failedStart && !slot.startFailureCounted) {
    engine.startFailed(() => slot.startError ?? crashError(dead, info, undefined));
  }
  // Back to front, so that requeued tasks keep their order at the queue's head.
  for (let position = live.length - 1; position >= 0; position--) {
    const task = live[position]!;
    switch (blame.verdicts[position]) {
      case 'lost-transfer':
        engine.detach(task);
        engine.output?.attach(task);
        failTask(engine, task, lostTransferError(dead, info, task.id));
        break;
      case 'crashed':
        crashed(engine, task, crashError(dead, info, task.id));
        break;
      case 'rerun-alone':
        task.reportAlone = true;
        engine.output?.forget(task);
        requeueFront(engine, task);
        break;
      default:
        engine.output?.forget(task);
        requeueFront(engine, task);
    }
  }
  engine.telemetry.workerExited(() => ({
    pid: slot.workerId,
    exitCode: info.exitCode,
    signal: info.signal,
    reason: slot.ending === 'retired' ? 'retired' : crashReason(dead, info),
    tasksCompleted: slot.completed,
  }));
  engine.schedulePump();
}

/** The task crashed its worker: it runs again within its retries, or fails with `error`. */
function crashed(engine: Engine, task: TaskRecord, error: unknown): void {
  // A task with nested tasks under way fails rather than run again beside them.
  if (task.retriesLeft > 0 && !hasChildren(task)) {
    task.retriesLeft--;
    task.retried++;
    task.reportAlone = false;
    requeueFront(engine, task);
    engine.telemetry.retried(task, task.retried, error);
    return;
  }
  engine.detach(task);
  engine.output?.attach(task);
  task.future.setException(error);
  engine.telemetry.failed(task, error);
}
