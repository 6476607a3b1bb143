import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, { types: string; default: string }>;
  engines: { node: string };
  type: string;
};

const CONTRACT_NAMES = [
  'Future',
  'wait',
  'asCompleted',
  'CancelAll',
  'task',
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
];

describe('the package', () => {
  it('is ESM with typed exports and the engines the contract names', () => {
    expect(pkg.type).to.equal('module');
    expect(pkg.engines.node).to.equal('>=20.19');
    const main = pkg.exports['.']!;
    expect(existsSync(join(root, main.types))).to.equal(true);
    expect(existsSync(join(root, main.default))).to.equal(true);
  });

  it('exports every contract name to an ESM consumer', async () => {
    const script = `import * as cf from 'concurrent-futures';
      const missing = ${JSON.stringify(CONTRACT_NAMES)}.filter((n) => !(n in cf));
      console.log(JSON.stringify(missing));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: root,
    });
    expect(JSON.parse(stdout)).to.deep.equal([]);
  });

  it('decides for every dependency with an install script whether it runs (allowScripts): npm ci is quiet', () => {
    // npm (11.x) warns "install scripts not yet covered by allowScripts" for
    // each dependency with a preinstall/install/postinstall script that
    // package.json#allowScripts neither allows (true) nor denies (false).
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { hasInstallScript?: boolean }>;
    };
    const allow = (pkg as { allowScripts?: Record<string, boolean> }).allowScripts ?? {};
    const withScripts = Object.entries(lock.packages)
      .filter(([, entry]) => entry.hasInstallScript === true)
      .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
    expect(withScripts, 'packages with install scripts').to.include('esbuild');
    const undecided = withScripts.filter((name) => typeof allow[name] !== 'boolean');
    expect(undecided, 'add each to package.json#allowScripts').to.deep.equal([]);
    // esbuild's postinstall only checks its platform binary and swaps its JS
    // launcher for it; the build uses esbuild's JS API, which finds the
    // binary in @esbuild/<platform> without it.
    expect(allow.esbuild).to.equal(false);
  });

  it('can be required by a CommonJS consumer (require(esm))', async () => {
    const script = `const cf = require('concurrent-futures');
      const f = new cf.Future(); f.setResult(41 + 1);
      f.then((v) => console.log(JSON.stringify({ v, s: String(f), cancelled: typeof cf.CancelledError })));`;
    const { stdout } = await run(
      process.execPath,
      ['--no-warnings', '--input-type=commonjs', '-e', script],
      { cwd: root },
    );
    expect(JSON.parse(stdout)).to.deep.equal({
      v: 42,
      s: 'Future<finished: returned 42>',
      cancelled: 'function',
    });
  });
});
