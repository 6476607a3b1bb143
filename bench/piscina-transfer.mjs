// payload-transfer, piscina: returns the bytes it got, moved back with
// Piscina.move (piscina's transfer list).
import { move } from 'piscina';

export default function echoMove(bytes) {
  return move(bytes);
}
