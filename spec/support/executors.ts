/**
 * The executors a shared suite runs against (CPython's ExecutorMixin idea):
 * `for (const { name, kind, make } of EXECUTORS) describe(...)` generates
 * the suite once with real child processes and once with real worker
 * threads.
 */
import {
  type PoolExecutor,
  type PoolOptions,
  ProcessPoolExecutor,
  ThreadPoolExecutor,
} from '../../lib/index.js';

export type PoolKind = 'process' | 'thread';

export interface ExecutorUnderTest {
  name: 'ProcessPoolExecutor' | 'ThreadPoolExecutor';
  kind: PoolKind;
  make(options?: PoolOptions): PoolExecutor;
}

export const EXECUTORS: readonly ExecutorUnderTest[] = [
  { name: 'ProcessPoolExecutor', kind: 'process', make: (o) => new ProcessPoolExecutor(o) },
  { name: 'ThreadPoolExecutor', kind: 'thread', make: (o) => new ThreadPoolExecutor(o) },
];
