/**
 * Root hooks for the whole suite.
 *
 * Every test that makes a pool shuts it down; this checks it. After each
 * test (or, for a suite sharing one pool, after the suite) and at the very
 * end, no child process of the test runner
 * may be left running. Processes are read from /proc, so the check itself
 * starts no process.
 */
import { childPids } from '../../tools/processes.js';

async function settleChildren(): Promise<number[]> {
  // A child that was just killed may need a moment to be reaped by libuv.
  for (let attempt = 0; attempt < 50; attempt++) {
    const left = childPids();
    if (left.length === 0) return left;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return childPids();
}

/**
 * For a suite that shares one pool across its tests (it sets
 * `this.keepsWorkers = true` in its `before` hook, so the per-test check is
 * skipped): call after shutting the pool down.
 */
export async function expectNoChildren(): Promise<void> {
  const left = await settleChildren();
  if (left.length > 0) throw new Error(`child processes left behind: ${left.join(', ')}`);
}

export const mochaHooks = {
  async afterEach(this: Mocha.Context): Promise<void> {
    // The test's context inherits from its suites' contexts.
    const context = this.currentTest?.ctx as
      | (Mocha.Context & { keepsWorkers?: boolean })
      | undefined;
    if (context?.keepsWorkers === true) return;
    const left = await settleChildren();
    if (left.length === 0) return;
    // Kill them so that one leaky test does not make every later test fail.
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    throw new Error(`child processes left behind by this test: ${left.join(', ')}`);
  },
  async afterAll(this: Mocha.Context): Promise<void> {
    const left = await settleChildren();
    if (left.length > 0) {
      throw new Error(`child processes left behind by the suite: ${left.join(', ')}`);
    }
  },
};
