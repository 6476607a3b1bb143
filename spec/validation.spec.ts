/**
 * "Bad input gets a clear error, at once" (../shared/CONTRACT.md), option by
 * option, for both executors: a value of the wrong type is a TypeError
 * (ArgumentTypeError, code ERR_INVALID_ARG_TYPE), a value out of range a
 * RangeError (ArgumentRangeError, code ERR_OUT_OF_RANGE), thrown
 * synchronously, with a message that names the option, says what was
 * expected and shows what was given:
 *
 *   Expected `maxWorkers` to be an integer >= 1, got `0` (number)
 *
 * Constructor options are checked before anything starts (the root hooks
 * check that no child process is left). `submit`, `map` and
 * `whenQueueBelow` are checked on a live executor, which must stay usable:
 * no worker is started for the bad call, and a good task runs afterwards.
 */
import { expect } from 'chai';
import {
  ArgumentRangeError,
  ArgumentTypeError,
  ProcessPoolExecutor,
  ThreadPoolExecutor,
  task,
} from '../lib/index.js';
import { rejectionOf, thrownBy } from './support/futures.js';
import { expectNoChildren } from './support/hooks.js';

type Kind = 'process' | 'thread';
type Pool = ProcessPoolExecutor | ThreadPoolExecutor;

const EXECUTORS: ReadonlyArray<{ name: string; kind: Kind; make: (options?: unknown) => Pool }> = [
  {
    name: 'ProcessPoolExecutor',
    kind: 'process',
    make: (o) => new ProcessPoolExecutor(o as ConstructorParameters<typeof ProcessPoolExecutor>[0]),
  },
  {
    name: 'ThreadPoolExecutor',
    kind: 'thread',
    make: (o) => new ThreadPoolExecutor(o as ConstructorParameters<typeof ThreadPoolExecutor>[0]),
  },
];

/** One bad value of one option, and the error it must get. */
interface Case {
  option: string;
  value: unknown;
  /** `'type'`: TypeError; `'range'`: RangeError. */
  error: 'type' | 'range';
  /** What the message says was expected. */
  expected: string;
  /** How the message shows the value that was given. */
  given: string;
  /** The executor the option belongs to, when not both. */
  only?: Kind;
  /** The name the message uses, when it is more precise than `option`. */
  name?: string;
}

const MS = 'a number of milliseconds >= 0';

/** Constructor options; `option: 'options'` is the options argument itself. */
// biome-ignore format: a table reads better one case a line
const CONSTRUCTOR_CASES: readonly Case[] = [
  { option: 'options', value: 5, error: 'type', expected: 'an options object', given: '`5` (number)' },
  { option: 'maxWorkers', value: '2', error: 'type', expected: 'an integer', given: "`'2'` (string)" },
  { option: 'maxWorkers', value: 0, error: 'range', expected: 'an integer >= 1', given: '`0` (number)' },
  { option: 'minWorkers', value: '1', error: 'type', expected: 'an integer >= 0', given: "`'1'` (string)" },
  { option: 'minWorkers', value: -1, error: 'range', expected: 'an integer >= 0', given: '`-1` (number)' },
  { option: 'idleTimeout', value: '10', error: 'type', expected: MS, given: "`'10'` (string)" },
  { option: 'idleTimeout', value: -5, error: 'range', expected: MS, given: '`-5` (number)' },
  { option: 'maxTasksPerWorker', value: '3', error: 'type', expected: 'an integer from 1', given: "`'3'` (string)" },
  { option: 'maxTasksPerWorker', value: 0, error: 'range', expected: 'an integer from 1', given: '`0` (number)' },
  { option: 'maxQueued', value: true, error: 'type', expected: 'an integer from 1', given: '`true` (boolean)' },
  { option: 'maxQueued', value: 0, error: 'range', expected: 'an integer from 1', given: '`0` (number)' },
  { option: 'taskTimeout', value: '100', error: 'type', expected: MS, given: "`'100'` (string)" },
  { option: 'taskTimeout', value: -1, error: 'range', expected: MS, given: '`-1` (number)' },
  { option: 'taskTimeout', value: Number.NaN, error: 'range', expected: MS, given: '`NaN` (number)' },
  { option: 'retries', value: '1', error: 'type', expected: 'an integer >= 0', given: "`'1'` (string)" },
  { option: 'retries', value: -1, error: 'range', expected: 'an integer >= 0', given: '`-1` (number)' },
  { option: 'retries', value: 1.5, error: 'range', expected: 'an integer >= 0', given: '`1.5` (number)' },
  { option: 'shutdownGrace', value: {}, error: 'type', expected: MS, given: '`{}` (object)' },
  { option: 'shutdownGrace', value: -1, error: 'range', expected: MS, given: '`-1` (number)' },
  { option: 'cancelGrace', value: '5', error: 'type', expected: MS, given: "`'5'` (string)" },
  { option: 'cancelGrace', value: -1, error: 'range', expected: MS, given: '`-1` (number)' },
  { option: 'initializerTimeout', value: '30s', error: 'type', expected: MS, given: "`'30s'` (string)" },
  { option: 'initializerTimeout', value: -1, error: 'range', expected: MS, given: '`-1` (number)' },
  { option: 'initializerTimeout', value: Number.NaN, error: 'range', expected: MS, given: '`NaN` (number)' },
  { option: 'initializer', value: 42, error: 'type', expected: 'a function or a task() reference', given: '`42` (number)' },
  { option: 'initargs', value: 'x', error: 'type', expected: 'an array', given: "`'x'` (string)" },
  { option: 'env', value: 'PATH=/bin', error: 'type', expected: 'an object', given: "`'PATH=/bin'` (string)" },
  { option: 'env', value: null, error: 'type', expected: 'an object', given: '`null` (null)' },
  { option: 'execArgv', value: '--no-warnings', error: 'type', expected: 'an array of strings', given: "`'--no-warnings'` (string)" },
  { option: 'execArgv', value: ['--no-warnings', 1], error: 'type', expected: 'an array of strings', given: "`[ '--no-warnings', 1 ]` (object)" },
  { option: 'stdio', value: 5, error: 'type', expected: "one of 'inherit', 'capture', 'pipe'", given: '`5` (number)' },
  { option: 'stdio', value: 'ignore', error: 'range', expected: "one of 'inherit', 'capture', 'pipe'", given: "`'ignore'` (string)" },
  { option: 'resourceLimits', value: 256, error: 'type', expected: 'an object of heap limits in MB', given: '`256` (number)', only: 'thread' },
  { option: 'resourceLimits', value: { maxOldGenerationSizeMb: -1 }, name: 'resourceLimits.maxOldGenerationSizeMb', error: 'range', expected: 'a number of MB > 0', given: '`-1` (number)', only: 'thread' },
  { option: 'resourceLimits', value: { maxOldGenerationSizeMb: 'big' }, name: 'resourceLimits.maxOldGenerationSizeMb', error: 'type', expected: 'a number of MB > 0', given: "`'big'` (string)", only: 'thread' },
  { option: 'resourceLimits', value: { heapMb: 64 }, name: 'resourceLimits.heapMb', error: 'type', expected: 'one of the limits', given: '`64` (number)', only: 'thread' },
  { option: 'cwd', value: 42, error: 'type', expected: 'a string', given: '`42` (number)', only: 'process' },
];

/** A bad value for one argument or option of a call on a live executor. */
interface CallCase extends Case {
  api: 'submit' | 'map' | 'whenQueueBelow';
}

const add = (a: number, b: number) => a + b;

/** Makes the row's call: the bad value as the argument or option it names. */
function callWith(pool: Pool, row: CallCase): unknown {
  const options = row.option === 'options' ? row.value : { [row.option]: row.value };
  switch (row.api) {
    case 'submit':
      if (row.option === 'fn') return pool.submit(row.value as () => number);
      if (row.option === 'args') return pool.submit(add, row.value as [number, number]);
      return pool.submit(add, [1, 2], options as Parameters<Pool['submit']>[2]);
    case 'map':
      return pool.map((x: number) => x, [1, 2], options as Parameters<Pool['map']>[2]);
    case 'whenQueueBelow':
      return pool.whenQueueBelow(row.value as number);
  }
}

// biome-ignore format: a table reads better one case a line
const CALL_CASES: readonly CallCase[] = [
  { api: 'submit', option: 'fn', value: 42, error: 'type', expected: 'a function or a task() reference', given: '`42` (number)' },
  { api: 'submit', option: 'args', value: 5, error: 'type', expected: 'an array', given: '`5` (number)' },
  { api: 'submit', option: 'options', value: 5, error: 'type', expected: 'an options object', given: '`5` (number)' },
  { api: 'submit', option: 'timeout', value: '100', error: 'type', expected: MS, given: "`'100'` (string)" },
  { api: 'submit', option: 'timeout', value: -1, error: 'range', expected: MS, given: '`-1` (number)' },
  { api: 'submit', option: 'retries', value: '2', error: 'type', expected: 'an integer >= 0', given: "`'2'` (string)" },
  { api: 'submit', option: 'retries', value: -1, error: 'range', expected: 'an integer >= 0', given: '`-1` (number)' },
  { api: 'submit', option: 'signal', value: {}, error: 'type', expected: 'an AbortSignal', given: '`{}` (object)' },
  { api: 'submit', option: 'signal', value: 'abort', error: 'type', expected: 'an AbortSignal', given: "`'abort'` (string)" },
  { api: 'submit', option: 'onProgress', value: 'log', error: 'type', expected: 'a function', given: "`'log'` (string)" },
  { api: 'submit', option: 'transfer', value: 'buf', error: 'type', expected: 'an array of ArrayBuffers or MessagePorts', given: "`'buf'` (string)" },
  { api: 'map', option: 'options', value: 5, error: 'type', expected: 'an options object', given: '`5` (number)' },
  { api: 'map', option: 'chunksize', value: '4', error: 'type', expected: 'an integer >= 1', given: "`'4'` (string)" },
  { api: 'map', option: 'chunksize', value: 0, error: 'range', expected: 'an integer >= 1', given: '`0` (number)' },
  { api: 'map', option: 'buffersize', value: 0, error: 'range', expected: 'an integer from 1', given: '`0` (number)' },
  { api: 'map', option: 'timeout', value: -1, error: 'range', expected: MS, given: '`-1` (number)' },
  { api: 'map', option: 'signal', value: {}, error: 'type', expected: 'an AbortSignal', given: '`{}` (object)' },
  { api: 'map', option: 'onProgress', value: 1, error: 'type', expected: 'a function', given: '`1` (number)' },
  { api: 'whenQueueBelow', option: 'limit', value: 0, error: 'range', expected: 'an integer from 1', given: '`0` (number)' },
];

/** Checks the class, the code and the three parts of the message. */
function expectClearError(error: unknown, row: Case): void {
  if (row.error === 'type') {
    expect(error).to.be.instanceOf(TypeError);
    expect(error).to.be.instanceOf(ArgumentTypeError);
    expect((error as ArgumentTypeError).code).to.equal('ERR_INVALID_ARG_TYPE');
  } else {
    expect(error).to.be.instanceOf(RangeError);
    expect(error).to.be.instanceOf(ArgumentRangeError);
    expect((error as ArgumentRangeError).code).to.equal('ERR_OUT_OF_RANGE');
  }
  const { message } = error as Error;
  expect(message).to.include(`Expected \`${row.name ?? row.option}\` to be ${row.expected}`);
  expect(message).to.include(`got ${row.given}`);
}

const describeRow = (row: Case) =>
  `${row.error === 'type' ? 'TypeError' : 'RangeError'} for \`${row.name ?? row.option}\`: ${row.given}`;

for (const { name, kind, make } of EXECUTORS) {
  describe(`option validation (${name})`, () => {
    describe('constructor options', () => {
      for (const row of CONSTRUCTOR_CASES.filter((c) => c.only === undefined || c.only === kind)) {
        it(`throws a ${describeRow(row)}, naming what was expected`, () => {
          const options = row.option === 'options' ? row.value : { [row.option]: row.value };
          expectClearError(
            thrownBy(() => make(options)),
            row,
          );
        });
      }

      it('accepts every option at its documented bound', async () => {
        const pool = make({
          maxWorkers: 1,
          minWorkers: 0,
          idleTimeout: 0,
          maxTasksPerWorker: Number.POSITIVE_INFINITY,
          maxQueued: Number.POSITIVE_INFINITY,
          taskTimeout: Number.POSITIVE_INFINITY,
          retries: 0,
          shutdownGrace: 0,
          cancelGrace: 0,
          initializer: task(new URL('../../spec/fixtures/tasks.mjs', import.meta.url), 'init'),
          initargs: ['tag'],
          env: { ...process.env },
          execArgv: [],
          stdio: 'inherit',
          ...(kind === 'process' ? { cwd: process.cwd() } : { resourceLimits: {} }),
        });
        try {
          expect(await pool.submit(add, [20, 22])).to.equal(42);
        } finally {
          await pool.shutdown();
        }
      });
    });

    describe('submit, map and whenQueueBelow on a live executor', () => {
      let pool: Pool;
      let workers: number[];
      before(async function () {
        // One executor serves every row; its worker lives across the tests.
        this.keepsWorkers = true;
        pool = make({ maxWorkers: 1 });
        expect(await pool.submit(add, [0, 0])).to.equal(0);
        workers = pool.workerIds();
      });
      after(async () => {
        await pool.shutdown();
        await expectNoChildren();
      });

      for (const row of CALL_CASES) {
        it(`${row.api} throws a ${describeRow(row)} at once, and the executor stays usable`, async () => {
          expectClearError(
            thrownBy(() => callWith(pool, row)),
            row,
          );
          expect(pool.workerIds()).to.deep.equal(workers);
          expect(pool.stats().queued).to.equal(0);
          expect(await pool.submit(add, [40, 2])).to.equal(42);
          expect(pool.workerIds()).to.deep.equal(workers);
        });
      }

      it('shutdown rejects a bad option with a TypeError and does not shut the executor down', async () => {
        const error = await rejectionOf(pool.shutdown({ wait: 'yes' as unknown as boolean }));
        expectClearError(error, {
          option: 'wait',
          value: 'yes',
          error: 'type',
          expected: 'a boolean',
          given: "`'yes'` (string)",
        });
        expect(pool.isShutdown).to.equal(false);
        expect(await pool.submit(add, [1, 1])).to.equal(2);
      });
    });
  });
}
