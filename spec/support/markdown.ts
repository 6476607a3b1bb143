/**
 * The code blocks of a markdown page, as the documentation tests read them
 * (spec/doc-examples.spec.ts, spec/consumer.spec.ts).
 *
 * The conventions, which docs/README.md states for writers:
 *
 * - A JavaScript or TypeScript block (```js, ```ts, ...) is either a *file*,
 *   whose first line is a comment naming it (`// first.mjs`), or a
 *   *fragment*, marked in its info string (```js fragment), which the
 *   tests do not run. Nothing else is allowed.
 * - A shell block (```sh) may run a file of its page: a line `node ...
 *   <file>` runs it; written as a transcript, `$ node ... <file>` followed by
 *   the lines it prints, it also says what the output must be.
 */

const CODE_LANGUAGES = new Set([
  'js',
  'mjs',
  'cjs',
  'ts',
  'mts',
  'cts',
  'javascript',
  'typescript',
]);
const FILE_COMMENT = /^\/\/\s*([\w./-]+\.(?:[cm]?js|[cm]?ts))\s*$/;

/** One fenced code block. */
export interface CodeBlock {
  /** The markdown file, relative to the repository root. */
  page: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The first word of the info string (`ts`, `sh`, ...), lower case; '' if none. */
  language: string;
  /** The other words of the info string (`fragment`). */
  flags: string[];
  /** The lines between the fences. */
  body: string[];
}

/** A JavaScript or TypeScript file defined by a block. */
export interface DocFile {
  block: CodeBlock;
  name: string;
  /** The file's text, the naming comment included. */
  text: string;
}

/** A command of a shell block that runs a file of the page. */
export interface DocCommand {
  block: CodeBlock;
  /** The command as written, without the prompt and a trailing comment. */
  command: string;
  /** `node` and its arguments. */
  argv: string[];
  /** The file of the page it runs. */
  file: string;
  /** For a transcript: the lines it prints. */
  output: string[] | undefined;
}

/** Every fenced block of a page. */
export function codeBlocks(page: string, markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = markdown.split('\n');
  let open: { fence: string; block: CodeBlock } | undefined;
  lines.forEach((text, index) => {
    const fence = text.match(/^\s*(`{3,}|~{3,})\s*(.*)$/);
    if (open === undefined) {
      if (fence === null) return;
      const [language = '', ...flags] = (fence[2] ?? '').trim().split(/\s+/).filter(Boolean);
      open = {
        fence: fence[1]!,
        block: { page, line: index + 1, language: language.toLowerCase(), flags, body: [] },
      };
      return;
    }
    if (
      fence !== null &&
      fence[2] === '' &&
      fence[1]![0] === open.fence[0] &&
      fence[1]!.length >= open.fence.length
    ) {
      blocks.push(open.block);
      open = undefined;
      return;
    }
    // Indented blocks (inside a list item) keep their text without the indent.
    open.block.body.push(text);
  });
  return blocks.map((block) => ({ ...block, body: dedent(block.body) }));
}

function dedent(lines: string[]): string[] {
  const indents = lines
    .filter((line) => line.trim() !== '')
    .map((line) => /^ */.exec(line)![0].length);
  const cut = indents.length === 0 ? 0 : Math.min(...indents);
  return lines.map((line) => line.slice(cut));
}

/** A JavaScript or TypeScript block. */
export function isCode(block: CodeBlock): boolean {
  return CODE_LANGUAGES.has(block.language);
}

export function isFragment(block: CodeBlock): boolean {
  return block.flags.includes('fragment');
}

/** The file a code block defines, if its first line names one. */
export function docFile(block: CodeBlock): DocFile | undefined {
  if (!isCode(block) || isFragment(block)) return undefined;
  const name = FILE_COMMENT.exec(block.body[0] ?? '')?.[1];
  if (name === undefined) return undefined;
  return { block, name, text: `${block.body.join('\n').trimEnd()}\n` };
}

/** The commands of a page's shell blocks that run one of `files`. */
export function docCommands(blocks: CodeBlock[], files: Set<string>): DocCommand[] {
  const commands: DocCommand[] = [];
  for (const block of blocks) {
    if (!['sh', 'shell', 'bash', 'console'].includes(block.language)) continue;
    let current: DocCommand | undefined;
    for (const raw of block.body) {
      const prompt = raw.startsWith('$ ');
      const text = (prompt ? raw.slice(2) : raw).replace(/\s+#.*$/, '').trim();
      const argv = text.split(/\s+/);
      const file = argv.at(-1) ?? '';
      if ((prompt || !current?.output) && argv[0] === 'node' && files.has(file)) {
        current = { block, command: text, argv, file, output: prompt ? [] : undefined };
        commands.push(current);
      } else if (prompt || raw.trim() === '') {
        current = undefined;
      } else if (current?.output !== undefined) {
        current.output.push(raw);
      }
    }
  }
  return commands;
}
