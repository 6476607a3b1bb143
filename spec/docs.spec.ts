/**
 * The documentation cannot go stale:
 *
 * - docs/api/ is exactly what `npm run docs` (TypeDoc, typedoc.json)
 *   generates from the TSDoc in lib/ today, file by file. TypeDoc runs with
 *   warnings as errors, so an export without documentation fails too.
 * - Every relative link in README.md, CHANGELOG.md, docs/ and examples/
 *   points to a file that exists, and a `#anchor` to a heading that exists.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const apiDir = join(root, 'docs', 'api');

/** Relative paths of the files under `dir`, sorted. */
function listFiles(dir: string): string[] {
  const files: string[] = [];
  const walk = (at: string): void => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.push(relative(dir, path).split('\\').join('/'));
    }
  };
  if (existsSync(dir)) walk(dir);
  return files.sort();
}

function typedoc(out: string): Promise<{ code: number; output: string }> {
  const bin = join(root, 'node_modules', 'typedoc', 'bin', 'typedoc');
  return new Promise((done) => {
    execFile(
      process.execPath,
      [bin, '--out', out, '--logLevel', 'Warn'],
      { cwd: root, timeout: 120_000, env: { ...process.env, NO_COLOR: '1' } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        done({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}

// ---------------------------------------------------------------------------
// Markdown: links and headings
// ---------------------------------------------------------------------------

/** The text outside fenced code blocks, line by line (code lines blanked). */
function proseLines(markdown: string): string[] {
  let fence: string | undefined;
  return markdown.split('\n').map((line) => {
    const marker = line.match(/^\s*(`{3,}|~{3,})/)?.[1];
    if (fence === undefined && marker !== undefined) {
      fence = marker;
      return '';
    }
    if (fence !== undefined) {
      if (marker !== undefined && marker[0] === fence[0] && marker.length >= fence.length) {
        fence = undefined;
      }
      return '';
    }
    return line;
  });
}

/** Removes inline code spans, so that `[a](b)` inside backticks is not a link. */
function withoutCodeSpans(line: string): string {
  return line.replace(/(`+)(?:(?!\1).)+\1/g, '');
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1') // a link shows its text
    .replace(/<[^>]+>/g, '') // inline HTML
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of a markdown file's headings, with GitHub's -1, -2 for repeats. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const line of proseLines(markdown)) {
    const heading = line.match(/^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/)?.[1];
    if (heading === undefined) continue;
    const base = slug(heading);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  for (const match of markdown.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) result.add(match[1]!);
  return result;
}

interface Link {
  file: string;
  line: number;
  target: string;
}

/** Inline links `[text](target)` and reference definitions `[label]: target`. */
function links(file: string, markdown: string): Link[] {
  const found: Link[] = [];
  proseLines(markdown).forEach((raw, index) => {
    const line = withoutCodeSpans(raw);
    for (const match of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      found.push({ file, line: index + 1, target: match[1]! });
    }
    // Footnote definitions (`[^note]: text`) are not links.
    const definition = line.match(/^\s{0,3}\[(?!\^)[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/);
    if (definition !== null) found.push({ file, line: index + 1, target: definition[1]! });
  });
  return found;
}

/** The markdown files whose links are checked, relative to the root. */
function markdownFiles(): string[] {
  const files = ['README.md', 'CHANGELOG.md'];
  for (const dir of ['docs', 'examples']) {
    for (const path of listFiles(join(root, dir))) {
      if (path.endsWith('.md')) files.push(`${dir}/${path}`);
    }
  }
  return files.filter((file) => existsSync(join(root, file)));
}

/** What is wrong with one link, or undefined if it is fine. */
function checkLink(link: Link, anchorCache: Map<string, Set<string>>): string | undefined {
  const { target } = link;
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) return undefined; // URL
  const hash = target.indexOf('#');
  const pathPart = decodeURI(hash === -1 ? target : target.slice(0, hash));
  const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const absolute =
    pathPart === '' ? join(root, link.file) : resolve(root, dirname(link.file), pathPart);
  const fromRoot = relative(root, absolute).split('\\').join('/');
  if (fromRoot.startsWith('..')) return `${target} points outside the repository`;
  if (!existsSync(absolute)) {
    return `${target}: no such file (${fromRoot})`;
  }
  if (anchor === undefined || anchor === '') return undefined;
  if (!absolute.endsWith('.md') || statSync(absolute).isDirectory()) {
    return `${target}: an anchor into a file that is not markdown`;
  }
  let known = anchorCache.get(absolute);
  if (known === undefined) {
    known = anchors(readFileSync(absolute, 'utf8'));
    anchorCache.set(absolute, known);
  }
  return known.has(anchor)
    ? undefined
    : `${target}: no heading with the anchor #${anchor} in ${fromRoot}`;
}

describe('the documentation', function () {
  this.timeout(180_000);

  it('docs/api is what `npm run docs` generates from the TSDoc in lib/', async () => {
    const out = await mkdtemp(join(tmpdir(), 'cf-api-'));
    try {
      const run = await typedoc(out);
      expect(
        run.code,
        `TypeDoc failed (warnings count as errors; an export without TSDoc is one):\n${run.output}`,
      ).to.equal(0);
      const generated = listFiles(out);
      const committed = listFiles(apiDir);
      expect(generated.length, 'TypeDoc generated no files').to.be.greaterThan(0);
      const problems: string[] = [];
      for (const file of generated) {
        if (!committed.includes(file)) problems.push(`missing: docs/api/${file}`);
        else if (
          readFileSync(join(out, file), 'utf8') !== readFileSync(join(apiDir, file), 'utf8')
        ) {
          problems.push(`differs: docs/api/${file}`);
        }
      }
      for (const file of committed) {
        if (!generated.includes(file)) problems.push(`no longer generated: docs/api/${file}`);
      }
      expect(
        problems,
        'docs/api is out of date with the TSDoc in lib/: run `npm run docs` and commit docs/api',
      ).to.deep.equal([]);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('every relative link in README.md, CHANGELOG.md, docs/ and examples/ resolves, anchors included', () => {
    const files = markdownFiles();
    expect(files).to.include.members(['README.md', 'docs/README.md', 'examples/README.md']);
    const cache = new Map<string, Set<string>>();
    const broken: string[] = [];
    let checked = 0;
    for (const file of files) {
      for (const link of links(file, readFileSync(join(root, file), 'utf8'))) {
        checked++;
        const problem = checkLink(link, cache);
        if (problem !== undefined) broken.push(`${link.file}:${link.line}: ${problem}`);
      }
    }
    expect(checked, 'links found').to.be.greaterThan(100);
    expect(broken, 'broken links').to.deep.equal([]);
  });

  it('docs/README.md indexes every page in docs/', () => {
    const index = readFileSync(join(root, 'docs', 'README.md'), 'utf8');
    const linked = new Set(
      links('docs/README.md', index).map((link) => link.target.split('#')[0]!.replace(/^\.\//, '')),
    );
    const pages = readdirSync(join(root, 'docs')).filter(
      (name) => name.endsWith('.md') && name !== 'README.md',
    );
    const missing = pages.filter((page) => !linked.has(page));
    expect(missing, 'pages of docs/ that docs/README.md does not link to').to.deep.equal([]);
    expect(linked.has('api/README.md'), 'docs/README.md links to the API reference').to.equal(true);
  });

  it('the link checker itself finds broken links and anchors', () => {
    // Guards the checks above against passing vacuously.
    const cache = new Map<string, Set<string>>();
    const at = (target: string): Link => ({ file: 'docs/README.md', line: 1, target });
    expect(checkLink(at('futures.md'), cache)).to.equal(undefined);
    expect(checkLink(at('no-such-page.md'), cache)).to.match(/no such file/);
    expect(checkLink(at('robustness.md#cancelall'), cache)).to.equal(undefined);
    expect(checkLink(at('robustness.md#no-such-heading'), cache)).to.match(/no heading/);
    expect(checkLink(at('https://example.com/x'), cache)).to.equal(undefined);
    expect(slug('Class: `ProcessPoolExecutor`')).to.equal('class-processpoolexecutor');
    expect(slug('`executor.map(fn, iterable[, options])`')).to.equal(
      'executormapfn-iterable-options',
    );
    expect([...anchors('# A\n```\n# not a heading\n```\n# A\n')]).to.deep.equal(['a', 'a-1']);
    const sample = 'see `[a](b.md)` and [c](d.md#e)\n[f]: g.md\n[^n]: [h](i.md)';
    expect(links('x.md', sample).map((l) => l.target)).to.deep.equal(['d.md#e', 'g.md', 'i.md']);
  });
});
