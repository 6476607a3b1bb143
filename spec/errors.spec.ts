import { expect } from 'chai';
import {
  ArgumentRangeError,
  ArgumentTypeError,
  BrokenExecutorError,
  CancelAll,
  CancelledError,
  ExecutorShutdownError,
  FuturesError,
  InvalidStateError,
  QueueFullError,
  TaskTimeoutError,
  TimeoutError,
  WorkerCrashedError,
} from '../lib/index.js';

describe('errors', () => {
  const table: Array<[new (...args: any[]) => Error, string, string]> = [
    [CancelledError, 'CancelledError', 'ERR_FUTURE_CANCELLED'],
    [TimeoutError, 'TimeoutError', 'ERR_FUTURE_TIMEOUT'],
    [TaskTimeoutError, 'TaskTimeoutError', 'ERR_TASK_TIMEOUT'],
    [InvalidStateError, 'InvalidStateError', 'ERR_FUTURE_INVALID_STATE'],
    [BrokenExecutorError, 'BrokenExecutorError', 'ERR_BROKEN_EXECUTOR'],
    [WorkerCrashedError, 'WorkerCrashedError', 'ERR_WORKER_CRASHED'],
    [ExecutorShutdownError, 'ExecutorShutdownError', 'ERR_EXECUTOR_SHUTDOWN'],
    [QueueFullError, 'QueueFullError', 'ERR_QUEUE_FULL'],
    [CancelAll, 'CancelAll', 'ERR_CANCEL_ALL'],
  ];
  for (const [Cls, name, code] of table) {
    it(`${name} has code ${code}, derives from FuturesError and keeps its cause`, () => {
      const cause = new Error('root');
      const error = new Cls('message', { cause });
      expect(error).to.be.instanceOf(Cls);
      expect(error).to.be.instanceOf(FuturesError);
      expect(error).to.be.instanceOf(Error);
      expect(error.name).to.equal(name);
      expect((error as FuturesError).code).to.equal(code);
      expect(error.cause).to.equal(cause);
      expect(String(error.stack)).to.match(new RegExp(`^${name}`));
    });
  }

  it('TaskTimeoutError is a TimeoutError and records the limit', () => {
    const error = new TaskTimeoutError('too slow', { timeout: 250 });
    expect(error).to.be.instanceOf(TimeoutError);
    expect(error.timeout).to.equal(250);
  });

  it('WorkerCrashedError carries exit code, signal, pid, reason and stderr', () => {
    const error = new WorkerCrashedError('died', {
      exitCode: null,
      signal: 'SIGKILL',
      pid: 1234,
      reason: 'out-of-memory',
      stderr: 'FATAL ERROR: heap',
    });
    expect(error).to.include({
      exitCode: null,
      signal: 'SIGKILL',
      pid: 1234,
      reason: 'out-of-memory',
      stderr: 'FATAL ERROR: heap',
    });
  });

  it('CancelAll keeps its reason and names it in the message', () => {
    expect(new CancelAll('found it').message).to.equal('CancelAll: found it');
    expect(new CancelAll({ at: 3 }).reason).to.deep.equal({ at: 3 });
    expect(new CancelAll().message).to.equal('CancelAll');
  });

  it('argument errors are TypeError and RangeError with Node codes', () => {
    expect(new ArgumentTypeError('x'))
      .to.be.instanceOf(TypeError)
      .with.property('code', 'ERR_INVALID_ARG_TYPE');
    expect(new ArgumentRangeError('x'))
      .to.be.instanceOf(RangeError)
      .with.property('code', 'ERR_OUT_OF_RANGE');
  });

  it('the code and name are not own enumerable properties cluttering inspection', () => {
    expect(Object.keys(new CancelledError())).to.deep.equal([]);
  });
});
