/**
 * Finding the processes a program left behind, even after they were
 * re-parented (an orphan no longer descends from us): start the program
 * with a marker in its environment, which its workers inherit, then look
 * for live processes whose environment carries it. Linux (/proc) only.
 */
import { processesWithEnv } from '../../tools/processes.js';

/** A marker unique to this run: `[name, value]` for the environment, and the text to look for. */
export function processMarker(label: string): { key: string; value: string; text: string } {
  const key = 'CF_SPEC_RUN';
  const value = `${process.pid}-${label.replace(/[^\w.-]/g, '_')}-${Date.now()}`;
  return { key, value, text: `${key}=${value}` };
}

/** The marked processes still alive after a grace of up to 3 s; kills them so they do not linger. */
export async function leftoverProcesses(text: string): Promise<number[]> {
  let left = processesWithEnv(text);
  for (let attempt = 0; attempt < 30 && left.length > 0; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    left = processesWithEnv(text);
  }
  for (const pid of left) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  return left;
}
