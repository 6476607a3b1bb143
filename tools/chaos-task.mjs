// The task the chaos soak runs: does its work, or injects the fault it is told to.
import { appendFileSync, readFileSync } from 'node:fs';
import { currentTask } from 'concurrent-futures';

export async function chaosTask(i, fault, dir) {
  switch (fault) {
    case 'throw':
      throw Object.assign(new RangeError(`task ${i} failed`), { index: i });
    case 'throw-falsy':
      throw 0;
    case 'exit':
      process.exit(3);
      break;
    case 'signal':
      process.kill(process.pid, 'SIGKILL');
      break;
    case 'async-throw':
      setTimeout(() => {
        throw new Error(`late ${i}`);
      }, 1);
      return new Promise(() => {});
    case 'rejection':
      void Promise.reject(new Error(`unhandled ${i}`));
      return new Promise(() => {});
    case 'hang':
      while (true) {}
    case 'wait-abort': {
      const { signal } = currentTask();
      await new Promise((resolve) => signal.addEventListener('abort', resolve));
      return 'aborted';
    }
    case 'crash-once': {
      const marker = `${dir}/crash-once-${i}`;
      appendFileSync(marker, 'x');
      if (readFileSync(marker, 'utf8').length === 1) process.exit(4);
      return i * 2;
    }
    case 'payload':
      return new Uint8Array(1024 * 1024).fill(i % 251);
    default:
      return i * 2;
  }
}
