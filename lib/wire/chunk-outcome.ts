/**
 * The outcome of one chunk of a `map`, on both sides of the boundary.
 *
 * A chunk runs `fn(item)` for each of its items and stops at the first
 * item that throws. Its values travel as they are; what the failing item
 * threw travels encoded (error-codec.ts) and is rebuilt in the parent, so
 * that the map's iteration rejects with an error of the right class.
 */
import { decodeError, type EncodedError, encodeError, isEncodedCancelAll } from './error-codec.js';

/**
 * What one chunk produced: the values of its items in order, up to the first
 * item that threw (then `failed` is set and `error` holds what it threw).
 */
export interface ChunkOutcome<R> {
  values: R[];
  failed: boolean;
  error?: unknown;
}

/** A ChunkOutcome as it crosses the channel: the error encoded. */
export interface EncodedChunkOutcome {
  values: unknown[];
  failed: boolean;
  error?: EncodedError;
}

/** Worker side: a chunk that stopped at an item that threw `thrown`. */
export function failedChunk(values: unknown[], thrown: unknown): EncodedChunkOutcome {
  return { values, failed: true, error: encodeError(thrown) };
}

/** Worker side: `true` when the chunk stopped at a CancelAll (decided as the parent will). */
export function chunkThrewCancelAll(outcome: EncodedChunkOutcome): boolean {
  return isEncodedCancelAll(outcome.error);
}

/** Parent side: the outcome with its error rebuilt. Never throws. */
export function decodeChunkOutcome(encoded: EncodedChunkOutcome): ChunkOutcome<unknown> {
  const outcome: ChunkOutcome<unknown> = { values: encoded.values, failed: encoded.failed };
  if (encoded.failed && encoded.error !== undefined) outcome.error = decodeError(encoded.error);
  return outcome;
}
