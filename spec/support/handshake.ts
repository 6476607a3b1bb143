/**
 * Sequencing helpers for tests with real workers: temp directories, files
 * written by task code as handshakes, and polling with generous deadlines
 * (the deadline only bounds a hang; no test asserts elapsed time).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temp directory, removed by `cleanup()`. */
export function tempDir(prefix = 'cf-spec-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** Polls `condition` every 10 ms until it holds; throws after `timeoutMs`. */
export async function waitUntil(
  condition: () => boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Waits until `file` exists. */
export function waitForFile(file: string, timeoutMs?: number): Promise<void> {
  return waitUntil(() => existsSync(file), `file ${file}`, timeoutMs);
}

/** Files in `dir` whose names start with `prefix`. */
export function filesStartingWith(dir: string, prefix: string): string[] {
  return readdirSync(dir).filter((name) => name.startsWith(prefix));
}

export function touch(file: string, content = ''): void {
  writeFileSync(file, content);
}

export function readText(file: string): string {
  return readFileSync(file, 'utf8');
}
