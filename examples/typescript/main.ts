// Typed task() references to a TypeScript module, run on worker processes.
//
//   npm run build && node --import tsx examples/typescript/main.ts
import { fileURLToPath } from 'node:url';
import { type Future, ProcessPoolExecutor, task } from 'concurrent-futures';
import type * as geometry from './geometry.ts';

const moduleUrl = new URL('./geometry.ts', import.meta.url);
// The type argument carries the function's type: submit() checks the
// arguments against it and infers the result.
const area = task<typeof geometry.area>(moduleUrl, 'area');
const totalArea = task<typeof geometry.totalArea>(moduleUrl, 'totalArea');

{
  // `await using` shuts the pool down at the end of the block.
  await using pool = new ProcessPoolExecutor({ maxWorkers: 2 });

  const future: Future<number> = pool.submit(area, [{ width: 3, height: 4 }]);
  console.log(`area of 3 x 4: ${await future}`);

  const rects: geometry.Rect[] = Array.from({ length: 100 }, (_, i) => ({ width: i, height: 2 }));
  // An async task function: the future resolves with its awaited value.
  const total: number = await pool.submit(totalArea, [rects]);
  console.log(`total area of 100 rectangles: ${total}`);

  // map() infers the element type too: number[] here.
  const squares: number[] = await pool.map(
    area,
    [1, 2, 3, 4, 5].map((n) => ({ width: n, height: n })),
  );
  console.log(`areas of squares 1..5: ${squares.join(', ')}`);
}

{
  // Without a loader the workers cannot import a .ts module: the future
  // fails with a TypeError that says what to add; nothing else breaks.
  await using bare = new ProcessPoolExecutor({ maxWorkers: 1, execArgv: [] });
  try {
    await bare.submit(area, [{ width: 1, height: 1 }]);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    const firstSentence = error.message
      .replace(fileURLToPath(moduleUrl), 'geometry.ts')
      .split('. ')[0];
    console.log(`without a loader: ${error.name}: ${firstSentence}`);
  }
}

console.log('done: TypeScript tasks ran in worker processes');
