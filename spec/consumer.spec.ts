/**
 * The package as a user gets it: `npm pack`, the tarball installed into a
 * scratch project, and used from there.
 *
 * - The tarball ships the build, the sources its source maps point to, the
 *   LICENSE, and nothing of the tests; `npm pack` on a fresh checkout builds
 *   first (`prepack`).
 * - It installs quietly (no npm warning) with `npm ci` from a lockfile made
 *   from this repository's, so that the install is offline-friendly: the
 *   dependencies come from the npm cache that `npm ci` of this repository
 *   filled (`--prefer-offline`).
 * - From the scratch project: the README's first example runs as written
 *   (an ES module), a CommonJS program `require()`s the package, and the CLI
 *   runs from the installed bin.
 * - Its declarations type-check for a consumer with `skipLibCheck: false`
 *   under `module` node16, nodenext and bundler (TypeScript from this
 *   repository, through its API; @types/node installed in the project),
 *   and @arethetypeswrong/cli and publint pass.
 *
 * The tarball is packed with `--ignore-scripts` from the dist/ that
 * `npm test` has just built (`prepack` runs the same build; its own test
 * runs it in a copy of the sources, so the suite's dist/ stays as it is).
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import ts from 'typescript';
import { codeBlocks, docCommands, docFile } from './support/markdown.js';
import { leftoverProcesses, processMarker } from './support/marked-processes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'node_modules', '.bin');

/**
 * Type-checks the project of a tsconfig as tsc does, and returns what tsc
 * would print, but for the diagnostics of @types/node (and undici-types)
 * and TypeScript's own lib files: they are not this package's, and
 * checking them costs 3-4 s of CPU per setting. Every other file,
 * the package's declarations included, is checked with the config's
 * options (skipLibCheck: false).
 */
function typeCheck(configPath: string): { checked: string[]; errors: string } {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    configPath,
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} },
  );
  if (parsed === undefined) throw new Error(`cannot read ${configPath}`);
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
  const foreign = /[\\/]node_modules[\\/](?:@types[\\/]node|undici-types)[\\/]/;
  const ours = program
    .getSourceFiles()
    .filter((file) => !program.isSourceFileDefaultLibrary(file) && !foreign.test(file.fileName));
  const diagnostics = [
    ...parsed.errors,
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...ours.flatMap((file) => [
      ...program.getSyntacticDiagnostics(file),
      ...program.getSemanticDiagnostics(file),
    ]),
  ];
  const errors = ts.formatDiagnostics(diagnostics, {
    getCanonicalFileName: (name) => name,
    getCurrentDirectory: () => dirname(configPath),
    getNewLine: () => '\n',
  });
  return { checked: ours.map((file) => file.fileName), errors };
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment for child npm and node processes: without what `npm
 * test` exports for its own run (npm_config_local_prefix would point a
 * child npm at this repository), but with the cache and registry settings.
 */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig']);
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.toLowerCase().startsWith('npm_') && !keep.has(key.toLowerCase())) continue;
    if (key === 'NODE_OPTIONS' || key === 'NODE_EXTRA_CA_CERTS') continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

function run(
  file: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; input?: string },
): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      {
        cwd: options.cwd,
        env: options.env ?? cleanEnv(),
        timeout: 120_000,
        maxBuffer: 32 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : (error as { code?: unknown }).code;
        resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
      },
    );
    child.stdin?.end(options.input ?? '');
  });
}

const npm = (args: string[], cwd: string): Promise<Run> =>
  run(process.platform === 'win32' ? 'npm.cmd' : 'npm', args, { cwd });

const report = (result: Run): string =>
  `\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`;

interface LockEntry {
  version: string;
  dependencies?: Record<string, string>;
  [key: string]: unknown;
}

/**
 * The entries of this repository's lockfile for `names` and everything they
 * depend on, at the same paths: a lockfile for the scratch project that
 * `npm ci` can install from the npm cache.
 */
function lockClosure(names: string[]): Record<string, LockEntry> {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const found: Record<string, LockEntry> = {};
  const visit = (name: string, from: string): void => {
    // Node's lookup: node_modules/<name> next to the dependent, then further up.
    let base = from;
    while (true) {
      const key = `${base === '' ? '' : `${base}/`}node_modules/${name}`;
      const entry = lock.packages[key];
      if (entry !== undefined) {
        if (found[key] !== undefined) return;
        found[key] = entry;
        for (const dependency of Object.keys(entry.dependencies ?? {})) visit(dependency, key);
        return;
      }
      if (base === '') throw new Error(`package-lock.json has no entry for ${name}`);
      const up = base.lastIndexOf('/node_modules/');
      base = up < 0 ? '' : base.slice(0, up);
    }
  };
  for (const name of names) visit(name, '');
  return found;
}

interface PackedFile {
  path: string;
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  license: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  bin: Record<string, string>;
  engines: Record<string, string>;
};

/** What the consumer type-checks: the public API, with type assertions that fail to compile. */
const CONSUMER_MTS = `import {
  ALL_COMPLETED,
  asCompleted,
  BrokenExecutorError,
  CancelAll,
  CancelledError,
  currentTask,
  type Executor,
  ExecutorShutdownError,
  FIRST_COMPLETED,
  FIRST_EXCEPTION,
  Future,
  InvalidStateError,
  type MapResult,
  type PoolStats,
  ProcessPoolExecutor,
  type TaskRef,
  TaskTimeoutError,
  ThreadPoolExecutor,
  TimeoutError,
  task,
  wait,
  WorkerCrashedError,
} from 'concurrent-futures';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(): void {}

export async function main(): Promise<void> {
  await using pool = new ProcessPoolExecutor({ maxWorkers: 2, taskTimeout: 10_000 });
  const sum = pool.submit((a: number, b: number) => a + b, [1, 2]);
  expectType<Equal<typeof sum, Future<number>>>();
  const text = pool.submit(async (n: number) => \`#\${n}\`, [3]);
  expectType<Equal<typeof text, Future<string>>>();
  // @ts-expect-error: the arguments must match the parameters.
  pool.submit((a: number) => a, ['x']);

  const { done, notDone } = await wait([sum, text], { returnWhen: FIRST_COMPLETED });
  expectType<Equal<typeof done, Set<Future<number> | Future<string>>>>();
  expectType<Equal<typeof notDone, Set<Future<number> | Future<string>>>>();
  await wait([sum], { returnWhen: FIRST_EXCEPTION, timeout: 1 });
  await wait([sum], { returnWhen: ALL_COMPLETED });
  for await (const [index, future] of asCompleted([sum, text], { entries: true })) {
    expectType<Equal<typeof future, Future<number> | Future<string>>>();
    const error: unknown = await future.exception();
    console.log(index, error ?? (await future));
  }

  const fib: TaskRef<(n: number) => number> = task(new URL('./tasks.mjs', import.meta.url), 'fib');
  const squares: MapResult<number> = pool.map(fib, [1, 2, 3]);
  expectType<Equal<Awaited<typeof squares>, number[]>>();
  const stats: PoolStats = pool.stats();
  console.log(stats.workers, pool.cancelAll('stop'));
  pool.on('taskFailed', ({ taskId, error }) => console.log(taskId, error));

  const threads: Executor = new ThreadPoolExecutor({ maxWorkers: 1 });
  try {
    await threads.submit(() => {
      const { signal } = currentTask();
      signal.throwIfAborted();
      throw new CancelAll('found');
    });
  } catch (error) {
    if (error instanceof WorkerCrashedError) console.log(error.exitCode, error.signal);
    else if (error instanceof TaskTimeoutError) console.log(error.timeout);
    else if (error instanceof CancelledError || error instanceof TimeoutError) console.log(error.code);
    else if (error instanceof BrokenExecutorError || error instanceof ExecutorShutdownError) throw error;
    else if (error instanceof InvalidStateError || error instanceof CancelAll) console.log(error.message);
  } finally {
    await threads.shutdown({ cancelFutures: true });
  }
  const mine = new Future<string>();
  mine.setResult('ok');
  expectType<Equal<Awaited<typeof mine>, string>>();
}
`;

/** A CommonJS TypeScript consumer: TypeScript >= 5.8 compiles it to require() under nodenext. */
const CONSUMER_CTS = `import { ProcessPoolExecutor, type Future } from 'concurrent-futures';

export function start(): Future<number> {
  const pool = new ProcessPoolExecutor({ maxWorkers: 1 });
  return pool.submit((a: number) => a + 1, [1]);
}
`;

/** A CommonJS program: require() of the ES module package (Node >= 20.19). */
const CJS_PROGRAM = `const cf = require('concurrent-futures');
const { version } = require('concurrent-futures/package.json');
const names = ${JSON.stringify([
  'Future',
  'ProcessPoolExecutor',
  'ThreadPoolExecutor',
  'wait',
  'asCompleted',
  'CancelAll',
  'task',
  'currentTask',
  'FIRST_COMPLETED',
  'FIRST_EXCEPTION',
  'ALL_COMPLETED',
  'CancelledError',
  'TimeoutError',
  'TaskTimeoutError',
  'InvalidStateError',
  'BrokenExecutorError',
  'WorkerCrashedError',
  'ExecutorShutdownError',
])};
const missing = names.filter((name) => !(name in cf));
const pool = new cf.ProcessPoolExecutor({ maxWorkers: 1 });
pool
  .submit(cf.task(require.resolve('./double.cjs'), 'double'), [21])
  .then((value) => pool.shutdown().then(() => console.log(JSON.stringify({ value, missing, version }))));
`;

describe('the packed package in a scratch project', function () {
  this.timeout(240_000);
  let tmp: string;
  let tarball: string;
  let packed: string[];
  let project: string;
  let install: Run;

  before(async function () {
    this.timeout(240_000);
    tmp = await mkdtemp(join(tmpdir(), 'cf-consumer-'));
    const pack = await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], ROOT);
    expect(pack.code, `npm pack${report(pack)}`).to.equal(0);
    const [info] = JSON.parse(pack.stdout) as [{ filename: string; files: PackedFile[] }];
    tarball = join(tmp, info.filename);
    packed = info.files.map((file) => file.path);

    project = join(tmp, 'project');
    mkdirSync(project);
    const spec = `file:../${info.filename}`;
    const types = pkg.devDependencies['@types/node']!;
    const manifest = {
      name: 'scratch',
      version: '1.0.0',
      private: true,
      dependencies: { [pkg.name]: spec },
      devDependencies: { '@types/node': types },
    };
    writeFileSync(join(project, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    const lock = {
      name: 'scratch',
      version: '1.0.0',
      lockfileVersion: 3,
      requires: true,
      packages: {
        '': manifest,
        [`node_modules/${pkg.name}`]: {
          version: pkg.version,
          resolved: spec,
          license: pkg.license,
          dependencies: pkg.dependencies,
          bin: pkg.bin,
          engines: pkg.engines,
        },
        ...lockClosure(Object.keys(pkg.dependencies)),
        ...Object.fromEntries(
          Object.entries(lockClosure(['@types/node'])).map(([key, entry]) => [
            key,
            { ...entry, dev: true },
          ]),
        ),
      },
    };
    writeFileSync(join(project, 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
    install = await npm(['ci', '--prefer-offline', '--no-audit', '--no-fund'], project);
  });

  after(async () => {
    if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
  });

  describe('the tarball', () => {
    it('ships the build, the LICENSE, and no tests', () => {
      for (const file of [
        'package.json',
        'README.md',
        'LICENSE',
        'CHANGELOG.md',
        'dist/lib/index.js',
        'dist/lib/index.d.ts',
        'dist/lib/cli/main.js',
        'dist/lib/worker/process-entry.cjs',
        'dist/lib/worker/thread-entry.cjs',
      ]) {
        expect(packed, file).to.include(file);
      }
      expect(packed.filter((path) => /^dist\/(?!lib\/)|(^|\/)spec\//.test(path))).to.deep.equal([]);
      expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).to.match(/^MIT License\n/);
    });

    it('ships every source file its source maps and declaration maps point to', () => {
      const maps = packed.filter((path) => path.endsWith('.map'));
      expect(maps.length, 'maps in the tarball').to.be.greaterThan(20);
      const missing: string[] = [];
      for (const map of maps) {
        const { sources } = JSON.parse(readFileSync(join(ROOT, map), 'utf8')) as {
          sources: string[];
        };
        for (const source of sources) {
          const target = join(map, '..', source).split('\\').join('/');
          if (!packed.includes(target)) missing.push(`${map} -> ${target}`);
        }
      }
      expect(missing).to.deep.equal([]);
    });

    it('has the repository, homepage and bugs fields, and an MIT license', () => {
      const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      expect(manifest.license).to.equal('MIT');
      expect(manifest.repository).to.deep.include({ type: 'git' });
      expect(String((manifest.repository as { url: string }).url)).to.match(
        /^git\+https:\/\/github\.com\//,
      );
      expect(String(manifest.homepage)).to.match(/^https:\/\/github\.com\//);
      expect(String((manifest.bugs as { url: string }).url)).to.match(/\/issues$/);
    });
  });

  describe('installed from the tarball', () => {
    it('installs with npm ci, quietly', () => {
      expect(install.code, `npm ci${report(install)}`).to.equal(0);
      const warnings = install.stderr.split('\n').filter((line) => /\bwarn\b|WARN|ERR/.test(line));
      expect(warnings, `npm ci${report(install)}`).to.deep.equal([]);
    });

    it("runs the README's first example as written (an ES module)", async () => {
      const readme = codeBlocks('README.md', readFileSync(join(ROOT, 'README.md'), 'utf8'));
      const first = readme.map(docFile).find((file) => file !== undefined)!;
      expect(first.name).to.equal('first.mjs');
      writeFileSync(join(project, first.name), first.text);
      const [command] = docCommands(readme, new Set([first.name]));
      expect(command?.argv).to.deep.equal(['node', 'first.mjs']);
      const marker = processMarker('consumer-first');
      const result = await run(process.execPath, command!.argv.slice(1), {
        cwd: project,
        env: cleanEnv({ [marker.key]: marker.value }),
      });
      expect(result.code, report(result)).to.equal(0);
      expect(result.stdout.trimEnd().split('\n')).to.deep.equal(command!.output);
      expect(await leftoverProcesses(marker.text)).to.deep.equal([]);
    });

    it('can be required from CommonJS (require(esm)), every public name included', async () => {
      writeFileSync(join(project, 'double.cjs'), 'exports.double = (x) => x * 2;\n');
      writeFileSync(join(project, 'program.cjs'), CJS_PROGRAM);
      const result = await run(process.execPath, ['program.cjs'], { cwd: project });
      expect(result.code, report(result)).to.equal(0);
      expect(result.stderr, 'no warning').to.equal('');
      expect(JSON.parse(result.stdout)).to.deep.equal({
        value: 42,
        missing: [],
        version: pkg.version,
      });
    });

    it('runs the CLI from the installed bin', async () => {
      writeFileSync(join(project, 'tasks.cjs'), 'module.exports = { triple: (x) => x * 3 };\n');
      const bin = join(project, 'node_modules', '.bin', 'concurrent-futures');
      const version = await run(bin, ['--version'], { cwd: project });
      expect(version.stdout).to.equal(`concurrent-futures ${pkg.version}\n`);
      const result = await run(bin, ['map', './tasks.cjs', 'triple', '-w', '1', '-q'], {
        cwd: project,
        input: '1\n2\n',
      });
      expect(result.code, report(result)).to.equal(0);
      expect(result.stdout).to.equal(
        '{"index":0,"line":1,"status":"ok","result":3}\n{"index":1,"line":2,"status":"ok","result":6}\n',
      );
    });

    it('type-checks a consumer with skipLibCheck: false under module node16, nodenext and bundler', async () => {
      writeFileSync(join(project, 'consumer.mts'), CONSUMER_MTS);
      writeFileSync(join(project, 'consumer-cjs.cts'), CONSUMER_CTS);
      const settings: Record<
        string,
        { module: string; moduleResolution: string; files: string[] }
      > = {
        node16: { module: 'node16', moduleResolution: 'node16', files: ['consumer.mts'] },
        // TypeScript >= 5.8 lets a CommonJS file import an ES module under nodenext.
        nodenext: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          files: ['consumer.mts', 'consumer-cjs.cts'],
        },
        bundler: { module: 'preserve', moduleResolution: 'bundler', files: ['consumer.mts'] },
      };
      for (const [name, { files, ...options }] of Object.entries(settings)) {
        const config = join(project, `tsconfig.${name}.json`);
        const compilerOptions = {
          ...options,
          target: 'es2022',
          lib: ['es2023', 'esnext.disposable'],
          types: ['node'],
          strict: true,
          skipLibCheck: false,
          noEmit: true,
        };
        // Left in the project: \`npx tsc -p tsconfig.<name>.json\` there shows the same errors.
        writeFileSync(config, JSON.stringify({ compilerOptions, files }, null, 2));
        const { checked, errors } = typeCheck(config);
        expect(errors, `module ${name}, tsc -p ${config}`).to.equal('');
        // Not vacuous: the package's declarations were part of the check.
        const declarations = checked.filter((file) =>
          file.includes(`/node_modules/${pkg.name}/dist/lib/`),
        );
        expect(declarations, 'declaration files checked').to.include(
          join(project, 'node_modules', pkg.name, 'dist/lib/options/pool-options.d.ts')
            .split('\\')
            .join('/'),
        );
      }
    });

    it('passes @arethetypeswrong/cli', async () => {
      // cjs-resolves-to-esm: a CommonJS consumer require()s the ES module
      // build, which Node >= 20.19 supports (the package's engines) and
      // TypeScript compiles under nodenext (checked above); there is no
      // CommonJS build to offer (two copies of Future and the error classes
      // would break instanceof across them). Profile node16: the package
      // needs Node >= 20.19, so the node10 resolution (no `exports`, which
      // sub-paths such as /distributed need) does not apply.
      const result = await run(
        join(BIN, 'attw'),
        [
          tarball,
          '--profile',
          'node16',
          '--format',
          'ascii',
          '--no-color',
          '--ignore-rules',
          'cjs-resolves-to-esm',
        ],
        { cwd: tmp },
      );
      expect(result.code, `attw${report(result)}`).to.equal(0);
      // Every resolution green: a problem line is one with a mark other than
      // 🟢 that is not in the ignored node10 column.
      const problems = result.stdout
        .split('\n')
        .filter((line) => /^(node|bundler)/.test(line.trim()) && !line.includes('🟢'))
        .filter((line) => !line.includes('(ignored)'));
      expect(problems, result.stdout).to.deep.equal([]);
      expect(result.stdout).to.match(/node16 \(from ESM\): 🟢/);
    });

    it('passes publint (strict), on the installed package', async () => {
      const installed = join(project, 'node_modules', pkg.name);
      const result = await run(
        join(BIN, 'publint'),
        ['run', installed, '--pack', 'false', '--strict'],
        {
          cwd: tmp,
        },
      );
      expect(result.code, `publint${report(result)}`).to.equal(0);
      expect(result.stdout).to.match(/All good!/);
    });
  });

  it('`npm pack` on a fresh checkout builds first (prepack): the tarball has dist/', async () => {
    // A copy of what a clone has, without dist/, with this repository's node_modules.
    const checkout = join(tmp, 'checkout');
    mkdirSync(checkout);
    for (const entry of [
      'package.json',
      'tsconfig.json',
      'scripts',
      'lib',
      'README.md',
      'CHANGELOG.md',
      'LICENSE',
      'docs',
    ]) {
      cpSync(join(ROOT, entry), join(checkout, entry), { recursive: true });
    }
    symlinkSync(join(ROOT, 'node_modules'), join(checkout, 'node_modules'), 'dir');
    const result = await npm(['pack', '--dry-run', '--json'], checkout);
    expect(result.code, `npm pack${report(result)}`).to.equal(0);
    // The build's own output comes first on stdout; the JSON is the rest.
    const json = result.stdout.slice(result.stdout.search(/^\[$/m));
    const [info] = JSON.parse(json) as [{ files: PackedFile[] }];
    const files = info.files.map((file) => file.path);
    for (const file of [
      'dist/lib/index.js',
      'dist/lib/index.d.ts',
      'dist/lib/worker/process-entry.cjs',
    ]) {
      expect(files, file).to.include(file);
    }
    expect(files.filter((path) => path.startsWith('dist/')).sort()).to.deep.equal(
      packed.filter((path) => path.startsWith('dist/')).sort(),
    );
  });
});
