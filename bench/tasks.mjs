// Worker-side task functions shared by every Node contestant that needs a
// module: ours (`task(url, name)`), piscina (`filename` + `name`) and the
// workerpool worker script. Plain ESM so no build step is involved.

/** tiny: does nothing. */
export function noop() {}

/** map-chunked: the trivial per-item function. */
export function double(x) {
  return x * 2;
}

/** startup: the first result. */
export function inc(x) {
  return x + 1;
}

/** cpu: recursive Fibonacci, deliberately naive. */
export function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

/**
 * payload: returns `[length, checksum, copy]` of the bytes it got: a buffer
 * nested in the result, as users return them (the checksum samples every
 * 4,096th byte, so that the task reads its input without costing much).
 */
export function echo(bytes) {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 4096) sum = (sum + bytes[i]) | 0;
  return [bytes.length, sum, bytes.slice()];
}
