/**
 * One behaviour suite for both executors, run with real child processes and
 * real worker threads (CPython's ExecutorMixin idea): every `describe` below
 * is generated once for ProcessPoolExecutor and once for ThreadPoolExecutor;
 * the few process-only behaviours say so in their names.
 *
 * Task code lives in spec/fixtures/ (plain .mjs/.cjs, not compiled), reached
 * from the compiled spec in dist/spec/ through `../../spec/fixtures/`.
 *
 * Sequencing uses handshakes, never clocks: blocking tasks write
 * `started-<name>` into a per-test temp dir and wait for `release-<name>` (or
 * `ALL`), which the test writes once it has seen what it waits for. Deadlines
 * in the polling helpers only bound a hang; no test asserts elapsed time.
 */
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import {
  CancelAll,
  CancelledError,
  currentTask,
  ExecutorShutdownError,
  type Future,
  InvalidStateError,
  ProcessPoolExecutor,
  type ProcessPoolOptions,
  TaskTimeoutError,
  ThreadPoolExecutor,
  TimeoutError,
  task,
} from '../lib/index.js';
import { isAlive } from '../tools/processes.js';
import { macrotasks, rejectionOf, thrownBy, track } from './support/futures.js';
import { expectNoChildren } from './support/hooks.js';

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

const FIXTURES = new URL('../../spec/fixtures/', import.meta.url);
const TASKS_MJS = new URL('tasks.mjs', FIXTURES);
const TASKS_CJS = new URL('tasks.cjs', FIXTURES);
const DEFAULT_CJS = new URL('default-export.cjs', FIXTURES);
const TYPED_TS = new URL('typed.ts', FIXTURES);

/** An item of the `block` fixture: see spec/fixtures/tasks.mjs. */
interface BlockItem {
  dir: string;
  name: string;
  value?: unknown;
}

interface InitSeen {
  tag: string;
  runs: number;
  worker: number;
}

const fx = {
  workerId: task<() => number>(TASKS_MJS, 'workerId'),
  add: task<(a: number, b: number) => number>(TASKS_MJS, 'add'),
  addLater: task<(a: number, b: number) => Promise<number>>(TASKS_MJS, 'addLater'),
  countCalls: task<() => { worker: number; calls: number }>(TASKS_MJS, 'countCalls'),
  fail: task<(kind: string) => never>(TASKS_MJS, 'fail'),
  failWithDetails: task<() => never>(TASKS_MJS, 'failWithDetails'),
  context: task<() => { id: unknown; isSignal: boolean; aborted: boolean }>(TASKS_MJS, 'context'),
  env: task<(name: string) => string | undefined>(TASKS_MJS, 'env'),
  execArgv: task<() => string[]>(TASKS_MJS, 'execArgv'),
  cwd: task<() => string>(TASKS_MJS, 'cwd'),
  init: task<(tag: string) => void>(TASKS_MJS, 'init'),
  readInit: task<() => InitSeen>(TASKS_MJS, 'readInit'),
  block: task<(item: BlockItem) => Promise<unknown>>(TASKS_MJS, 'block'),
  spin: task<(dir: string, name: string) => never>(TASKS_MJS, 'spin'),
  triple: task<(x: number) => number>(TASKS_CJS, 'triple'),
  cjsCountCalls: task<() => number>(TASKS_CJS, 'countCalls'),
  negate: task<(x: number) => number>(DEFAULT_CJS, 'default'),
  manhattan: task<(point: { x: number; y: number }) => number>(TYPED_TS, 'manhattan'),
};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

type Pool = ProcessPoolExecutor | ThreadPoolExecutor;

/**
 * cancelGrace for tests that expect a cancelled task to notice its aborted
 * signal: long enough that even a loaded machine never kills the worker first.
 */
const LONG_GRACE = 10_000;
type Kind = 'process' | 'thread';

interface ExecutorKind {
  name: string;
  kind: Kind;
  make: (options?: ProcessPoolOptions) => Pool;
}

const EXECUTORS: readonly ExecutorKind[] = [
  { name: 'ProcessPoolExecutor', kind: 'process', make: (o) => new ProcessPoolExecutor(o) },
  { name: 'ThreadPoolExecutor', kind: 'thread', make: (o) => new ThreadPoolExecutor(o) },
];

/**
 * Polls `probe` every 10 ms until it returns something other than
 * `undefined`/`false`, and returns that. The deadline only turns a hang into
 * a clear failure; it is far above any expected wait.
 */
async function until<T>(
  what: string,
  probe: () => T | undefined | false,
  deadlineMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Names `x` of the files `<prefix>x` in `dir`, sorted. */
function marked(dir: string, prefix: string): string[] {
  return readdirSync(dir)
    .filter((file) => file.startsWith(prefix))
    .map((file) => file.slice(prefix.length))
    .sort();
}

/** Waits until the `block` tasks named `names` all wrote their `started-` file. */
function startedAll(dir: string, ...names: string[]): Promise<string[]> {
  return until(`tasks ${names.join(', ')} to start`, () => {
    const started = marked(dir, 'started-');
    return names.every((name) => started.includes(name)) && started;
  });
}

function release(dir: string, name: string): void {
  writeFileSync(join(dir, `release-${name}`), '');
}

/**
 * Runs `node script ...args` and resolves with how it ended (never rejects).
 * A program still running after 20 s is killed (`signal` then says so).
 */
function runNode(
  script: URL,
  args: string[],
): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [fileURLToPath(script), ...args],
      { timeout: 20_000, cwd: fileURLToPath(new URL('../..', FIXTURES)) },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve({ code: 0, signal: null, stdout, stderr });
          return;
        }
        const code = typeof error.code === 'number' ? error.code : null;
        resolve({ code, signal: error.signal ?? null, stdout, stderr });
      },
    );
  });
}

/** Why a `runNode` run did not end with exit code 0, for assertion messages. */
function howItEnded(run: { code: number | null; signal: string | null; stderr: string }): string {
  return `exit code ${run.code}, signal ${run.signal}, stderr: ${run.stderr.slice(-2000)}`;
}

/** The line after the one holding `marker` in a fixture file, counting from 1. */
function lineOf(file: URL, marker: string): number {
  const lines = readFileSync(file, 'utf8').split('\n');
  const index = lines.findIndex((line) => line.includes(marker));
  if (index < 0) throw new Error(`marker ${marker} not found in ${file.href}`);
  return index + 2;
}

/** A value with every structured-clone type the contract lists, and a cycle. */
function richValue() {
  const nested: { label: string; self?: unknown; list: unknown[] } = { label: 'nested', list: [] };
  nested.self = nested;
  nested.list.push(nested, { deep: { deeper: [1, 'two', null] } });
  return {
    map: new Map<unknown, unknown>([
      ['a', 1],
      [2, { b: [3] }],
    ]),
    set: new Set<unknown>(['x', 1, 2n]),
    date: new Date(Date.UTC(2020, 1, 29, 12, 30)),
    big: 2n ** 70n + 1n,
    f64: new Float64Array([0.5, -1.25, Number.POSITIVE_INFINITY]),
    i32: new Int32Array([-(2 ** 31), 0, 2 ** 31 - 1]),
    u64: new BigUint64Array([0n, 2n ** 64n - 1n]),
    nested,
  };
}

// ---------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------

describe('currentTask() outside a worker', () => {
  it('throws InvalidStateError when called in the parent', () => {
    const error = thrownBy(() => currentTask());
    expect(error).to.be.instanceOf(InvalidStateError);
    expect((error as Error).message).to.match(/currentTask\(\)/);
  });
});

for (const { name, kind, make } of EXECUTORS) {
  describe(`${name} (real ${kind === 'process' ? 'child processes' : 'worker threads'})`, () => {
    /** Per-test temp dir for handshake files. */
    let dir: string;
    /** Executors made by the running test; all are shut down after it. */
    const made: Pool[] = [];

    /** A new executor of this kind (default maxWorkers: 2), shut down after the test. */
    function executor(options: ProcessPoolOptions = {}): Pool {
      const ex = make({ maxWorkers: 2, ...options });
      made.push(ex);
      return ex;
    }

    const item = (itemName: string, value?: unknown): BlockItem =>
      value === undefined ? { dir, name: itemName } : { dir, name: itemName, value };

    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'cf-executor-spec-'));
    });

    afterEach(async () => {
      // Unblock whatever a failed test left waiting, then release the workers.
      writeFileSync(join(dir, 'ALL'), '');
      await Promise.all(made.splice(0).map((ex) => ex.shutdown({ cancelFutures: true })));
      rmSync(dir, { recursive: true, force: true });
    });

    describe('sharing one executor across tests (maxWorkers: 2)', () => {
      /** Serves the tests below that need no special options; its workers live across them. */
      let shared: Pool;
      before(function () {
        this.keepsWorkers = true;
        shared = make({ maxWorkers: 2 });
      });
      after(async () => {
        await shared.shutdown({ cancelFutures: true });
        await expectNoChildren();
      });

      describe('submit', () => {
        it('runs an inline sync function with its arguments', async () => {
          const ex = shared;
          expect(await ex.submit((a: number, b: number) => a * b, [6, 7])).to.equal(42);
        });

        it('runs an inline async function and resolves with what its promise resolves to', async () => {
          const ex = shared;
          const future = ex.submit(
            async (x: number) => {
              await new Promise((resolve) => setTimeout(resolve, 1));
              return `${x} later`;
            },
            [5],
          );
          expect(await future).to.equal('5 later');
        });

        it('calls the function without arguments when args is omitted', async () => {
          const ex = shared;
          expect(await ex.submit((...args: unknown[]) => args.length)).to.equal(0);
        });

        it('gives the same value through `await future` and `future.result()`', async () => {
          const ex = shared;
          const future = ex.submit((s: string) => s.toUpperCase(), ['same']);
          const awaited = await future;
          expect(awaited).to.equal('SAME');
          expect(await future.result()).to.equal(awaited);
          expect(future.state).to.equal('finished');
          expect(await future.exception()).to.equal(undefined);
        });

        it('passes Map, Set, Date, BigInt, typed arrays and cyclic objects to the worker and back intact', async () => {
          const ex = shared;
          const value = richValue();
          const [seen, back] = await ex.submit(
            (v: ReturnType<typeof richValue>) => {
              const seenInWorker = {
                map: v.map instanceof Map && v.map.get('a') === 1,
                set: v.set instanceof Set && v.set.has(2n),
                date: v.date instanceof Date && v.date.getUTCDate() === 29,
                big: typeof v.big === 'bigint',
                f64: v.f64 instanceof Float64Array,
                i32: v.i32 instanceof Int32Array,
                u64: v.u64 instanceof BigUint64Array,
                cycle: v.nested.self === v.nested && v.nested.list[0] === v.nested,
              };
              return [seenInWorker, v] as const;
            },
            [value],
          );
          expect(seen).to.deep.equal({
            map: true,
            set: true,
            date: true,
            big: true,
            f64: true,
            i32: true,
            u64: true,
            cycle: true,
          });
          expect(back).to.deep.equal(value);
          expect(back.map).to.be.instanceOf(Map);
          expect(back.set).to.be.instanceOf(Set);
          expect(back.date).to.be.instanceOf(Date);
          expect(back.big).to.equal(2n ** 70n + 1n);
          expect(back.f64).to.be.instanceOf(Float64Array);
          expect(back.i32).to.be.instanceOf(Int32Array);
          expect(back.u64).to.be.instanceOf(BigUint64Array);
          expect(back.nested.self).to.equal(back.nested);
          expect(back.nested.list[0]).to.equal(back.nested);
        });

        it('resolves with Map, Set, Date, BigInt and typed arrays built in the worker', async () => {
          const ex = shared;
          const result = await ex.submit(() => {
            const root: {
              map: Map<string, Set<bigint>>;
              when: Date;
              bytes: Uint16Array;
              me?: unknown;
            } = {
              map: new Map([['k', new Set([1n, 2n ** 65n])]]),
              when: new Date(0),
              bytes: new Uint16Array([1, 65535]),
            };
            root.me = root;
            return root;
          });
          expect(result.map).to.be.instanceOf(Map);
          expect([...(result.map.get('k') ?? [])]).to.deep.equal([1n, 2n ** 65n]);
          expect(result.when).to.be.instanceOf(Date);
          expect(result.when.getTime()).to.equal(0);
          expect(result.bytes).to.be.instanceOf(Uint16Array);
          expect([...result.bytes]).to.deep.equal([1, 65535]);
          expect(result.me).to.equal(result);
        });

        if (kind === 'process') {
          it('keeps a Buffer a Buffer both ways (the IPC channel uses v8 serialization, which restores Buffers)', async () => {
            const ex = shared;
            const [inWorker, back] = await ex.submit(
              (b: Uint8Array) => [Buffer.isBuffer(b), Buffer.from(`${Buffer.from(b)}!`)] as const,
              [Buffer.from('bytes')],
            );
            expect(inWorker).to.equal(true);
            expect(Buffer.isBuffer(back)).to.equal(true);
            expect(Buffer.from(back).toString()).to.equal('bytes!');
          });
        } else {
          it('delivers a Buffer as a plain Uint8Array with the same bytes, both ways (structured clone drops the Buffer class)', async () => {
            const ex = shared;
            const [inWorker, back] = await ex.submit(
              (b: Uint8Array) =>
                [
                  { isBuffer: Buffer.isBuffer(b), ctor: b.constructor.name },
                  Buffer.from(`${Buffer.from(b)}!`),
                ] as const,
              [Buffer.from('bytes')],
            );
            expect(inWorker).to.deep.equal({ isBuffer: false, ctor: 'Uint8Array' });
            expect(Buffer.isBuffer(back)).to.equal(false);
            expect(back).to.be.instanceOf(Uint8Array);
            expect(Buffer.from(back).toString()).to.equal('bytes!');
          });
        }
      });

      describe('values that cannot cross the boundary', () => {
        it('fails only that future with a TypeError naming argument 1 when it is a function', async () => {
          const ex = shared;
          const good = ex.submit((x: number) => x + 1, [1]);
          const bad = ex.submit((_a: number, _b: unknown) => 'ran', [1, () => 2]);
          const error = await rejectionOf(bad);
          expect(error).to.be.instanceOf(TypeError);
          expect((error as Error).message).to.match(/\bArgument 1\b/);
          expect(await good).to.equal(2);
          expect(await ex.submit((x: number) => x * 2, [21])).to.equal(42);
        });

        it('fails only that future with a TypeError naming argument 0 when it is a symbol', async () => {
          const ex = shared;
          const error = await rejectionOf(ex.submit((_s: symbol) => 'ran', [Symbol('nope')]));
          expect(error).to.be.instanceOf(TypeError);
          expect((error as Error).message).to.match(/\bArgument 0\b/);
          expect(await ex.submit(() => 'still works')).to.equal('still works');
        });

        it('fails only that future when the result cannot be cloned; the same worker runs the next task', async () => {
          const ex = executor({ maxWorkers: 1 });
          const before = await ex.submit(fx.workerId);
          const error = await rejectionOf(ex.submit(() => () => 'a function'));
          expect(error).to.be.instanceOf(TypeError);
          expect((error as Error).message).to.match(/result/);
          expect(await ex.submit(fx.workerId)).to.equal(before);
        });
      });

      describe('errors thrown by task code', () => {
        const builtins = [
          ['TypeError', TypeError, 'wrong type in the worker'],
          ['RangeError', RangeError, 'out of range in the worker'],
          ['AggregateError', AggregateError, 'several things failed'],
        ] as const;
        for (const [className, ctor, message] of builtins) {
          it(`arrives as a ${className} (instanceof holds in the parent) with its name and message`, async () => {
            const ex = shared;
            const error = await rejectionOf(ex.submit(fx.fail, [className]));
            expect(error).to.be.instanceOf(ctor);
            expect((error as Error).name).to.equal(className);
            expect((error as Error).message).to.equal(message);
          });
        }

        it('keeps the inner errors of an AggregateError, each with its class', async () => {
          const ex = shared;
          const error = (await rejectionOf(
            ex.submit(fx.fail, ['AggregateError']),
          )) as AggregateError;
          expect(error.errors).to.have.length(2);
          expect(error.errors[0]).to.be.instanceOf(TypeError);
          expect((error.errors[0] as Error).message).to.equal('first inner');
          expect(error.errors[1]).to.be.instanceOf(RangeError);
          expect((error.errors[1] as Error).message).to.equal('second inner');
        });

        const packageErrors = [
          ['CancelledError', CancelledError, 'ERR_FUTURE_CANCELLED'],
          ['TimeoutError', TimeoutError, 'ERR_FUTURE_TIMEOUT'],
          ['TaskTimeoutError', TaskTimeoutError, 'ERR_TASK_TIMEOUT'],
          ['InvalidStateError', InvalidStateError, 'ERR_FUTURE_INVALID_STATE'],
          ['CancelAll', CancelAll, 'ERR_CANCEL_ALL'],
        ] as const;
        for (const [className, ctor, code] of packageErrors) {
          it(`arrives as the package's ${className} (instanceof holds in the parent) with its code`, async () => {
            const ex = shared;
            const error = await rejectionOf(ex.submit(fx.fail, [className]));
            expect(error).to.be.instanceOf(ctor);
            expect((error as Error).name).to.equal(className);
            expect((error as { code?: unknown }).code).to.equal(code);
          });
        }

        it('keeps the fields of a package error: CancelAll.reason and TaskTimeoutError.timeout', async () => {
          const ex = shared;
          const cancelAll = (await rejectionOf(ex.submit(fx.fail, ['CancelAll']))) as CancelAll;
          expect(cancelAll.reason).to.deep.equal({ why: 'enough' });
          const timeout = (await rejectionOf(
            ex.submit(fx.fail, ['TaskTimeoutError']),
          )) as TaskTimeoutError;
          expect(timeout).to.be.instanceOf(TimeoutError);
          expect(timeout.timeout).to.equal(7);
        });

        it('keeps name, message, own enumerable properties and the cause chain of a custom error', async () => {
          const ex = shared;
          const error = (await rejectionOf(ex.submit(fx.failWithDetails))) as Error & {
            code?: unknown;
            detail?: unknown;
          };
          expect(error).to.be.instanceOf(Error);
          expect(error.name).to.equal('CustomError');
          expect(error.message).to.equal('custom failure');
          expect(error.code).to.equal('E_CUSTOM');
          expect(error.detail).to.deep.equal({ attempts: 3, tags: ['a', 'b'] });
          const middle = error.cause as Error;
          expect(middle).to.be.instanceOf(TypeError);
          expect(middle.message).to.equal('middle cause');
          expect(middle.cause).to.equal('root cause');
        });

        it('carries the worker-side stack with the task module file name and line', async () => {
          const ex = shared;
          const line = lineOf(TASKS_MJS, 'STACK-MARKER');
          const error = (await rejectionOf(ex.submit(fx.failWithDetails))) as Error;
          expect(error.stack).to.be.a('string');
          expect(error.stack).to.include(`tasks.mjs:${line}:`);
        });

        it('gives each failed future its own error instance', async () => {
          const ex = shared;
          const [first, second] = await Promise.all([
            rejectionOf(ex.submit(fx.fail, ['TypeError'])),
            rejectionOf(ex.submit(fx.fail, ['TypeError'])),
          ]);
          expect(first).to.be.instanceOf(TypeError);
          expect(second).to.be.instanceOf(TypeError);
          expect(first).to.not.equal(second);
          const inline = () => {
            throw new RangeError('same failure');
          };
          const [third, fourth] = await Promise.all([
            rejectionOf(ex.submit(inline)),
            rejectionOf(ex.submit(inline)),
          ]);
          expect(third).to.be.instanceOf(RangeError);
          expect(third).to.not.equal(fourth);
        });

        const nonErrors: ReadonlyArray<readonly [string, unknown]> = [
          ["the string 'x'", 'x'],
          ['0', 0],
          ['null', null],
          ['undefined', undefined],
        ];
        for (const [label, thrown] of nonErrors) {
          it(`rejects with exactly ${label} when the task throws ${label}`, async () => {
            const ex = shared;
            const future = ex.submit(
              (value: unknown) => {
                throw value;
              },
              [thrown],
            );
            const reason = await rejectionOf(future);
            expect(reason).to.equal(thrown);
            expect(future.state).to.equal('finished');
          });
        }

        it('adds a hint about inline functions and task() to a ReferenceError from a captured variable', async () => {
          const ex = shared;
          const outside = 41;
          const error = (await rejectionOf(ex.submit(() => outside + 1))) as Error;
          expect(error).to.be.instanceOf(ReferenceError);
          expect(error.message).to.include('outside is not defined');
          expect(error.message).to.match(/inline functions/);
          expect(error.message).to.include('task(');
        });
      });

      describe('module tasks: task(url, name)', () => {
        it('runs a named export of an ES module given as a file URL object', async () => {
          const ex = shared;
          expect(await ex.submit(fx.add, [2, 3])).to.equal(5);
          expect(await ex.submit(fx.addLater, [4, 5])).to.equal(9);
        });

        it('runs a named export of an ES module given as an absolute path string', async () => {
          const ex = shared;
          const byPath = task<(a: number, b: number) => number>(fileURLToPath(TASKS_MJS), 'add');
          expect(await ex.submit(byPath, [20, 22])).to.equal(42);
        });

        it('runs a named export of a CommonJS module', async () => {
          const ex = shared;
          expect(await ex.submit(fx.triple, [14])).to.equal(42);
        });

        it("runs a CommonJS module whose module.exports is the function, as 'default'", async () => {
          const ex = shared;
          expect(await ex.submit(fx.negate, [42])).to.equal(-42);
        });

        it('imports a module once per worker: module state carries over between tasks', async () => {
          const ex = executor({ maxWorkers: 1 });
          const seen = [];
          for (let i = 0; i < 3; i++) seen.push(await ex.submit(fx.countCalls));
          const worker = seen[0]?.worker;
          expect(seen).to.deep.equal([
            { worker, calls: 1 },
            { worker, calls: 2 },
            { worker, calls: 3 },
          ]);
          const cjs = [];
          for (let i = 0; i < 2; i++) cjs.push(await ex.submit(fx.cjsCountCalls));
          expect(cjs).to.deep.equal([1, 2]);
        });

        it('fails only that future with a TypeError listing the exports when the export is missing', async () => {
          const ex = shared;
          const error = (await rejectionOf(ex.submit(task(TASKS_MJS, 'noSuchExport')))) as Error;
          expect(error).to.be.instanceOf(TypeError);
          expect(error.message).to.include('noSuchExport');
          expect(error.message).to.include('add');
          expect(error.message).to.include('countCalls');
          expect(await ex.submit(fx.add, [1, 1])).to.equal(2);
        });

        it('fails only that future when the module does not exist; the others succeed', async () => {
          const ex = shared;
          const missing = task(new URL('does-not-exist.mjs', FIXTURES), 'anything');
          const before = ex.submit(fx.add, [1, 2]);
          const bad = ex.submit(missing);
          const after = ex.submit(fx.triple, [3]);
          const error = (await rejectionOf(bad)) as Error & { code?: unknown };
          expect(error).to.be.instanceOf(Error);
          expect(error.code).to.equal('ERR_MODULE_NOT_FOUND');
          expect(error.message).to.include('does-not-exist.mjs');
          expect(await before).to.equal(3);
          expect(await after).to.equal(9);
        });

        it('fails a .ts module without a TypeScript loader with an error that mentions --import tsx', async () => {
          const ex = executor({ execArgv: [] });
          const error = (await rejectionOf(ex.submit(fx.manhattan, [{ x: 1, y: 2 }]))) as Error;
          expect(error).to.be.instanceOf(Error);
          expect(error.message).to.include('--import tsx');
          expect(await ex.submit(fx.add, [1, 2])).to.equal(3);
        });

        if (kind === 'process') {
          it("runs a .ts module when the executor gets execArgv ['--import', 'tsx'] (process only: Node 20 ignores --import in worker threads)", async () => {
            const ex = executor({ maxWorkers: 1, execArgv: ['--import', 'tsx'] });
            expect(await ex.submit(fx.manhattan, [{ x: -3, y: 4 }])).to.equal(7);
          });
        }
      });

      describe('currentTask() in task code', () => {
        it('returns { id, signal } in a module task, the signal not aborted while it runs', async () => {
          const ex = shared;
          const first = await ex.submit(fx.context);
          const second = await ex.submit(fx.context);
          expect(first.isSignal).to.equal(true);
          expect(first.aborted).to.equal(false);
          expect(first.id).to.be.a('number');
          expect(second.id).to.be.a('number');
          expect(second.id).to.not.equal(first.id);
        });

        it('is available to inline functions without an import', async () => {
          const ex = shared;
          const seen = await ex.submit(() => {
            const { id, signal } = currentTask();
            return { id, isSignal: signal instanceof AbortSignal, aborted: signal.aborted };
          });
          expect(seen.id).to.be.a('number');
          expect(seen.isSignal).to.equal(true);
          expect(seen.aborted).to.equal(false);
        });
      });

      if (kind === 'process') {
        it('does not mistake process.send() from task code for pool traffic (process only)', async () => {
          const ex = executor({ maxWorkers: 1 });
          const future = ex.submit(
            (x: number) => {
              process.send?.({ anything: true });
              process.send?.({ k: 'done', id: 1, ok: true, value: 'spoofed' });
              process.send?.('a string');
              return x * 2;
            },
            [21],
          );
          expect(await future).to.equal(42);
          expect(await ex.submit((s: string) => `${s}!`, ['next'])).to.equal('next!');
        });
      }

      describe('map', () => {
        const items = Array.from({ length: 23 }, (_, i) => i);
        const squares = items.map((x) => x * x);

        it('returns the results in input order, with and without chunksize', async () => {
          const ex = shared;
          const square = (x: number) => x * x;
          const plain = await ex.map(square, items);
          const chunked = await ex.map(square, items, { chunksize: 4 });
          expect(plain).to.deep.equal(squares);
          expect(chunked).to.deep.equal(plain);
          expect(await ex.map(fx.triple, items, { chunksize: 5 })).to.deep.equal(
            items.map((x) => x * 3),
          );
        });

        it('keeps every number exact through chunks of numbers (they travel packed), and mixed chunks as they are', async () => {
          const ex = shared;
          const odd = [
            -0,
            0,
            Number.NaN,
            Infinity,
            -Infinity,
            Number.MAX_VALUE,
            Number.MIN_VALUE,
            2 ** 53 + 2,
          ];
          const numbers = Array.from({ length: 100 }, (_, i) =>
            i < odd.length ? odd[i]! : i * 1.5 - 7,
          );
          // Each item arrives as a number, and comes back as the number returned.
          const seen = await ex.map(
            (x: number) => [typeof x, Object.is(x, -0) ? '-0' : String(x)],
            numbers,
            { chunksize: 40 },
          );
          expect(seen).to.deep.equal(
            numbers.map((x) => ['number', Object.is(x, -0) ? '-0' : String(x)]),
          );
          const same = await ex.map((x: number) => x, numbers, { chunksize: 40 });
          expect(same).to.have.length(numbers.length);
          for (const [i, x] of numbers.entries()) {
            expect(Object.is(same[i], x), `item ${i}: ${x}`).to.equal(true);
          }
          // A chunk with one string among numbers, and results that are
          // numbers except one: neither is packed, nothing changes type.
          const mixed: unknown[] = numbers.slice(0, 40);
          mixed[17] = '17';
          expect(await ex.map((x: unknown) => typeof x, mixed, { chunksize: 40 })).to.deep.equal(
            mixed.map((x) => typeof x),
          );
          expect(
            await ex.map((x: number) => (x === 11 ? 'eleven' : x * 2), numbers.slice(8), {
              chunksize: 50,
            }),
          ).to.deep.equal(numbers.slice(8).map((x) => (x === 11 ? 'eleven' : x * 2)));
          // The results are a plain array, as always.
          expect(Array.isArray(same)).to.equal(true);
        });

        it('consumes a generator and streams the results in order through for await', async () => {
          const ex = shared;
          function* numbers(): Generator<number> {
            for (let i = 0; i < 12; i++) yield i;
          }
          const seen: number[] = [];
          for await (const value of ex.map((x: number) => x + 100, numbers(), { chunksize: 3 })) {
            seen.push(value);
          }
          expect(seen).to.deep.equal(Array.from({ length: 12 }, (_, i) => i + 100));
        });

        for (const chunksize of [1, 3]) {
          it(`rejects with the failing item's error, class kept, after the earlier results (chunksize ${chunksize})`, async () => {
            const ex = shared;
            const seen: number[] = [];
            let caught: unknown;
            try {
              for await (const value of ex.map(
                (x: number) => {
                  if (x === 5) throw new RangeError(`item ${x} is bad`);
                  return x * 10;
                },
                items,
                { chunksize },
              )) {
                seen.push(value);
              }
            } catch (error) {
              caught = error;
            }
            expect(seen).to.deep.equal([0, 10, 20, 30, 40]);
            expect(caught).to.be.instanceOf(RangeError);
            expect((caught as Error).message).to.equal('item 5 is bad');
          });
        }
      });
    });

    describe('map: stopping early (own executor)', () => {
      it('rejects with TimeoutError when the whole map exceeds its timeout, and stops its tasks', async () => {
        const ex = executor({ maxWorkers: 2, cancelGrace: LONG_GRACE });
        const blocked = ['m0', 'm1', 'm2', 'm3'].map((n) => item(n));
        const error = await rejectionOf(ex.map(fx.block, blocked, { timeout: 300 }));
        expect(error).to.be.instanceOf(TimeoutError);
        // Nothing was released: every task that started must be stopped by the map.
        await until('the started map tasks to be aborted', () => {
          const started = marked(dir, 'started-');
          return (
            ex.stats().busy === 0 &&
            started.every((n) => existsSync(join(dir, `aborted-${n}`))) &&
            started
          );
        });
        expect(marked(dir, 'ended-')).to.deep.equal([]);
      });

      it('cancels the rest when a for await loop breaks early', async () => {
        const ex = executor({ maxWorkers: 2, cancelGrace: LONG_GRACE });
        release(dir, 'i0');
        let closed = false;
        function* endless(): Generator<BlockItem> {
          try {
            for (let i = 0; ; i++) yield item(`i${i}`, i);
          } finally {
            closed = true;
          }
        }
        const seen: unknown[] = [];
        for await (const value of ex.map(fx.block, endless())) {
          seen.push(value);
          break;
        }
        expect(seen).to.deep.equal([0]);
        // Running items are stopped (their signal aborts); pending ones never start.
        const started = await until('the dispatched items to finish', () => {
          const names = marked(dir, 'started-');
          return ex.stats().busy === 0 && names;
        });
        expect(closed).to.equal(true);
        for (const n of started.filter((s) => s !== 'i0')) {
          expect(readFileSync(join(dir, `aborted-${n}`), 'utf8')).to.equal('CancelledError');
        }
        expect(marked(dir, 'ended-')).to.deep.equal(['i0']);
        // The worker is free again, and no cancelled item starts later.
        expect(await ex.submit(fx.add, [1, 2])).to.equal(3);
        expect(marked(dir, 'started-')).to.deep.equal(started);
      });
    });

    describe('saturation', () => {
      it('never runs more than maxWorkers tasks at once, and reaches maxWorkers', async () => {
        const ex = executor({ maxWorkers: 2 });
        const names = ['t0', 't1', 't2', 't3', 't4', 't5'];
        const futures = names.map((n) => ex.submit(fx.block, [item(n)]));
        const released: string[] = [];
        for (let step = 0; step < names.length; step++) {
          const expected = Math.min(2 + released.length, names.length);
          const started = await until(`${expected} tasks to start`, () => {
            const now = marked(dir, 'started-');
            return now.length >= expected && now;
          });
          const blocked = started.filter((n) => !released.includes(n));
          // Every blocked task still holds its worker: no third one may have started.
          expect(blocked.length, `blocked tasks at step ${step}`).to.equal(
            Math.min(2, names.length - released.length),
          );
          const next = blocked[0]!;
          release(dir, next);
          released.push(next);
        }
        expect(await Promise.all(futures)).to.deep.equal(names);
        // Each task also counted the running tasks it saw when it started.
        const live = names.map(
          (n) =>
            (JSON.parse(readFileSync(join(dir, `started-${n}`), 'utf8')) as { live: number }).live,
        );
        expect(Math.max(...live)).to.be.at.most(2);
      });
    });

    describe('workers', () => {
      it('starts workers lazily: none after construction, one after the first submit', async () => {
        const ex = executor();
        await macrotasks(5);
        expect(ex.workerIds()).to.deep.equal([]);
        expect(ex.stats().workers).to.equal(0);
        const id = await ex.submit(fx.workerId);
        expect(ex.workerIds()).to.include(id);
      });

      it('reuses an idle worker for the next task', async () => {
        const ex = executor({ maxWorkers: 1 });
        const first = await ex.submit(fx.workerId);
        const second = await ex.submit(fx.workerId);
        expect(second).to.equal(first);
        expect(ex.workerIds()).to.deep.equal([first]);
      });

      it('replaces a worker after maxTasksPerWorker tasks', async () => {
        const ex = executor({ maxWorkers: 1, maxTasksPerWorker: 2 });
        const ids: number[] = [];
        for (let i = 0; i < 4; i++) ids.push(await ex.submit(fx.workerId));
        const [a, b, c, d] = ids;
        expect(b).to.equal(a);
        expect(c).to.not.equal(a);
        expect(d).to.equal(c);
      });

      it('runs an inline initializer with initargs once per worker before its tasks', async () => {
        const ex = executor({
          maxWorkers: 2,
          initializer: (tag: string) => {
            const g = globalThis as { cfSpecInit?: { tag: string; runs: number } };
            g.cfSpecInit = { tag, runs: (g.cfSpecInit?.runs ?? 0) + 1 };
          },
          initargs: ['inline-init'],
        });
        const firstRound = await Promise.all([0, 1, 2, 3].map(() => ex.submit(fx.readInit)));
        const secondRound = await Promise.all([0, 1].map(() => ex.submit(fx.readInit)));
        for (const seen of [...firstRound, ...secondRound]) {
          expect(seen.tag).to.equal('inline-init');
          expect(seen.runs).to.equal(1);
        }
      });

      it('runs a module initializer afresh in every worker when maxTasksPerWorker is 1', async () => {
        const ex = executor({
          maxWorkers: 1,
          maxTasksPerWorker: 1,
          initializer: fx.init,
          initargs: ['module-init'],
        });
        const seen: InitSeen[] = [];
        for (let i = 0; i < 3; i++) seen.push(await ex.submit(fx.readInit));
        expect(seen.map((s) => [s.tag, s.runs])).to.deep.equal([
          ['module-init', 1],
          ['module-init', 1],
          ['module-init', 1],
        ]);
        expect(new Set(seen.map((s) => s.worker)).size).to.equal(3);
      });

      it('keeps minWorkers alive (the same worker, not a replacement) after idleTimeout while the extra workers are retired', async () => {
        const ex = executor({ maxWorkers: 2, minWorkers: 1, idleTimeout: 50 });
        const futures = ['w0', 'w1'].map((n) => ex.submit(fx.block, [item(n)]));
        await startedAll(dir, 'w0', 'w1');
        expect(ex.workerIds()).to.have.length(2);
        release(dir, 'w0');
        release(dir, 'w1');
        await Promise.all(futures);
        await until('the pool to shrink to one idle worker', () => {
          const stats = ex.stats();
          return stats.workers === 1 && stats.idle === 1;
        });
        const kept = ex.workerIds();
        expect(kept).to.have.length(1);
        // Many idle timeouts later, the one worker is still the same.
        for (let i = 0; i < 10; i++) await new Promise((resolve) => setTimeout(resolve, 50));
        expect(ex.workerIds()).to.deep.equal(kept);
        expect(await ex.submit(fx.workerId)).to.equal(kept[0]);
      });

      it('gives the workers the env option as their environment', async () => {
        const ex = executor({ env: { ...process.env, CF_EXECUTOR_SPEC: 'from the env option' } });
        expect(await ex.submit(fx.env, ['CF_EXECUTOR_SPEC'])).to.equal('from the env option');
        expect(await ex.submit(() => process.env.CF_EXECUTOR_SPEC ?? 'unset')).to.equal(
          'from the env option',
        );
      });

      it('starts the workers with the execArgv option (visible as process.execArgv)', async () => {
        // Worker threads refuse V8 heap flags, so threads get a Node flag only.
        const flags =
          kind === 'process'
            ? ['--no-deprecation', '--max-old-space-size=123']
            : ['--no-deprecation'];
        const ex = executor({ execArgv: flags });
        expect(await ex.submit(fx.execArgv)).to.include.members(flags);
      });

      if (kind === 'process') {
        it('starts the worker processes in the cwd option (process only)', async () => {
          const ex = executor({ cwd: dir });
          expect(realpathSync(await ex.submit(fx.cwd))).to.equal(realpathSync(dir));
        });
      } else {
        it('reports an execArgv flag that worker threads refuse as an error instead of crashing the parent (thread only)', async () => {
          const run = await runNode(new URL('thread-invalid-execargv.mjs', FIXTURES), []);
          expect(run.code, howItEnded(run)).to.equal(0);
          const outcome = JSON.parse(run.stdout.trim()) as { outcome: string; message?: string };
          expect(['constructor threw', 'rejected']).to.include(outcome.outcome);
          expect(outcome.message).to.include('--max-old-space-size');
        });
      }
    });

    describe('shutdown', () => {
      it('waits for running tasks to finish', async () => {
        const ex = executor();
        const future = ex.submit(fx.block, [item('s0', 'done')]);
        await startedAll(dir, 's0');
        const shutdown = track(ex.shutdown());
        await macrotasks(10);
        expect(shutdown.settled).to.equal(false);
        release(dir, 's0');
        await shutdown.promise;
        expect(shutdown.fulfilled).to.equal(true);
        expect(future.state).to.equal('finished');
        expect(await future).to.equal('done');
        expect(ex.workerIds()).to.deep.equal([]);
      });

      it('cancels the pending tasks with cancelFutures: true and still finishes the running one', async () => {
        const ex = executor({ maxWorkers: 1 });
        const running = ex.submit(fx.block, [item('r0', 'finished')]);
        await startedAll(dir, 'r0');
        const pending = [ex.submit(fx.block, [item('p1')]), ex.submit(fx.block, [item('p2')])];
        const shutdown = ex.shutdown({ cancelFutures: true });
        for (const future of pending) expect(future.cancelled()).to.equal(true);
        release(dir, 'r0');
        await shutdown;
        expect(await running).to.equal('finished');
        for (const future of pending) {
          expect(await rejectionOf(future)).to.be.instanceOf(CancelledError);
        }
        expect(marked(dir, 'started-')).to.deep.equal(['r0']);
      });

      it('returns at once with wait: false while the running work still completes', async () => {
        const ex = executor();
        const future = ex.submit(fx.block, [item('n0', 'completed')]);
        await startedAll(dir, 'n0');
        // The task cannot finish before the test releases it, so this resolving proves "at once".
        await ex.shutdown({ wait: false });
        expect(future.done()).to.equal(false);
        release(dir, 'n0');
        expect(await future).to.equal('completed');
        await ex.shutdown();
        expect(ex.workerIds()).to.deep.equal([]);
      });

      it('can be called twice, and again after it finished', async () => {
        const ex = executor();
        expect(await ex.submit(fx.add, [1, 2])).to.equal(3);
        await Promise.all([ex.shutdown(), ex.shutdown()]);
        await ex.shutdown();
        await ex.shutdown({ cancelFutures: true });
        expect(ex.workerIds()).to.deep.equal([]);
      });

      it('makes submit and map throw ExecutorShutdownError synchronously afterwards', async () => {
        const ex = executor();
        await ex.submit(fx.add, [1, 2]);
        const shutdown = ex.shutdown();
        expect(thrownBy(() => ex.submit(fx.add, [1, 2]))).to.be.instanceOf(ExecutorShutdownError);
        expect(thrownBy(() => ex.map((x: number) => x, [1]))).to.be.instanceOf(
          ExecutorShutdownError,
        );
        await shutdown;
        expect(thrownBy(() => ex.submit(() => 1))).to.be.instanceOf(ExecutorShutdownError);
      });

      it('shuts down at the end of an `await using` block', async () => {
        let outer: Pool | undefined;
        let ids: number[] = [];
        {
          await using ex = make({ maxWorkers: 2 });
          outer = ex;
          expect(await ex.submit(fx.add, [40, 2])).to.equal(42);
          ids = ex.workerIds();
        }
        expect(outer.isShutdown).to.equal(true);
        expect(outer.workerIds()).to.deep.equal([]);
        expect(ids).to.have.length(1);
        if (kind === 'process') for (const pid of ids) expect(isAlive(pid)).to.equal(false);
      });

      it('leaves no worker alive once shutdown() resolved', async () => {
        const ex = executor();
        const futures = ['k0', 'k1'].map((n) => ex.submit(fx.block, [item(n)]));
        await startedAll(dir, 'k0', 'k1');
        const ids = ex.workerIds();
        expect(ids).to.have.length(2);
        writeFileSync(join(dir, 'ALL'), '');
        await Promise.all(futures);
        await ex.shutdown();
        expect(ex.workerIds()).to.deep.equal([]);
        expect(ex.stats().workers).to.equal(0);
        if (kind === 'process') {
          for (const pid of ids) {
            const error = thrownBy(() => process.kill(pid, 0)) as NodeJS.ErrnoException;
            expect(error.code, `worker ${pid}`).to.equal('ESRCH');
          }
        }
      });

      if (kind === 'process') {
        it('resolves shutdown() when awaiting it is all the program does, while a subprocess of a task holds the worker stderr (process only)', async () => {
          const run = await runNode(new URL('shutdown-grandchild.mjs', FIXTURES), []);
          expect(run.code, howItEnded(run)).to.equal(0);
          expect(run.stdout).to.match(/grandchild \d+\nshutdown resolved\n/);
          const grandchild = Number(/grandchild (\d+)/.exec(run.stdout)?.[1]);
          await until('the subprocess of the task to be gone', () => !isAlive(grandchild));
        });
      }

      for (const stdio of ['inherit', 'capture', 'pipe']) {
        it(`lets a program that never calls shutdown() exit by itself, even with a long idleTimeout (stdio '${stdio}')`, async () => {
          const run = await runNode(new URL('forgets-shutdown.mjs', FIXTURES), [kind, stdio]);
          expect(run.code, howItEnded(run)).to.equal(0);
          const output = JSON.parse(run.stdout.trim()) as { results: unknown[]; workers: number[] };
          expect(output.results).to.deep.equal([42, 'second']);
          expect(output.workers.length).to.be.within(1, 2);
          if (kind === 'process') {
            await until('the exited program’s workers to be gone', () =>
              output.workers.every((pid) => !isAlive(pid)),
            );
          }
        });
      }
    });

    describe('option validation', () => {
      it('refuses maxWorkers: 0 with a RangeError naming maxWorkers', () => {
        const error = thrownBy(() => make({ maxWorkers: 0 })) as Error;
        expect(error).to.be.instanceOf(RangeError);
        expect(error.message).to.include('maxWorkers');
      });

      it("refuses maxWorkers: '2' with a TypeError naming maxWorkers", () => {
        const error = thrownBy(() => make({ maxWorkers: '2' as unknown as number })) as Error;
        expect(error).to.be.instanceOf(TypeError);
        expect(error.message).to.include('maxWorkers');
      });

      it('refuses minWorkers above maxWorkers with a RangeError naming minWorkers', () => {
        const error = thrownBy(() => make({ maxWorkers: 2, minWorkers: 3 })) as Error;
        expect(error).to.be.instanceOf(RangeError);
        expect(error.message).to.include('minWorkers');
      });

      it('throws a TypeError at once for a submit of something that is not a function', () => {
        const ex = executor();
        const error = thrownBy(() => ex.submit(42 as unknown as () => number));
        expect(error).to.be.instanceOf(TypeError);
        expect(ex.workerIds()).to.deep.equal([]);
      });

      it('throws a TypeError at once when args is not an array', () => {
        const ex = executor();
        const error = thrownBy(() =>
          ex.submit((x: number) => x, 5 as unknown as [number]),
        ) as Error;
        expect(error).to.be.instanceOf(TypeError);
        expect(error.message).to.include('args');
      });
    });

    describe('time limits and cancellation', () => {
      it('fails a task that loops forever with TaskTimeoutError and runs the next task', async () => {
        const ex = executor({ maxWorkers: 1, cancelGrace: 100, shutdownGrace: 100 });
        const future = ex.submit(
          () => {
            while (true) {
              // Never yields: the worker must be stopped from outside.
            }
          },
          [],
          { timeout: 200 },
        );
        const error = await rejectionOf(future);
        expect(error).to.be.instanceOf(TaskTimeoutError);
        expect(await ex.submit(fx.add, [2, 2])).to.equal(4);
      });

      it('replaces the worker of a timed-out module task that ignores its signal', async () => {
        const ex = executor({ maxWorkers: 1, cancelGrace: 100, shutdownGrace: 100 });
        const before = await ex.submit(fx.workerId);
        const error = await rejectionOf(ex.submit(fx.spin, [dir, 'spin'], { timeout: 200 }));
        expect(error).to.be.instanceOf(TaskTimeoutError);
        expect(existsSync(join(dir, 'started-spin'))).to.equal(true);
        expect(await ex.submit(fx.workerId)).to.not.equal(before);
      });

      it('cancel({ running: true }) ends a running task cancelled and aborts its signal', async () => {
        const ex = executor({ cancelGrace: LONG_GRACE });
        const future = ex.submit(fx.block, [item('c0')]);
        await startedAll(dir, 'c0');
        // The worker says it is ready just before it starts the task: wait until the
        // parent has read that, or it would still take the task for pending.
        await until('the parent to see the task running', () => future.running());
        expect(future.running()).to.equal(true);
        expect(future.cancel({ running: true })).to.equal(true);
        expect(future.cancelled()).to.equal(true);
        expect(await rejectionOf(future)).to.be.instanceOf(CancelledError);
        const reason = await until('the task to see its aborted signal', () => {
          const file = join(dir, 'aborted-c0');
          return existsSync(file) && readFileSync(file, 'utf8');
        });
        expect(reason).to.equal('CancelledError');
        expect(marked(dir, 'ended-')).to.deep.equal([]);
        expect(await ex.submit(fx.add, [3, 4])).to.equal(7);
      });

      it('cancel({ running: true }) stops a task that ignores its signal; the executor goes on', async () => {
        const ex = executor({ maxWorkers: 1, cancelGrace: 100, shutdownGrace: 100 });
        const future = ex.submit(fx.spin, [dir, 'spin']);
        await startedAll(dir, 'spin');
        // The worker says it is ready just before it starts the task: wait until the
        // parent has read that, or it would still take the task for pending.
        await until('the parent to see the task running', () => future.running());
        expect(future.cancel({ running: true })).to.equal(true);
        expect(await rejectionOf(future)).to.be.instanceOf(CancelledError);
        expect(await ex.submit(fx.add, [5, 6])).to.equal(11);
      });

      it('an aborted signal option cancels a pending task, which then never starts', async () => {
        const ex = executor({ maxWorkers: 1 });
        const first = ex.submit(fx.block, [item('a0', 'first')]);
        await startedAll(dir, 'a0');
        const controller = new AbortController();
        const pending = ex.submit(fx.block, [item('a1')], { signal: controller.signal });
        expect(pending.state).to.equal('pending');
        controller.abort();
        expect(pending.cancelled()).to.equal(true);
        expect(await rejectionOf(pending)).to.be.instanceOf(CancelledError);
        release(dir, 'a0');
        expect(await first).to.equal('first');
        // One worker, first in first out: had a1 not been cancelled, it would have run by now.
        expect(await ex.submit(fx.add, [1, 1])).to.equal(2);
        expect(marked(dir, 'started-')).to.deep.equal(['a0']);
      });

      it('an aborted signal option cancels a running task and aborts its currentTask().signal', async () => {
        const ex = executor({ cancelGrace: LONG_GRACE });
        const controller = new AbortController();
        const future: Future<unknown> = ex.submit(fx.block, [item('b0')], {
          signal: controller.signal,
        });
        await startedAll(dir, 'b0');
        controller.abort(new Error('caller gave up'));
        expect(future.cancelled()).to.equal(true);
        expect(await rejectionOf(future)).to.be.instanceOf(CancelledError);
        await until('the task to see its aborted signal', () =>
          existsSync(join(dir, 'aborted-b0')),
        );
        expect(marked(dir, 'ended-')).to.deep.equal([]);
        expect(await ex.submit(fx.add, [1, 2])).to.equal(3);
      });
    });
  });
}
