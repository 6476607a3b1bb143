/**
 * The task markers: how the parent tells which task wrote what on a
 * worker's stdout and stderr (`stdio: 'capture'` and `'pipe'`).
 *
 * A worker's stdout and stderr are byte streams, apart from the channel
 * that carries results, and anything may write to them: console.log, a
 * native addon, a subprocess that inherited them. So the worker writes a
 * marker into both streams as each task starts and ends, and the parent
 * splits the streams at the markers (engine/output/demux.ts):
 *
 *   ...stray... ⟨start 7⟩ output of task 7 ⟨end 7⟩ ...stray... ⟨start 8⟩ ...
 *
 * A marker is an OSC escape sequence (ESC ] ... BEL) with a per-executor
 * nonce, so it cannot be forged by accident and, should one ever reach a
 * terminal, the terminal ignores it.
 */

/**
 * Makes the nonce that keys the markers of one executor. Web Crypto's
 * global, not `node:crypto`: Node loads it on first use, so an executor
 * without captured or piped output never pays for it (and neither does
 * importing the package).
 */
export function makeNonce(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(6))).toString('hex');
}

/** What every marker of `nonce` starts with; the edge letter, the task id and BEL follow. */
export function markerPrefix(nonce: string): string {
  return `\u001b]9999;cf-${nonce};`;
}

/** The marker text for the start (`s`) or end (`e`) of task `id`. */
export function marker(nonce: string, edge: 's' | 'e', id: number): string {
  return `${markerPrefix(nonce)}${edge}${id}\u0007`;
}

/** A regular expression matching every marker of `nonce` (to strip them from crash reports). */
export function markerPattern(nonce: string): RegExp {
  return new RegExp(`\\u001b\\]9999;cf-${nonce};[se]\\d+\\u0007`, 'g');
}

/** The most digits a task id in a marker has (ids are safe integers). */
export const MAX_ID_DIGITS = 16;
