// The worker script of both workerpool contestants (workerType 'process' and
// 'thread'): registers the shared task functions by name.
import workerpool from 'workerpool';
import { double, echo, fib, inc, noop } from './tasks.mjs';

workerpool.worker({ noop, double, inc, fib, echo });
