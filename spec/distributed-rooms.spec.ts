/**
 * The shape of lib/distributed/ (docs/architecture.md, "distributed/"):
 * the rest of lib/ is reached through internal.ts (or the public
 * ../index.js) only, every file has a row in the architecture map, and
 * every row names a file that exists. Read from the TypeScript sources.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const DIR = fileURLToPath(new URL('../../lib/distributed/', import.meta.url));
const ARCHITECTURE = fileURLToPath(new URL('../../docs/architecture.md', import.meta.url));

const files = readdirSync(DIR).filter((name) => name.endsWith('.ts'));

/** The relative specifiers `file` imports or re-exports (comments stripped: TSDoc holds examples). */
function specifiers(file: string): string[] {
  const text = readFileSync(DIR + file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '');
  const found: string[] = [];
  for (const match of text.matchAll(
    /(?:^|\n)\s*(?:import|export)\b[^'";]*?(?:from\s*)?'([^']+)'|import\(\s*'([^']+)'\s*\)/g,
  )) {
    const specifier = match[1] ?? match[2];
    if (specifier?.startsWith('.')) found.push(specifier);
  }
  return found;
}

/** The file names in the rows of the distributed table of docs/architecture.md. */
function mappedFiles(): string[] {
  const text = readFileSync(ARCHITECTURE, 'utf8');
  const start = text.indexOf('**`distributed/`**');
  expect(start, 'the distributed section of docs/architecture.md').to.be.greaterThan(-1);
  const table = text
    .slice(start)
    .split('\n\n')
    .find((block) => block.startsWith('| file'));
  expect(table, 'its table').to.not.equal(undefined);
  return table!
    .split('\n')
    .slice(2)
    .flatMap((row) => (row.split('|')[1] ?? '').match(/`[^`]+\.ts`/g) ?? [])
    .map((name) => name.slice(1, -1));
}

describe('the rooms of lib/distributed/', () => {
  it('reads the sources (the checks below are not vacuous)', () => {
    expect(files).to.include.members(['executor.ts', 'internal.ts', 'node.ts', 'tasks.ts']);
    expect(specifiers('internal.ts').some((s) => s.startsWith('../'))).to.equal(true);
  });

  it('reaches the rest of lib/ through internal.ts or the public index only', () => {
    const offenders = files
      .filter((file) => file !== 'internal.ts')
      .flatMap((file) =>
        specifiers(file)
          .filter((s) => s.startsWith('../') && s !== '../index.js')
          .map((s) => `${file} imports ${s}`),
      );
    expect(offenders).to.deep.equal([]);
  });

  it('has a row in docs/architecture.md for every file, and a file for every row', () => {
    const mapped = mappedFiles();
    expect([...files].sort()).to.deep.equal([...mapped].sort());
  });
});
