// Task functions of the distributed benchmark (bench/distributed.ts), for our
// worker nodes (--root bench) and the bare BullMQ worker alike.

/** tiny: does nothing. */
export function noop() {}

/** map: the trivial per-item function. */
export function double(x) {
  return x * 2;
}

/** scaling: waits 20 ms, like a task that mostly waits on I/O. */
export function wait20() {
  return new Promise((resolve) => setTimeout(resolve, 20));
}
