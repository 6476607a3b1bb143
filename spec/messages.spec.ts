/**
 * Messages that say what to do (issue 11): what a user reads when a task
 * module cannot be used, on both executors, with real workers.
 *
 * - a missing export lists the functions the module has, also those of a
 *   CommonJS `module.exports = { ... }` object that Node's static analysis
 *   does not expose as named exports;
 * - a missing module names the `task()` call and the path the user gave,
 *   never the package's internal entry file that did the import;
 * - a TypeScript module without a loader says what to start node with, and
 *   in a worker thread on Node 20 (where loaders do not reach threads) says
 *   that, and what to do instead.
 *
 * The CLI's messages are in spec/cli-messages.spec.ts.
 */
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { ProcessPoolExecutor, ThreadPoolExecutor, task } from '../lib/index.js';
import { rejectionOf } from './support/futures.js';

const FIXTURES = new URL('../../spec/fixtures/messages/', import.meta.url);
const OBJECT_EXPORTS = new URL('object-exports.cjs', FIXTURES);
const HOSTILE_EXPORTS = new URL('hostile-exports.cjs', FIXTURES);
const TS_TASKS = new URL('tasks.ts', FIXTURES);
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

type Kind = 'process' | 'thread';

function pool(kind: Kind): ProcessPoolExecutor | ThreadPoolExecutor {
  // No loader, whatever this test run was started with.
  return kind === 'process'
    ? new ProcessPoolExecutor({ maxWorkers: 1, execArgv: [] })
    : new ThreadPoolExecutor({ maxWorkers: 1, execArgv: [] });
}

async function failure(
  kind: Kind,
  ref: ReturnType<typeof task>,
): Promise<Error & { code?: unknown }> {
  const ex = pool(kind);
  try {
    const error = await rejectionOf(ex.submit(ref, [4]));
    // The worker survived the failed task.
    expect(await ex.submit((a: number) => a + 1, [41])).to.equal(42);
    return error as Error & { code?: unknown };
  } finally {
    await ex.shutdown();
  }
}

for (const kind of ['process', 'thread'] as const) {
  describe(`messages that say what to do (${kind === 'process' ? 'ProcessPoolExecutor' : 'ThreadPoolExecutor'})`, function () {
    this.timeout(30_000);

    it("a missing export of a CommonJS module.exports object lists the object's functions", async () => {
      const error = await failure(kind, task(OBJECT_EXPORTS, 'triple'));
      expect(error).to.be.instanceOf(TypeError);
      expect(error.message).to.equal(
        `Expected module ${fileURLToPath(OBJECT_EXPORTS)} to export a function named 'triple', got no such export; its function exports are: double, square`,
      );
    });

    it('the default of a CommonJS module.exports object is named an object, with its functions', async () => {
      const error = await failure(kind, task(OBJECT_EXPORTS));
      expect(error.message).to.include(
        "named 'default', got an object (for a CommonJS module, module.exports); its function exports are: double, square",
      );
    });

    it('a mistyped export gets a "did you mean"', async () => {
      const error = await failure(kind, task(OBJECT_EXPORTS, 'dubble'));
      expect(error.message).to.match(
        /its function exports are: double, square; did you mean 'double'\?$/,
      );
    });

    it('a property getter that throws does not break the list of exports', async () => {
      const error = await failure(kind, task(HOSTILE_EXPORTS, 'nope'));
      expect(error).to.be.instanceOf(TypeError);
      expect(error.message).to.match(/its function exports are: ok$/);
    });

    it('a missing module names the task() call and the path as given, not an internal file', async () => {
      const path = fileURLToPath(new URL('no-such-module.mjs', FIXTURES));
      const error = await failure(kind, task(path, 'fib'));
      expect(error.message).to.equal(
        `Cannot load the module of task('${path}', 'fib'): there is no file ${path}`,
      );
      expect(error.code).to.equal('ERR_MODULE_NOT_FOUND');
      expect(error.message).to.not.match(/entry\.cjs|imported from/);
      expect(String(error.stack)).to.not.match(/imported from .*entry\.cjs/);
    });

    it('a directory given as the module says to name the file in it', async () => {
      const error = await failure(kind, task(FIXTURES, 'fib'));
      expect(error.message).to.match(/^Cannot load the module of task\('.*messages\/?', 'fib'\): /);
      expect(error.message).to.include('is a directory; name the module file in it');
      expect(error.message).to.not.include('entry.cjs');
    });

    if (kind === 'process') {
      it('a TypeScript module without a loader says which loader to start node with', async () => {
        const error = await failure(kind, task(TS_TASKS, 'half'));
        expect(error).to.be.instanceOf(TypeError);
        expect(error.message).to.include('no TypeScript loader is active');
        expect(error.message).to.include('node --import tsx');
        expect(error.code).to.equal('ERR_UNKNOWN_FILE_EXTENSION');
      });
    } else if (NODE_MAJOR < 22) {
      it('a TypeScript module in a worker thread on Node 20 says loaders do not reach threads, and what to do', async () => {
        const error = await failure(kind, task(TS_TASKS, 'half'));
        expect(error).to.be.instanceOf(TypeError);
        expect(error.message).to.not.include('no TypeScript loader is active');
        expect(error.message).to.include(
          'loaders such as `--import tsx` do not run in worker threads',
        );
        expect(error.message).to.include('Use ProcessPoolExecutor for TypeScript task modules');
        expect(error.message).to.include('compile the module to JavaScript');
      });
    }
  });
}
