// The bare-fork floor's child as a CommonJS script (bench contestant
// `bare-fork-cjs`): the same as fork-echo.mjs without the ES module loader
// (~3-7 ms of a fresh process's start), which our worker bundle, a
// CommonJS file, does not pay either.
process.on('message', (message) => {
  if (!(message instanceof Uint8Array)) {
    process.send(message);
    return;
  }
  let sum = 0;
  for (let i = 0; i < message.length; i += 4096) sum = (sum + message[i]) | 0;
  process.send([message.length, sum, message.slice()]);
});
