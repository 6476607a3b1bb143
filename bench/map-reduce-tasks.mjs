// Task code of the map-reduce section of `npm run bench` (bench/map-reduce.ts):
// a deliberately unbalanced tree whose nodes cost some CPU each.

/** A node is the size of its subtree; 95% of the rest goes to the first child. */
export function children(size) {
  const rest = size - 1;
  if (rest <= 0) return [];
  const big = Math.ceil(rest * 0.95);
  return rest - big > 0 ? [big, rest - big] : [big];
}

/** CPU work per node (a few microseconds), returning 1 so that the sum counts nodes. */
export function map(size) {
  let x = size;
  for (let i = 0; i < 400; i++) x = (x * 1103515245 + 12345) % 2147483648;
  return x >= 0 ? 1 : 0;
}

export function reduce(a, b) {
  return a + b;
}

/** The naive contestant's task: the whole subtree under `root`, serially. */
export function subtree(root) {
  let total = 0;
  const stack = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    total = reduce(total, map(node));
    for (const child of children(node)) stack.push(child);
  }
  return total;
}
