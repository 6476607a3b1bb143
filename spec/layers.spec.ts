/**
 * The rooms of lib/ and who may import whom (docs/architecture.md):
 *
 * - the worker side (everything a worker entry imports, directly or not)
 *   imports nothing from engine/: a worker carries no scheduler;
 * - wire/ (what both sides share) imports nothing from engine/, worker/ or
 *   transport/;
 * - transport/ imports nothing from engine/ or worker/;
 * - the engine's helpers never import the scheduler back: only the facade
 *   does.
 *
 * Read from the TypeScript sources, type-only imports included, so that a
 * shortcut cannot creep back in.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const LIB = fileURLToPath(new URL('../../lib/', import.meta.url));

/** Every .ts file under `dir`, as paths relative to lib/ ('engine/scheduler.ts'). */
function sources(dir = LIB): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [relative(LIB, path)] : [];
  });
}

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\b[^'";]*?(?:from\s*)?'([^']+)'|import\(\s*'([^']+)'\s*\)/g;

/** The lib/ files `file` imports (relative specifiers only), as paths relative to lib/. */
function importsOf(file: string): string[] {
  // Without comments: TSDoc examples hold import() calls of the user's modules.
  const text = readFileSync(join(LIB, file), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '');
  const found: string[] = [];
  for (const match of text.matchAll(IMPORT)) {
    const specifier = match[1] ?? match[2];
    if (specifier === undefined || !specifier.startsWith('.')) continue;
    const target = resolve(dirname(join(LIB, file)), specifier).replace(/\.js$/, '.ts');
    found.push(relative(LIB, target));
  }
  return found;
}

/** `file` and everything it imports, directly or not. */
function closure(file: string): Set<string> {
  const seen = new Set<string>();
  const todo = [file];
  while (todo.length > 0) {
    const next = todo.pop()!;
    if (seen.has(next)) continue;
    seen.add(next);
    todo.push(...importsOf(next));
  }
  return seen;
}

function inRoom(file: string, room: string): boolean {
  return file.startsWith(`${room}/`);
}

describe('the rooms of lib/', () => {
  const all = sources();

  it('finds the sources and their imports (the check below is not vacuous)', () => {
    expect(all).to.include('worker/runtime.ts');
    expect(importsOf('worker/runtime.ts')).to.include('wire/protocol.ts');
    expect(closure('index.ts')).to.include('engine/scheduler.ts');
  });

  for (const entry of ['worker/process-entry.ts', 'worker/thread-entry.ts']) {
    it(`the worker side (${entry} and all it imports) imports nothing from engine/`, () => {
      const reached = [...closure(entry)];
      expect(reached).to.include('worker/runtime.ts');
      expect(reached.filter((file) => inRoom(file, 'engine'))).to.deep.equal([]);
    });
  }

  it('no file in worker/ imports from engine/', () => {
    const offenders = all
      .filter((file) => inRoom(file, 'worker'))
      .flatMap((file) => importsOf(file).filter((target) => inRoom(target, 'engine')));
    expect(offenders).to.deep.equal([]);
  });

  it('wire/ imports nothing from engine/, worker/ or transport/, directly or not', () => {
    const offenders = all
      .filter((file) => inRoom(file, 'wire'))
      .flatMap((file) => [...closure(file)])
      .filter((file) => ['engine', 'worker', 'transport'].some((room) => inRoom(file, room)));
    expect(offenders).to.deep.equal([]);
  });

  it('transport/ imports nothing from engine/ or worker/, directly or not', () => {
    const offenders = all
      .filter((file) => inRoom(file, 'transport'))
      .flatMap((file) => [...closure(file)])
      .filter((file) => inRoom(file, 'engine') || inRoom(file, 'worker'));
    expect(offenders).to.deep.equal([]);
  });

  it('only the facade imports the scheduler: its helpers see it through the Engine interface', () => {
    const importers = all.filter((file) => importsOf(file).includes('engine/scheduler.ts'));
    expect(importers).to.deep.equal(['pool-executor.ts']);
  });
});
