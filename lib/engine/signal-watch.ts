/**
 * The AbortSignals of the tasks of one executor, watched with one 'abort'
 * listener per signal, however many tasks share it.
 *
 * A signal shared by a whole batch of submits is the normal case, and an
 * EventTarget warns (`MaxListenersExceededWarning`) past 10 listeners for
 * one event: a listener per task would print that warning for any batch of
 * 11. So the executor listens once per signal and keeps the tasks that share
 * it in a set; the listener goes away with the last of them (a task leaves
 * the set when it settles), so nothing stays attached to a long-lived
 * signal once its tasks are done.
 */

interface Watched<T> {
  readonly items: Set<T>;
  readonly listener: () => void;
}

export class SignalWatch<T> {
  readonly #watched = new Map<AbortSignal, Watched<T>>();
  readonly #onAbort: (item: T, reason: unknown) => void;

  /** `onAbort(item, reason)` runs for each item still watched when its signal aborts, in the order they were added. */
  constructor(onAbort: (item: T, reason: unknown) => void) {
    this.#onAbort = onAbort;
  }

  /** Watches `signal` for `item` (the signal is not aborted yet). */
  add(signal: AbortSignal, item: T): void {
    const watched = this.#watched.get(signal);
    if (watched !== undefined) {
      watched.items.add(item);
      return;
    }
    const items = new Set<T>([item]);
    const listener = (): void => {
      this.#watched.delete(signal);
      // A snapshot: stopping one task may settle (and remove) others.
      for (const each of [...items]) this.#onAbort(each, signal.reason);
    };
    this.#watched.set(signal, { items, listener });
    signal.addEventListener('abort', listener, { once: true });
  }

  /** Stops watching `signal` for `item`; the listener goes with the signal's last item. */
  remove(signal: AbortSignal, item: T): void {
    const watched = this.#watched.get(signal);
    if (watched === undefined || !watched.items.delete(item)) return;
    if (watched.items.size > 0) return;
    this.#watched.delete(signal);
    signal.removeEventListener('abort', watched.listener);
  }

  /** How many signals are watched (for tests and debugging). */
  get size(): number {
    return this.#watched.size;
  }
}
