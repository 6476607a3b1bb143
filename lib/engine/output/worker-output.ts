/**
 * One worker's stdout and stderr with `stdio: 'capture'` or `'pipe'`: split
 * at the task markers (demux.ts), then kept with the task that wrote it
 * (capture), handed to the executor's streams (pipe), and published as
 * `output` events. Output written between tasks, or after its task was
 * already settled, goes on to the parent's own stdout/stderr in capture
 * mode, so nothing is lost.
 */
import type { TaskRecord } from '../task-record.js';
import type { Telemetry } from '../telemetry.js';
import { OutputDemux } from './demux.js';
import type { PipedOutput } from './piped.js';

type Stream = 'stdout' | 'stderr';

/** What a worker's output is routed by (the output room). */
export interface OutputRoute {
  readonly nonce: string;
  readonly telemetry: Telemetry;
  /** `stdio: 'pipe'`: the executor's merged streams. */
  readonly piped: PipedOutput | undefined;
  /** The task with this id whose output is being captured, if any. */
  lookup(id: number): TaskRecord | undefined;
  /** Both end markers of a captured task arrived. */
  complete(task: TaskRecord): void;
}

export class WorkerOutput {
  readonly #route: OutputRoute;
  readonly #workerId: number | undefined;
  readonly #demux: Record<Stream, OutputDemux>;

  constructor(route: OutputRoute, workerId: number | undefined) {
    this.#route = route;
    this.#workerId = workerId;
    this.#demux = { stdout: this.#split('stdout'), stderr: this.#split('stderr') };
  }

  push(stream: Stream, chunk: Buffer): void {
    this.#demux[stream].push(chunk);
  }

  /** The worker's streams closed. */
  finish(): void {
    this.#demux.stdout.finish();
    this.#demux.stderr.finish();
    this.#route.piped?.write(this.#workerId, 'stdout', null);
    this.#route.piped?.write(this.#workerId, 'stderr', null);
  }

  #split(stream: Stream): OutputDemux {
    return new OutputDemux(this.#route.nonce, {
      data: (taskId, chunk) => this.#data(stream, taskId, chunk),
      end: (taskId) => {
        const task = this.#route.lookup(taskId);
        if (task?.capture === undefined) return;
        task.capture.ends++;
        if (task.capture.ends >= 2) this.#route.complete(task);
      },
    });
  }

  #data(stream: Stream, taskId: number | undefined, chunk: Buffer): void {
    const route = this.#route;
    route.telemetry.output(this.#workerId, taskId, stream, chunk);
    if (route.piped !== undefined) {
      route.piped.write(this.#workerId, stream, chunk);
      return;
    }
    const task = taskId === undefined ? undefined : route.lookup(taskId);
    if (task?.capture !== undefined && !task.future.done()) {
      task.capture.add(stream, chunk);
      return;
    }
    (stream === 'stdout' ? process.stdout : process.stderr).write(chunk);
  }
}
