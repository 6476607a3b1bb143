#!/usr/bin/env node
/**
 * The `concurrent-futures` command: `concurrent-futures map <module>
 * [export]` calls a module's exported function once per JSON Lines input
 * record on worker processes (docs/cli.md); `concurrent-futures worker`
 * runs a worker node of concurrent-futures/distributed (worker-command.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCommandLine, UsageError } from './args.js';
import { EXIT, runMap } from './run.js';
import { runWorkerCommand } from './worker-command.js';

/** Writes `text` and resolves once it is out: process.exit must not cut a pipe's write short. */
function say(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve) => {
    stream.write(text, () => resolve());
  });
}

/** This package's version, from the package.json above this file (in lib/cli or dist/lib/cli). */
function version(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (true) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'concurrent-futures' && typeof pkg.version === 'string') return pkg.version;
    }
    const parent = dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
}

/** The help that explains a mistake on this command line: its command's, or the overview. */
function helpFor(argv: string[]): string {
  if (argv[0] === 'worker') return 'concurrent-futures worker --help';
  // The first word that is not an option is the command (when no option value comes first).
  if (argv.find((arg) => !arg.startsWith('-')) === 'map') return 'concurrent-futures map --help';
  return 'concurrent-futures --help';
}

async function main(argv: string[]): Promise<number> {
  try {
    if (argv[0] === 'worker') return await runWorkerCommand(argv.slice(1));
    const command = parseCommandLine(argv);
    if (command.kind === 'help') {
      await say(process.stdout, `${command.usage}\n`);
      return EXIT.ok;
    }
    if (command.kind === 'version') {
      await say(process.stdout, `concurrent-futures ${version()}\n`);
      return EXIT.ok;
    }
    return await runMap(command.config);
  } catch (error) {
    if (error instanceof UsageError) {
      await say(
        process.stderr,
        `concurrent-futures: ${error.message}\nRun '${helpFor(argv)}' for usage.\n`,
      );
      return EXIT.usage;
    }
    await say(
      process.stderr,
      `concurrent-futures: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return EXIT.failed;
  }
}

// An explicit exit: a terminal or pipe on stdin must not keep a finished run alive.
process.exit(await main(process.argv.slice(2)));
