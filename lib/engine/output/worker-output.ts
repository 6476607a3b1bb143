/**
 * One worker's stdout and stderr with `stdio: 'capture'` or `'pipe'`: split
 * at the task markers (output.ts), then kept with the task that wrote it
 * (capture), handed to the executor's streams (pipe), and published as
 * `output` events. Output written between tasks, or after its task was
 * already settled, goes on to the parent's own stdout/stderr in capture
 * mode, so nothing is lost.
 */
import type { PoolEventHub } from '../events.js';
import { OutputDemux } from './output.js';
import type { Task } from './records.js';

type Stream = 'stdout' | 'stderr';

export interface WorkerOutputOptions {
  nonce: string;
  mode: 'capture' | 'pipe';
  pid: number | undefined;
  hub: PoolEventHub;
  /** The task with this id whose output is being captured, if any. */
  lookup: (id: number) => Task | undefined;
  /** Both end markers of a captured task arrived. */
  complete: (task: Task) => void;
  /** `stdio: 'pipe'`: every chunk; `null` once a stream ended. */
  pipe: ((pid: number | undefined, stream: Stream, chunk: Buffer | null) => void) | undefined;
}

export class WorkerOutput {
  readonly #o: WorkerOutputOptions;
  readonly #demux: Record<Stream, OutputDemux>;

  constructor(options: WorkerOutputOptions) {
    this.#o = options;
    this.#demux = { stdout: this.#split('stdout'), stderr: this.#split('stderr') };
  }

  push(stream: Stream, chunk: Buffer): void {
    this.#demux[stream].push(chunk);
  }

  /** The worker's streams closed. */
  finish(): void {
    this.#demux.stdout.finish();
    this.#demux.stderr.finish();
    this.#o.pipe?.(this.#o.pid, 'stdout', null);
    this.#o.pipe?.(this.#o.pid, 'stderr', null);
  }

  #split(stream: Stream): OutputDemux {
    return new OutputDemux(this.#o.nonce, {
      data: (taskId, chunk) => this.#data(stream, taskId, chunk),
      end: (taskId) => {
        const task = this.#o.lookup(taskId);
        if (task?.capture === undefined) return;
        task.capture.ends++;
        if (task.capture.ends >= 2) this.#o.complete(task);
      },
    });
  }

  #data(stream: Stream, taskId: number | undefined, chunk: Buffer): void {
    const { hub, mode } = this.#o;
    if (hub.wants('output')) {
      hub.emit('output', { pid: this.#o.pid, taskId, stream, chunk: Buffer.from(chunk) });
    }
    if (mode === 'pipe') {
      this.#o.pipe?.(this.#o.pid, stream, chunk);
      return;
    }
    const task = taskId === undefined ? undefined : this.#o.lookup(taskId);
    if (task?.capture !== undefined && !task.future.done()) {
      task.capture.add(stream, chunk);
      return;
    }
    (stream === 'stdout' ? process.stdout : process.stderr).write(chunk);
  }
}
