/**
 * A throwaway redis-server for the distributed specs: persistence off
 * (`--save '' --appendonly no`), bound to 127.0.0.1 on a private port, in
 * its own temp directory, killed when the suite ends (it is a child of the
 * test runner, so the root hook would fail a suite that left it running).
 *
 * Readiness is a handshake: the server's "Ready to accept connections"
 * line, never a sleep. Without redis-server the suite fails with the
 * command that installs it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export const INSTALL_HINT =
  'redis-server is not installed, and the distributed specs need a throwaway Redis: ' +
  'install it with `apt-get install redis-server` (Debian, Ubuntu; .ci/run does this), ' +
  '`brew install redis` (macOS), or set REDIS_SERVER to its path';

/** The redis-server binary: $REDIS_SERVER, or the first on PATH (or in /usr/bin, /usr/sbin). */
export function findRedisServer(): string | undefined {
  const candidates = process.env.REDIS_SERVER
    ? [process.env.REDIS_SERVER]
    : [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/sbin', '/usr/local/bin'].map(
        (dir) => join(dir, 'redis-server'),
      );
  for (const file of candidates) {
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // Not there.
    }
  }
  return undefined;
}

/** Servers still running, killed if this process exits without stopping them (^C, a crash). */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** A redis-server process on 127.0.0.1:`port`. */
export class RedisServer {
  readonly port: number;
  readonly #dir: string;
  #child: ChildProcess | undefined;

  private constructor(port: number, dir: string) {
    this.port = port;
    this.#dir = dir;
  }

  /** Starts a server on a free port; throws with INSTALL_HINT when there is no redis-server. */
  static async start(): Promise<RedisServer> {
    if (findRedisServer() === undefined) throw new Error(INSTALL_HINT);
    const dir = mkdtempSync(join(tmpdir(), 'cf-redis-'));
    try {
      for (let attempt = 0; attempt < 20; attempt++) {
        const port = 20_000 + Math.floor(Math.random() * 40_000);
        const server = new RedisServer(port, dir);
        if (await server.#launch()) return server;
      }
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
    rmSync(dir, { recursive: true, force: true });
    throw new Error('could not start redis-server on any of 20 random ports');
  }

  /** `redis://127.0.0.1:<port>`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** The server's pid while it runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Kills the server (SIGKILL: no shutdown save, like a crash) and waits until it is gone. */
  async kill(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** Starts the server again on the same port, empty (persistence is off). */
  async restart(): Promise<void> {
    await this.kill();
    // The port was just freed by a killed process: retry a moment if the OS still holds it.
    for (let attempt = 0; attempt < 50; attempt++) {
      if (await this.#launch()) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`could not restart redis-server on port ${this.port}`);
  }

  /** Kills the server and removes its directory. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.#dir, { recursive: true, force: true });
  }

  /** Starts redis-server; resolves true once it accepts connections, false if the port is taken. */
  #launch(): Promise<boolean> {
    const binary = findRedisServer();
    if (binary === undefined) return Promise.reject(new Error(INSTALL_HINT));
    const child = spawn(
      binary,
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        this.#dir,
        '--daemonize',
        'no',
        '--protected-mode',
        'yes',
        '--loglevel',
        'notice',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    return new Promise((resolve, reject) => {
      let output = '';
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          finish();
          this.#child = child;
          running.add(child);
          child.once('exit', () => running.delete(child));
          // Keep reading, so that a full pipe never blocks the server.
          child.stdout?.resume();
          child.stderr?.resume();
          resolve(true);
        }
      };
      const onExit = (): void => {
        finish();
        if (/Address already in use|bind/i.test(output)) resolve(false);
        else reject(new Error(`redis-server exited at start: ${output.slice(-500)}`));
      };
      const finish = (): void => {
        child.stdout?.off('data', onData);
        child.stderr?.off('data', onData);
        child.off('exit', onExit);
        child.off('error', onError);
      };
      const onError = (error: Error): void => {
        finish();
        reject(error);
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', onExit);
      child.once('error', onError);
    });
  }
}
