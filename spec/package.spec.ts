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
