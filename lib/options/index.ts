/**
 * Options in one place: the pool executors' options (what each means, in
 * TSDoc with its default) and the defaults of every option (`DEFAULTS`, one
 * frozen constant) in pool-options.ts; the checks that turn what a user
 * passed, to a constructor or to `submit`, `map` and `shutdown`, into
 * settings the engine can trust in checks.ts. The options every `Executor`
 * takes (`SubmitOptions`, `MapOptions`, `ShutdownOptions`) are declared with
 * the interface, in executor.ts; the generic checks (an integer in a range,
 * a time in ms...) are in validate.ts.
 */
export {
  type CheckedPoolOptions,
  type CheckedSubmitOptions,
  checkCwd,
  checkMapOptions,
  checkPoolOptions,
  checkPoolSubmitOptions,
  checkResourceLimits,
  checkShutdownOptions,
  checkSubmitOptions,
  type MapLimits,
  type TaskSettings,
} from './checks.js';
export {
  DEFAULTS,
  type PoolOptions,
  type PoolSubmitOptions,
  type ProcessPoolOptions,
  type ThreadPoolOptions,
} from './pool-options.js';
