/**
 * What the engine does with each message a worker sends: one handler per
 * message kind (wire/protocol.ts). A new kind of message is a new entry
 * in the protocol's `WorkerMessage` union and one handler here; the type
 * of `HANDLERS` makes forgetting the handler a compile error.
 */
import { decodeError } from '../wire/error-codec.js';
import type { EngineMessage, WorkerMessageOf } from '../wire/protocol.js';
import type { Engine } from './context.js';
import { startHead } from './dispatch.js';
import { onExplorerMessage } from './map-reduce/room.js';
import { onNestedCancel, onNestedSubmit, onPark } from './nesting.js';
import { onResults } from './outcomes.js';
import { onStolen } from './stealing.js';
import { becameIdleIfSo, failStart } from './worker-life.js';
import type { WorkerSlot } from './worker-slot.js';

type Handlers = {
  [K in EngineMessage['k']]: (
    engine: Engine,
    slot: WorkerSlot,
    message: WorkerMessageOf<K>,
  ) => void;
};

const HANDLERS: Handlers = {
  ready(engine, slot, message) {
    slot.noteUsage(message.u);
    slot.clearStartLimit();
    // A worker the engine is already ending (its start timed out, shutdown
    // stopped it) does not become ready: its tasks never start there.
    if (!slot.ready && slot.open) {
      slot.ready = true;
      startHead(engine, slot, performance.now());
    }
    engine.startSucceeded();
    becameIdleIfSo(engine, slot);
    engine.schedulePump();
  },
  initFailed(engine, slot, message) {
    failStart(engine, slot, decodeError(message.error), 'initializer-failed');
  },
  results(engine, slot, message) {
    if (message.u !== undefined) slot.noteUsage(message.u);
    onResults(engine, slot, message.done);
  },
  progress(engine, slot, message) {
    const task = slot.find(message.id);
    if (task !== undefined && !task.future.done()) engine.telemetry.progress(task, message.value);
  },
  stolen(engine, slot, message) {
    onStolen(engine, slot, message.ids);
  },
  fatal(_engine, slot, message) {
    slot.fatal = { origin: message.origin, error: decodeError(message.error) };
  },
  mrIdle: onExplorerMessage,
  mrLow: onExplorerMessage,
  mrStolen: onExplorerMessage,
  mrHasWork: onExplorerMessage,
  outputBroken(engine, slot) {
    // Task code ended or broke the worker's stdout/stderr. The worker
    // reported what it finished and started nothing since: replace it.
    // Nobody is blamed (the engine's own reason), and the tasks in its
    // line run elsewhere.
    slot.retire(engine.options.shutdownGrace, 'output-broken');
  },
  // Nested submission (nesting.ts).
  nsubmit(engine, slot, message) {
    onNestedSubmit(engine, slot, message.subs, engine.submitNested);
  },
  park(engine, slot, message) {
    onPark(engine, slot, message.id);
  },
  ncancel(engine, slot, message) {
    onNestedCancel(engine, slot, message.subs);
  },
};

/** Handles one message from `slot`'s worker. */
export function onMessage(engine: Engine, slot: WorkerSlot, message: EngineMessage): void {
  const handler = HANDLERS[message.k] as (
    engine: Engine,
    slot: WorkerSlot,
    message: EngineMessage,
  ) => void;
  handler(engine, slot, message);
}
