// Part of `npm run build` (and `npm run typecheck` with --noEmit): compiles
// the root project (lib, demo, bench, tools), then the tests in spec/ with
// their own tsconfig, the only one that gives mocha's globals. A checkout
// without spec/ (what `npm pack` builds from) compiles the root project only.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const extra = process.argv.slice(2);
const projects = ['tsconfig.json'];
if (existsSync('spec/tsconfig.json')) projects.push('spec/tsconfig.json');
for (const project of projects) {
  const run = spawnSync(process.execPath, [tsc, '-p', project, ...extra], { stdio: 'inherit' });
  if (run.status !== 0) process.exit(run.status ?? 1);
}
