// Map a function over a big lazy generator in chunks, with a progress bar.
//
//   npm run build && node examples/map-progress.mjs
import { ProcessPoolExecutor } from 'concurrent-futures';

const TOTAL = 100_000;
const CHUNKSIZE = 1_000; // items per message to a worker
const BUFFERSIZE = 4_000; // items in flight at most: the input is read lazily

const group = (n) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

// The generator counts what map has read from it, to show that map reads
// ahead only as far as `buffersize` allows.
let produced = 0;
function* numbers() {
  for (let i = 0; i < TOTAL; i++) {
    produced++;
    yield i;
  }
}

const digitSum = (n) => {
  let sum = 0;
  for (; n > 0; n = Math.floor(n / 10)) sum += n % 10;
  return sum;
};

function bar(done) {
  const width = 20;
  const filled = Math.round((done / TOTAL) * width);
  const percent = String(Math.round((done / TOTAL) * 100)).padStart(3);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${percent}% ${group(done)}/${group(TOTAL)}`;
}

const pool = new ProcessPoolExecutor({ maxWorkers: 2 });
try {
  console.log(
    `digit sums of 0..${group(TOTAL - 1)} on ${pool.maxWorkers} workers, chunks of ${group(CHUNKSIZE)}`,
  );
  let done = 0;
  let total = 0;
  let maxAhead = 0;
  // Results stream in input order as chunks complete.
  for await (const value of pool.map(digitSum, numbers(), {
    chunksize: CHUNKSIZE,
    buffersize: BUFFERSIZE,
  })) {
    done++;
    total += value;
    maxAhead = Math.max(maxAhead, produced - done);
    // Redraw in place on a terminal; one line per 10% into a pipe or a file.
    if (process.stdout.isTTY) {
      if (done % CHUNKSIZE === 0) process.stdout.write(`\r${bar(done)}`);
    } else if (done % (TOTAL / 10) === 0) {
      console.log(bar(done));
    }
  }
  if (process.stdout.isTTY) process.stdout.write('\n');
  console.log(`sum of all digit sums: ${total}`);
  console.log(
    `read ahead of the consumer: at most ${maxAhead} items (bound: buffersize + chunksize = ${BUFFERSIZE + CHUNKSIZE})`,
  );

  // An endless input works too: leaving the loop cancels what is in flight
  // and closes the generator (its `finally` runs).
  let closed = false;
  function* naturals() {
    try {
      for (let n = 0; ; n++) yield n;
    } finally {
      closed = true;
    }
  }
  const firstSquares = [];
  for await (const square of pool.map((n) => n * n, naturals(), { chunksize: 10 })) {
    firstSquares.push(square);
    if (firstSquares.length === 5) break;
  }
  console.log(
    `first squares of an endless generator: ${firstSquares.join(', ')} (generator closed: ${closed})`,
  );
} finally {
  await pool.shutdown();
}
console.log(`done: ${group(TOTAL)} items mapped`);
