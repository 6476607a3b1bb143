/**
 * The code in README.md and docs/ cannot rot: every JavaScript or
 * TypeScript block is either a file the suite runs or marked as a
 * fragment, and every file runs as its page shows.
 *
 * The conventions (spec/support/markdown.ts, stated for writers in
 * docs/README.md):
 *
 * - a block whose first line names a file (`// first.mjs`) is that file;
 *   the other blocks must say ```js fragment (a piece of a program: names
 *   come from the text around it);
 * - a shell line `node ... <file>` runs a file of its page; as a
 *   transcript, `$ node ... <file>` followed by what it prints, the output
 *   must be exactly that;
 * - every file is run by a command of its page or imported by one that is.
 *
 * Each page's files are written into a fresh directory outside the
 * repository, a project as `npm init` makes it (no "type" field, so `.js`
 * would be CommonJS), whose node_modules links `concurrent-futures` to
 * this repository (its package.json exports dist/) and `tsx` to ours. Each
 * command runs there as written, and must exit 0 and leave no process.
 *
 * docs/api/ is not covered: it is generated from the TSDoc (checked by
 * spec/docs.spec.ts), and its `@example` blocks are single calls.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import {
  type CodeBlock,
  codeBlocks,
  type DocFile,
  docCommands,
  docFile,
  isCode,
  isFragment,
} from './support/markdown.js';
import { leftoverProcesses, processMarker } from './support/marked-processes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** README.md and every page of docs/ but the generated docs/api/. */
function pages(): string[] {
  const found = ['README.md'];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) {
        if (path !== 'docs/api') walk(path);
      } else if (entry.name.endsWith('.md')) {
        found.push(path);
      }
    }
  };
  walk('docs');
  return found.sort();
}

interface Page {
  page: string;
  blocks: CodeBlock[];
  files: DocFile[];
}

function readPage(page: string): Page {
  const blocks = codeBlocks(page, readFileSync(join(ROOT, page), 'utf8'));
  const files = blocks.map(docFile).filter((file) => file !== undefined);
  return { page, blocks, files };
}

const where = (block: CodeBlock): string => `${block.page}:${block.line}`;

/** A project directory as a user's, with the package and tsx linked in. */
async function project(page: string, files: DocFile[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `cf-doc-${page.replace(/\W+/g, '-')}-`));
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: 'doc-example', private: true }, null, 2)}\n`,
  );
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'concurrent-futures'), 'dir');
  symlinkSync(join(ROOT, 'node_modules', 'tsx'), join(dir, 'node_modules', 'tsx'), 'dir');
  for (const file of files) {
    mkdirSync(dirname(join(dir, file.name)), { recursive: true });
    writeFileSync(join(dir, file.name), file.text);
  }
  return dir;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(argv: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, argv, { cwd, env, timeout: 60_000 }, (error, stdout, stderr) => {
      const code =
        error === null
          ? 0
          : typeof (error as { code?: unknown }).code === 'number'
            ? (error as { code: number }).code
            : null;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('code in README.md and docs/', function () {
  this.timeout(120_000);
  const all = pages().map(readPage);

  it('every JavaScript and TypeScript block names its file or is marked as a fragment', () => {
    const problems: string[] = [];
    let files = 0;
    let fragments = 0;
    for (const { blocks } of all) {
      for (const block of blocks) {
        if (!isCode(block)) continue;
        if (isFragment(block)) fragments++;
        else if (docFile(block) !== undefined) files++;
        else {
          problems.push(
            `${where(block)}: a \`\`\`${block.language} block must start with a comment naming its file (// name.mjs), which the suite runs, or be marked \`\`\`${block.language} fragment`,
          );
        }
      }
    }
    expect(problems).to.deep.equal([]);
    expect(files, 'runnable files found').to.be.at.least(5);
    expect(fragments, 'fragments found').to.be.at.least(20);
  });

  it('every file is run by a command of its page, or imported by a file of the page', () => {
    const problems: string[] = [];
    for (const { page, blocks, files } of all) {
      const names = new Set(files.map((file) => file.name));
      const commands = docCommands(blocks, names);
      const run = new Set(commands.map((command) => command.file));
      for (const file of files) {
        if (run.has(file.name)) continue;
        const importer = files.find(
          (other) => other !== file && run.has(other.name) && other.text.includes(`./${file.name}`),
        );
        if (importer === undefined) {
          problems.push(
            `${where(file.block)}: ${file.name} is neither run by a \`node ${file.name}\` line of ${page} nor imported by a file that is`,
          );
        }
      }
    }
    expect(problems).to.deep.equal([]);
  });

  it('the README leads with an example for Node 20 (first.mjs, run with `node first.mjs`)', () => {
    const readme = all.find((page) => page.page === 'README.md')!;
    const firstCode = readme.blocks.find(isCode);
    expect(firstCode && docFile(firstCode)?.name).to.equal('first.mjs');
    const commands = docCommands(readme.blocks, new Set(readme.files.map((file) => file.name)));
    expect(commands[0]?.command).to.equal('node first.mjs');
    expect(commands[0]?.output).to.deep.equal(['3']);
  });

  for (const { page, blocks, files } of all) {
    const commands = docCommands(blocks, new Set(files.map((file) => file.name)));
    if (commands.length === 0) continue;
    describe(page, () => {
      let dir: string;
      before(async () => {
        dir = await project(page, files);
      });
      after(async () => {
        await rm(dir, { recursive: true, force: true });
      });

      for (const command of commands) {
        it(`${command.command} (${where(command.block)}) runs as written${command.output ? ' and prints what the page shows' : ''}`, async () => {
          const marker = processMarker(command.file);
          const env: NodeJS.ProcessEnv = { ...process.env, [marker.key]: marker.value };
          delete env.NODE_OPTIONS;
          const result = await run(command.argv.slice(1), dir, env);
          const left = await leftoverProcesses(marker.text);
          const report = `in ${relative(ROOT, dir) && dir}\n--- stdout ---\n${result.stdout}--- stderr ---\n${result.stderr}`;
          expect(result.code, `exit code${report}`).to.equal(0);
          if (command.output !== undefined) {
            const printed = result.stdout.trimEnd().split('\n');
            expect(printed, `output${report}`).to.deep.equal(command.output);
          }
          expect(left, 'processes left behind').to.deep.equal([]);
        });
      }
    });
  }
});
