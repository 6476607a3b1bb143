/**
 * The one door from `concurrent-futures/distributed` into the package's
 * internal modules.
 *
 * Everything the distributed executor and its worker nodes need beyond the
 * public API (the error codec, the `map` machinery, the executor base class,
 * option validation, the worker-side function loader) is imported here and
 * only here, so that moving those modules (the engine is due to be split
 * into wire/, transport/ and engine/) costs one edit in this file.
 */
export {
  decodeError,
  type EncodedError,
  encodeError,
} from '../engine/error-codec.js';
export type { FnRef } from '../engine/protocol.js';
export { reportListenerError } from '../events.js';
export {
  type CheckedSubmitOptions,
  checkSubmitOptions,
  ExecutorBase,
} from '../executor.js';
export { describeError, type RunningCanceller } from '../future.js';
export type { ChunkOutcome } from '../map.js';
export { checkPoolOptions } from '../pool-executor.js';
export {
  describeValue,
  rangeError,
  typeError,
  validateBoolean,
  validateInteger,
  validateOptions,
  validateTimeout,
} from '../validate.js';
export { FunctionCache, withHint } from '../worker/functions.js';
