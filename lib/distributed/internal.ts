/**
 * The one door from `concurrent-futures/distributed` into the package's
 * internal modules.
 *
 * Everything the distributed executor and its worker nodes need beyond the
 * public API (the error codec, the `map` machinery, the executor base class,
 * option validation, the worker-side function loader) is imported here and
 * only here, so that moving those modules costs one edit in this file.
 */
export { describeError, isThenable } from '../describe.js';
export { SignalWatch } from '../engine/signal-watch.js';
export { isCancelAll } from '../errors.js';
export { reportListenerError } from '../events.js';
export { ExecutorBase } from '../executor.js';
export type { CancelBinding } from '../future-support.js';
export {
  type CheckedSubmitOptions,
  checkPoolOptions,
  checkSubmitOptions,
} from '../options/index.js';
export {
  describeValue,
  rangeError,
  typeError,
  validateBoolean,
  validateInteger,
  validateOptions,
  validateTimeout,
} from '../validate.js';
export type { ChunkOutcome } from '../wire/chunk-outcome.js';
export {
  decodeError,
  type EncodedError,
  encodeError,
} from '../wire/error-codec.js';
export type { FnRef } from '../wire/protocol.js';
export { FunctionCache, withHint } from '../worker/functions.js';
