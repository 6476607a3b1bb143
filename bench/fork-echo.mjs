// The bare-fork floor's child: answers every IPC message with itself.
// Started by child_process.fork with `serialization: 'advanced'`, the same
// channel ProcessPoolExecutor uses, minus any pool logic.
process.on('message', (message) => {
  process.send(message);
});
