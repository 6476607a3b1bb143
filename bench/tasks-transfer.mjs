// payload-transfer, our module flavour: returns the bytes it got, moved
// back to the caller (ThreadPoolExecutor) instead of cloned. Kept out of
// tasks.mjs so that the other contestants do not import this package.
import { transfer } from 'concurrent-futures';

export function echoMove(bytes) {
  return transfer(bytes, [bytes.buffer]);
}
