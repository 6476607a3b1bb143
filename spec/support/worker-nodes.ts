/**
 * Worker node processes for the distributed specs: the real CLI,
 * `concurrent-futures worker`, started as a child of the test runner with
 * its root at spec/fixtures/distributed. `start` resolves once the node
 * printed its ready line (a handshake); `stop` drains it with SIGTERM and
 * waits for its exit, killing it only if it does not go.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CLI = join(ROOT, 'dist', 'lib', 'cli', 'main.js');
export const FIXTURES = join(ROOT, 'spec', 'fixtures', 'distributed');

export interface NodeOptions {
  /** CF_NODE_ROLE in the node's environment (tasks.mjs behaves by role). */
  role?: string;
  concurrency?: number;
  /** Extra command line arguments. */
  args?: string[];
}

/** Nodes still running, killed if the test runner exits without stopping them. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** A `concurrent-futures worker` process. */
export class NodeProcess {
  readonly child: ChildProcess;
  readonly role: string;
  /** The node's id, from its ready line. */
  id = '';
  #output = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(child: ChildProcess, role: string) {
    this.child = child;
    this.role = role;
    child.stdout?.setEncoding('utf8').on('data', (text: string) => {
      this.#output += text;
    });
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      this.#output += text;
    });
    running.add(child);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        running.delete(child);
        resolve({ code, signal });
      });
    });
  }

  /** Starts a node on `queue` and waits for its ready line. */
  static async start(
    redisUrl: string,
    queue: string,
    options: NodeOptions = {},
  ): Promise<NodeProcess> {
    const role = options.role ?? 'node';
    const child = spawn(
      process.execPath,
      [
        CLI,
        'worker',
        '--redis',
        redisUrl,
        '--queue',
        queue,
        '--root',
        FIXTURES,
        '--concurrency',
        String(options.concurrency ?? 2),
        '--lock-duration',
        '2000',
        '--stalled-interval',
        '1000',
        ...(options.args ?? []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CF_NODE_ROLE: role } },
    );
    const node = new NodeProcess(child, role);
    await node.waitFor(/worker node (\S+) ready/, 20_000);
    node.id = /worker node (\S+) ready/.exec(node.output)![1]!;
    return node;
  }

  /** Everything the node printed so far. */
  get output(): string {
    return this.#output;
  }

  /** Waits until the node printed something matching `pattern`; fails if it exits first. */
  async waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let gone = false;
    void this.exited.then(() => {
      gone = true;
    });
    while (!pattern.test(this.#output)) {
      if (gone) throw new Error(`worker node exited before printing ${pattern}:\n${this.#output}`);
      if (Date.now() > deadline) {
        throw new Error(
          `worker node did not print ${pattern} within ${timeoutMs} ms:\n${this.#output}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Sends a signal. */
  kill(signal: NodeJS.Signals): void {
    try {
      this.child.kill(signal);
    } catch {
      // Already gone.
    }
  }

  /** Drains the node (SIGTERM) and waits for it to exit; SIGKILL after 15 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timer);
  }
}
