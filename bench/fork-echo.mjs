// The bare-fork floor's child: answers every IPC message with itself.
// Started by child_process.fork with `serialization: 'advanced'`, the same
// channel ProcessPoolExecutor uses, minus any pool logic.
// A Uint8Array (the payload workload) is answered as the pools' task
// answers it: `[length, checksum, copy]` (bench/tasks.mjs `echo`).
process.on('message', (message) => {
  if (!(message instanceof Uint8Array)) {
    process.send(message);
    return;
  }
  let sum = 0;
  for (let i = 0; i < message.length; i += 4096) sum = (sum + message[i]) | 0;
  process.send([message.length, sum, message.slice()]);
});
