/**
 * What worker processes inherit of the parent's Node options (issue 10,
 * item 14). A pool started from `node -e "<script>"` must not make every
 * worker run the script again (each would start a pool: a fork bomb), and
 * a worker must never start a pool by accident, while pools that task code
 * starts on purpose still work. The scenarios that could multiply processes
 * are bounded by the fixtures themselves (a process that sees it runs as a
 * worker only leaves a trace), so a regression shows as a failed test, not
 * as a machine full of processes.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { ProcessPoolExecutor } from '../lib/index.js';
import { inheritedExecArgv } from '../lib/transport/exec-argv.js';
import { filesStartingWith, readText, tempDir } from './support/handshake.js';

const execFileAsync = promisify(execFile);
const ENTRY = new URL('../lib/index.js', import.meta.url).href;
const PRELOAD = fileURLToPath(
  new URL('../../spec/fixtures/trust/preload-starts-pool.mjs', import.meta.url),
);

describe('execArgv of worker processes', function () {
  this.timeout(60_000);

  describe('inheritedExecArgv()', () => {
    const cases: ReadonlyArray<[string, string[], string[]]> = [
      ['-e and its script', ['-e', 'start()'], []],
      ['--eval=script', ['--eval=start()'], []],
      ['-p and a script that starts with a dash', ['-p', '-1'], []],
      ['the cluster -pe', ['-pe', 'start()'], []],
      ['--print', ['--print', 'start()'], []],
      ['--input-type with -e', ['--input-type=module', '-e', 'start()'], []],
      ['--input-type and its value', ['--input-type', 'module'], []],
      ['-i, -c, --interactive, --check', ['-i', '-c', '--interactive', '--check'], []],
      [
        '--test and --watch with their options',
        [
          '--test',
          '--test-reporter',
          'spec',
          '--watch',
          '--watch-path',
          './src',
          '--watch-preserve-output',
        ],
        [],
      ],
      [
        'debugger options, which a second process cannot share',
        ['--inspect=9229', '--inspect-brk', '--inspect-port', '9230', '--debug-port=1'],
        [],
      ],
      ['--run and --prof-process', ['--run', 'build', '--prof-process'], []],
      ['a snapshot to run', ['--snapshot-blob', 'snap.blob'], []],
      [
        'loaders, conditions and preloads',
        [
          '--import',
          'tsx',
          '--loader=./l.mjs',
          '--experimental-loader',
          './m.mjs',
          '--conditions',
          'dev',
          '-C',
          'test',
          '-r',
          './a.cjs',
          '--require=./b.cjs',
        ],
        [
          '--import',
          'tsx',
          '--loader=./l.mjs',
          '--experimental-loader',
          './m.mjs',
          '--conditions',
          'dev',
          '-C',
          'test',
          '-r',
          './a.cjs',
          '--require=./b.cjs',
        ],
      ],
      [
        'memory limits and V8 and warning flags',
        [
          '--max-old-space-size=100',
          '--stack-size=2000',
          '--expose-gc',
          '--enable-source-maps',
          '--no-warnings',
          '--disable-warning',
          'DEP0040',
          '--unhandled-rejections=strict',
        ],
        [
          '--max-old-space-size=100',
          '--stack-size=2000',
          '--expose-gc',
          '--enable-source-maps',
          '--no-warnings',
          '--disable-warning',
          'DEP0040',
          '--unhandled-rejections=strict',
        ],
      ],
      [
        'a mix, in order',
        ['--import', 'tsx', '-e', '--import', '--max-old-space-size=64', '--input-type=module'],
        ['--import', 'tsx', '--max-old-space-size=64'],
      ],
    ];
    for (const [what, given, kept] of cases) {
      it(`${kept.length === 0 ? 'drops' : 'keeps'} ${what}`, () => {
        expect(inheritedExecArgv(given)).to.deep.equal(kept);
      });
    }
  });

  describe('a pool started from node -e', () => {
    // The script, when it finds itself running in a worker (RAN_AS_WORKER is
    // set for its workers), only leaves a trace and exits: bounded.
    const script = (dir: string): string => `
      import { writeFileSync } from 'node:fs';
      if (process.env.RAN_AS_WORKER !== undefined) {
        writeFileSync(${JSON.stringify(dir)} + '/reran-' + process.pid, '');
        process.exit(0);
      }
      process.env.RAN_AS_WORKER = '1';
      const { ProcessPoolExecutor } = await import(${JSON.stringify(ENTRY)});
      const pool = new ProcessPoolExecutor({ maxWorkers: 1 });
      try {
        console.log(await pool.submit((a, b) => a + b, [20, 22]));
      } catch (error) {
        console.log('failed: ' + error.message);
      } finally {
        await pool.shutdown();
      }
    `;
    for (const flags of [
      ['--input-type=module', '-e'],
      ['--input-type=module', '--eval'],
    ]) {
      it(`runs its tasks in workers that do not run the script again (${flags.join(' ')})`, async () => {
        const dir = tempDir('cf-eval-');
        try {
          const { stdout, stderr } = await execFileAsync(
            process.execPath,
            [...flags, script(dir.path)],
            { timeout: 30_000 },
          );
          expect(stdout.trim(), stderr).to.equal('42');
          expect(filesStartingWith(dir.path, 'reran-')).to.deep.equal([]);
        } finally {
          dir.cleanup();
        }
      });
    }
  });

  describe('the guard against a worker starting a pool by accident', () => {
    it('a preload that every worker runs cannot start a pool in a worker; the pool it belongs to works', async () => {
      const dir = tempDir('cf-preload-');
      // Read by the preload in the workers (they inherit this environment).
      process.env.PRELOAD_DIR = dir.path;
      process.env.PRELOAD_ENTRY = ENTRY;
      const pool = new ProcessPoolExecutor({
        maxWorkers: 1,
        execArgv: ['--import', pathToFileURL(PRELOAD).href],
      });
      try {
        expect(await pool.submit(() => 'the task ran')).to.equal('the task ran');
        const workerPid = pool.workerIds()[0]!;
        const file = join(dir.path, `preload-${workerPid}.json`);
        const deadline = Date.now() + 20_000;
        while (filesStartingWith(dir.path, 'preload-').length === 0 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        const outcome = JSON.parse(readText(file)) as { code?: string; cause?: string };
        expect(outcome.code).to.equal('ERR_BROKEN_EXECUTOR');
        expect(outcome.cause).to.include(
          `is a worker of a ProcessPoolExecutor in process ${process.pid}`,
        );
        expect(
          filesStartingWith(dir.path, 'nested-'),
          'no worker of the preload pool started',
        ).to.deep.equal([]);
      } finally {
        await pool.shutdown();
        delete process.env.PRELOAD_DIR;
        delete process.env.PRELOAD_ENTRY;
        dir.cleanup();
      }
    });

    it('task code can still start a pool of its own on purpose, and programs that tasks start can too', async () => {
      const pool = new ProcessPoolExecutor({ maxWorkers: 1 });
      try {
        const nested = await pool.submit(
          async (entry: string) => {
            const { ProcessPoolExecutor: Pool } = (await import(
              entry
            )) as typeof import('../lib/index.js');
            const inner = new Pool({ maxWorkers: 1 });
            try {
              return await inner.submit(() => `inner ${process.pid}`);
            } finally {
              await inner.shutdown();
            }
          },
          [ENTRY],
        );
        expect(nested).to.match(/^inner \d+$/);
        const program = await pool.submit(
          async (entry: string) => {
            const { execFileSync } = process.getBuiltinModule(
              'node:child_process',
            ) as typeof import('node:child_process');
            // Bounded like the script above: run again as a worker, it only exits.
            const code = `if (process.env.PROGRAM_RAN !== undefined) process.exit(0);
            process.env.PROGRAM_RAN = '1';
            const { ProcessPoolExecutor } = await import(${JSON.stringify(entry)});
            const p = new ProcessPoolExecutor({ maxWorkers: 1 });
            try {
              console.log(await p.submit(() => 'from a program a task started'));
            } catch (error) {
              console.log('failed: ' + error.message);
            }
            await p.shutdown();`;
            return execFileSync(process.execPath, ['--input-type=module', '-e', code], {
              encoding: 'utf8',
              timeout: 20_000,
            }).trim();
          },
          [ENTRY],
        );
        expect(program).to.equal('from a program a task started');
      } finally {
        await pool.shutdown();
      }
    });
  });
});
