/**
 * Values from task code that are hostile to whoever reads them: error
 * names that are `Object.prototype` members, getters and Proxy traps that
 * throw, frozen errors, a result whose `then` throws, abort reasons whose
 * `message` is not a string, error classes that merely call themselves
 * `CancelAll`. Whatever a task throws or returns, only its own future fails
 * (with what could be read of the value), the worker survives, the parent
 * never throws, and a deterministic failure is never retried. Each test
 * runs on both executors, with real workers.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect } from 'chai';
import {
  ArgumentTypeError,
  CancelAll,
  CancelledError,
  Future,
  type PoolExecutor,
  type PoolOptions,
  ProcessPoolExecutor,
  ThreadPoolExecutor,
  task,
  WorkerCrashedError,
} from '../lib/index.js';
import { rejectionOf } from './support/futures.js';
import { tempDir, touch, waitForFile } from './support/handshake.js';

/** Declared for the compiler: inline task code gets `currentTask` from the worker. */
declare function currentTask(): {
  id: number;
  signal: AbortSignal;
  progress(value: unknown): void;
};

const EXECUTORS: ReadonlyArray<[string, (options: PoolOptions) => PoolExecutor]> = [
  ['ProcessPoolExecutor', (options) => new ProcessPoolExecutor(options)],
  ['ThreadPoolExecutor', (options) => new ThreadPoolExecutor(options)],
];

/** Names that a lookup on a plain object would find on `Object.prototype`. */
const PROTOTYPE_NAMES = [
  'toString',
  'valueOf',
  'constructor',
  'hasOwnProperty',
  'isPrototypeOf',
  '__proto__',
  '__defineGetter__',
];

/** Which worker ran the task: pid and thread id. */
const whoAmI = (): string =>
  `${process.pid}:${(process.getBuiltinModule('node:worker_threads') as typeof import('node:worker_threads')).threadId}`;

function runsIn(file: string): number {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}

for (const [label, make] of EXECUTORS) {
  describe(`${label}: hostile values from task code`, function () {
    this.timeout(60_000);
    let dir: { path: string; cleanup: () => void };
    let pool: PoolExecutor | undefined;
    beforeEach(() => {
      dir = tempDir('cf-hostile-');
    });
    afterEach(async () => {
      await pool?.shutdown({ cancelFutures: true });
      pool = undefined;
      dir.cleanup();
    });

    describe('error names that are Object.prototype members', () => {
      it(`a thrown error named ${PROTOTYPE_NAMES.join(', ')} arrives as an Error with that name, and the pool carries on`, async () => {
        pool = make({ maxWorkers: 1 });
        const before = await pool.submit(whoAmI);
        for (const name of PROTOTYPE_NAMES) {
          const error = await rejectionOf(
            pool.submit(
              (n: string) => {
                const e = new Error(`named ${n}`);
                Object.defineProperty(e, 'name', { value: n, writable: true, configurable: true });
                throw e;
              },
              [name],
            ),
          );
          expect(error, name).to.be.instanceOf(Error);
          expect((error as Error).name, name).to.equal(name);
          expect((error as Error).message, name).to.equal(`named ${name}`);
        }
        expect(await pool.submit(whoAmI), 'the same worker, still alive').to.equal(before);
      });

      it('an error with such a name that escapes asynchronously is the cause of the crash report', async () => {
        pool = make({ maxWorkers: 1 });
        for (const name of ['toString', 'constructor', 'hasOwnProperty']) {
          const error = await rejectionOf(
            pool.submit(
              (n: string) =>
                new Promise(() => {
                  setTimeout(() => {
                    const e = new Error(`late ${n}`);
                    Object.defineProperty(e, 'name', { value: n, configurable: true });
                    throw e;
                  }, 1);
                }),
              [name],
            ),
          );
          expect(error, name).to.be.instanceOf(WorkerCrashedError);
          const cause = (error as WorkerCrashedError).cause;
          expect(cause, name).to.be.instanceOf(Error);
          expect((cause as Error).name, name).to.equal(name);
          expect((cause as Error).message, name).to.equal(`late ${name}`);
        }
        expect(await pool.submit((a: number, b: number) => a + b, [2, 3])).to.equal(5);
      });
    });

    describe('errors and results that cannot be read', () => {
      const cases: ReadonlyArray<{
        what: string;
        fn: (file: string) => unknown;
        check: (error: unknown) => void;
      }> = [
        {
          what: 'an error whose name getter throws',
          fn: (file) => {
            (process.getBuiltinModule('node:fs') as typeof import('node:fs')).appendFileSync(
              file,
              'run\n',
            );
            const e = new Error('the message is readable');
            Object.defineProperty(e, 'name', {
              get() {
                throw new Error('name getter');
              },
            });
            throw e;
          },
          check: (error) => {
            expect(error).to.be.instanceOf(Error);
            expect((error as Error).message).to.equal('the message is readable');
          },
        },
        {
          what: 'an error with an own enumerable getter that throws',
          fn: (file) => {
            (process.getBuiltinModule('node:fs') as typeof import('node:fs')).appendFileSync(
              file,
              'run\n',
            );
            const e = new RangeError('out of range');
            Object.defineProperty(e, 'detail', {
              enumerable: true,
              get() {
                throw new Error('detail getter');
              },
            });
            Object.defineProperty(e, 'fine', { enumerable: true, value: 7 });
            throw e;
          },
          check: (error) => {
            expect(error).to.be.instanceOf(RangeError);
            expect((error as Error).message).to.equal('out of range');
            expect((error as { fine?: unknown }).fine).to.equal(7);
            expect(String((error as { detail?: unknown }).detail)).to.include('detail getter');
          },
        },
        {
          what: 'a result whose then getter throws',
          fn: (file) => {
            (process.getBuiltinModule('node:fs') as typeof import('node:fs')).appendFileSync(
              file,
              'run\n',
            );
            return {
              // biome-ignore lint/suspicious/noThenProperty: the hostile thenable under test.
              get then() {
                throw new TypeError('then getter');
              },
            };
          },
          check: (error) => {
            expect(error).to.be.instanceOf(TypeError);
            expect((error as Error).message).to.equal('then getter');
          },
        },
        {
          what: 'a frozen ReferenceError from an inline function (the hint cannot be written on it)',
          fn: (file) => {
            (process.getBuiltinModule('node:fs') as typeof import('node:fs')).appendFileSync(
              file,
              'run\n',
            );
            throw Object.freeze(new ReferenceError('captured is not defined'));
          },
          check: (error) => {
            expect(error).to.be.instanceOf(ReferenceError);
            expect((error as Error).message).to.include('captured is not defined');
            expect((error as Error).message).to.include('inline functions');
          },
        },
        {
          what: 'a Proxy around an error whose every trap throws',
          fn: (file) => {
            (process.getBuiltinModule('node:fs') as typeof import('node:fs')).appendFileSync(
              file,
              'run\n',
            );
            const boom = () => {
              throw new Error('trap');
            };
            throw new Proxy(new Error('proxied'), {
              get: boom,
              has: boom,
              ownKeys: boom,
              getPrototypeOf: boom,
              getOwnPropertyDescriptor: boom,
            });
          },
          check: (error) => {
            expect(error).to.be.a('string');
            expect(error).to.include('uncloneable');
          },
        },
        {
          what: 'a revoked Proxy',
          fn: (file) => {
            (process.getBuiltinModule('node:fs') as typeof import('node:fs')).appendFileSync(
              file,
              'run\n',
            );
            const { proxy, revoke } = Proxy.revocable(new Error('revoked'), {});
            revoke();
            throw proxy;
          },
          check: (error) => {
            expect(error).to.be.a('string');
            expect(error).to.include('Revoked Proxy');
          },
        },
      ];
      for (const { what, fn, check } of cases) {
        it(`${what}: only its future fails, the worker survives, and it is not retried`, async () => {
          pool = make({ maxWorkers: 1, retries: 2 });
          const before = await pool.submit(whoAmI);
          const file = join(dir.path, 'runs');
          const error = await rejectionOf(pool.submit(fn, [file]));
          check(error);
          expect(error).to.not.be.instanceOf(WorkerCrashedError);
          expect(await pool.submit(whoAmI), 'the same worker, still alive').to.equal(before);
          expect(runsIn(file), 'runs of the task').to.equal(1);
        });
      }

      it('a result that V8 can write but not read back (an error that is its own cause) fails its own future; the parent neither hangs nor crashes', async () => {
        // Sent as is, a thread's message was dropped (the future waited
        // forever) and a process's parent threw inside Node's IPC reader.
        pool = make({ maxWorkers: 1 });
        const before = await pool.submit(whoAmI);
        const selfCaused = () => {
          const e = new Error('its own cause');
          Object.defineProperty(e, 'cause', { value: [e], configurable: true, writable: true });
          return e;
        };
        const error = await rejectionOf(pool.submit(selfCaused));
        expect(error).to.be.instanceOf(TypeError);
        expect((error as Error).message).to.match(
          /^The task's result cannot be sent to the parent/,
        );
        const mapped = await rejectionOf(
          Promise.resolve(
            pool.map(
              (n: number) => {
                if (n !== 1) return n;
                const e = new Error('in a chunk');
                Object.defineProperty(e, 'cause', { value: { e }, configurable: true });
                return e;
              },
              [0, 1, 2],
              { chunksize: 3 },
            ),
          ),
        );
        expect(mapped).to.be.instanceOf(TypeError);
        const progress = await rejectionOf(
          pool.submit(() => {
            const e = new Error('progress');
            Object.defineProperty(e, 'cause', { value: e, configurable: true });
            currentTask().progress(e);
          }),
        );
        expect(progress).to.be.instanceOf(TypeError);
        expect((progress as Error).message).to.include('progress()');
        expect(await pool.submit(whoAmI)).to.equal(before);
      });

      it('a result with a getter that throws when cloned fails its own future with a TypeError saying why', async () => {
        pool = make({ maxWorkers: 1 });
        const before = await pool.submit(whoAmI);
        const error = await rejectionOf(
          pool.submit(() => ({
            get x(): number {
              throw new Error('getter in the result');
            },
          })),
        );
        expect(error).to.be.instanceOf(TypeError);
        expect((error as Error).message).to.include('getter in the result');
        expect(await pool.submit(whoAmI)).to.equal(before);
      });
    });

    describe('abort reasons of any shape', () => {
      const reasons: ReadonlyArray<[string, () => unknown]> = [
        [
          'an Error whose message is an object',
          () => Object.assign(new Error('x'), { message: { not: 'a string' } }),
        ],
        [
          'an Error whose message is a symbol',
          () => Object.assign(new Error('x'), { message: Symbol('m') }),
        ],
        [
          'an Error whose message getter throws',
          () =>
            Object.defineProperty(new Error('x'), 'message', {
              get() {
                throw new Error('message getter');
              },
            }),
        ],
        ['an Error whose name is a number', () => Object.assign(new Error('x'), { name: 42 })],
        [
          'a revoked Proxy',
          () => {
            const { proxy, revoke } = Proxy.revocable({}, {});
            revoke();
            return proxy;
          },
        ],
        [
          'an object whose toString and inspect throw',
          () => ({
            toString() {
              throw new Error('toString');
            },
            [Symbol.for('nodejs.util.inspect.custom')]() {
              throw new Error('inspect');
            },
          }),
        ],
      ];
      for (const [what, makeReason] of reasons) {
        it(`aborting with ${what} cancels a running and a pending task; callbacks run, nothing throws`, async () => {
          pool = make({ maxWorkers: 1, cancelGrace: 10_000 });
          const controller = new AbortController();
          const running = pool.submit(
            async (d: string) => {
              const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
              fs.writeFileSync(`${d}/started`, '');
              const { signal } = currentTask();
              await new Promise((resolve) => signal.addEventListener('abort', resolve));
            },
            [dir.path],
            { signal: controller.signal },
          );
          const pending = pool.submit(() => 'never', [], { signal: controller.signal });
          const calledBack: string[] = [];
          running.addDoneCallback((f) => calledBack.push(`running:${f.state}`));
          pending.addDoneCallback((f) => calledBack.push(`pending:${f.state}`));
          await waitForFile(join(dir.path, 'started'));
          const reason = makeReason();
          controller.abort(reason);
          for (const future of [running, pending]) {
            const error = await rejectionOf(future.result());
            expect(error).to.be.instanceOf(CancelledError);
            expect((error as CancelledError).cause).to.equal(reason);
            expect((error as Error).message).to.be.a('string');
          }
          expect(calledBack.sort()).to.deep.equal(['pending:cancelled', 'running:cancelled']);
          expect(String(running)).to.equal('Future<cancelled>');
          expect(await pool.submit((a: number) => a * 2, [21])).to.equal(42);
        });
      }

      it('cancelAll() with a reason that cannot be described or serialised cancels and returns the count', async () => {
        pool = make({ maxWorkers: 1, cancelGrace: 100 });
        const futures = [1, 2, 3].map(() =>
          pool!.submit(
            (d: string) =>
              new Promise((resolve) => {
                const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
                fs.writeFileSync(`${d}/started`, '');
                setTimeout(resolve, 60_000).unref();
              }),
            [dir.path],
          ),
        );
        await waitForFile(join(dir.path, 'started'));
        const reason = {
          toJSON() {
            throw new Error('toJSON');
          },
          toString() {
            throw new Error('toString');
          },
          [Symbol.for('nodejs.util.inspect.custom')]() {
            throw new Error('inspect');
          },
        };
        expect(pool.cancelAll(reason)).to.equal(3);
        for (const future of futures) {
          const error = await rejectionOf(future.result());
          expect(error).to.be.instanceOf(CancelledError);
          expect((error as CancelledError).cause).to.be.instanceOf(CancelAll);
          expect(((error as CancelledError).cause as CancelAll).reason).to.equal(reason);
        }
      });
    });

    describe('CancelAll is recognised by its brand, not by its name', () => {
      it('an unrelated error class named CancelAll fails only its own future; the siblings run on', async () => {
        pool = make({ maxWorkers: 2 });
        const sibling = pool.submit(
          async (d: string) => {
            const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
            fs.writeFileSync(`${d}/sibling-started`, '');
            while (!fs.existsSync(`${d}/go`)) await new Promise((r) => setTimeout(r, 5));
            return 'sibling done';
          },
          [dir.path],
        );
        await waitForFile(join(dir.path, 'sibling-started'));
        const impostor = await rejectionOf(
          pool.submit(() => {
            class CancelAll extends Error {
              constructor(message: string) {
                super(message);
                this.name = 'CancelAll';
              }
            }
            throw new CancelAll('not the real one');
          }),
        );
        expect(impostor).to.be.instanceOf(Error);
        expect(impostor).to.not.be.instanceOf(CancelAll);
        expect((impostor as Error).name).to.equal('CancelAll');
        // A chunk of a map takes the other path through the worker.
        const mapped = pool.map(
          (n: number) => {
            if (n === 1) {
              const e = new Error('impostor in a chunk');
              e.name = 'CancelAll';
              throw e;
            }
            return n;
          },
          [0, 1, 2],
          { chunksize: 3 },
        );
        const mapError = await rejectionOf(Promise.resolve(mapped));
        expect(mapError).to.not.be.instanceOf(CancelAll);
        const later = pool.submit(() => 'later');
        touch(join(dir.path, 'go'));
        expect(await sibling).to.equal('sibling done');
        expect(await later).to.equal('later');
      });

      describe('a CancelAll thrown by task code that imports another copy of the package', () => {
        let copy: string;
        before(() => {
          // Inside dist/, so that the copy resolves the package's dependencies.
          const dist = fileURLToPath(new URL('..', import.meta.url));
          copy = mkdtempSync(join(dist, 'copy-of-package-'));
          cpSync(join(dist, 'lib'), join(copy, 'lib'), { recursive: true });
          cpSync(
            fileURLToPath(new URL('../../spec/fixtures/trust/stop-from-copy.mjs', import.meta.url)),
            join(copy, 'stop.mjs'),
          );
        });
        after(() => rmSync(copy, { recursive: true, force: true }));

        it('is recognised: its future rejects with CancelAll and every sibling is cancelled', async () => {
          pool = make({ maxWorkers: 2, cancelGrace: 10_000 });
          const stopWhen = task<(file: string, reason: string) => Promise<never>>(
            pathToFileURL(join(copy, 'stop.mjs')),
            'stopWhen',
          );
          const sibling = pool.submit(
            async (d: string) => {
              const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
              fs.writeFileSync(`${d}/sibling-started`, '');
              const { signal } = currentTask();
              await new Promise((resolve) => signal.addEventListener('abort', resolve));
            },
            [dir.path],
          );
          await waitForFile(join(dir.path, 'sibling-started'));
          const stopper = pool.submit(stopWhen, [join(dir.path, 'go'), 'from a copy']);
          await waitForFile(join(dir.path, 'go.waiting'));
          // Both workers are busy: this one waits in the queue.
          const pending = pool.submit(() => 'never runs');
          touch(join(dir.path, 'go'));
          const error = await rejectionOf(stopper.result());
          expect(error).to.be.instanceOf(CancelAll);
          expect((error as CancelAll).message).to.equal('CancelAll: from a copy');
          for (const future of [sibling, pending]) {
            const cancelled = await rejectionOf(future.result());
            expect(cancelled).to.be.instanceOf(CancelledError);
            expect((cancelled as CancelledError).cause).to.equal(error);
          }
        });

        it('is recognised inside a chunk of a map too', async () => {
          pool = make({ maxWorkers: 1 });
          const inChunk = task<(n: number) => number>(
            pathToFileURL(join(copy, 'stop.mjs')),
            'stopInChunk',
          );
          const error = await rejectionOf(
            Promise.resolve(pool.map(inChunk, [0, 1, 2], { chunksize: 3 })),
          );
          expect(error).to.be.instanceOf(CancelAll);
        });
      });
    });
  });
}

describe('describing hostile values in the parent', () => {
  it('a future that failed with an error whose message is not a string still renders', () => {
    const values: unknown[] = [
      Object.assign(new Error('x'), { message: { a: 1 } }),
      Object.assign(new Error('x'), { message: Symbol('s'), name: 7 }),
      Object.defineProperty(new Error('x'), 'name', {
        get() {
          throw new Error('name getter');
        },
      }),
      (() => {
        const { proxy, revoke } = Proxy.revocable(new Error('x'), {});
        revoke();
        return proxy;
      })(),
    ];
    for (const value of values) {
      const future = new Future();
      future.setException(value);
      expect(String(future)).to.match(/^Future<finished: raised /);
      void future.exception();
    }
  });

  it('an option or a task() argument that cannot be described is still refused with an ArgumentTypeError', () => {
    const hostile = {
      toString() {
        throw new Error('toString');
      },
      [Symbol.for('nodejs.util.inspect.custom')]() {
        throw new Error('inspect');
      },
    };
    expect(() => new ProcessPoolExecutor({ maxWorkers: hostile as unknown as number })).to.throw(
      ArgumentTypeError,
      /maxWorkers/,
    );
    expect(() => task(new URL('file:///x.mjs'), hostile as unknown as string)).to.throw(
      ArgumentTypeError,
      /exportName/,
    );
  });

  it('a CancelAll made with a reason that cannot be serialised or described has a message', () => {
    const reason = {
      toJSON() {
        throw new Error('toJSON');
      },
      [Symbol.for('nodejs.util.inspect.custom')]() {
        throw new Error('inspect');
      },
    };
    const error = new CancelAll(reason);
    expect(error.message).to.match(/^CancelAll: /);
    expect(error.reason).to.equal(reason);
    expect(new CancelAll(10n).message).to.equal('CancelAll: 10n');
  });
});
