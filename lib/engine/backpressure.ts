/**
 * Backpressure: callers waiting for the queue to shrink below a bound
 * (`whenQueueBelow()`, and `map` under `maxQueued`), woken as tasks leave
 * the queue. A broken executor wakes everyone: its queue is failed, and
 * their next submit fails at once.
 */

interface Waiter {
  readonly limit: number;
  readonly resolve: () => void;
}

export class Backpressure {
  #waiters: Waiter[] = [];

  /** Resolves once fewer than `limit` tasks are queued (at once if `queued` already is). */
  whenBelow(limit: number, queued: number): Promise<void> {
    if (queued < limit) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ limit, resolve }));
  }

  /** Wakes the waiters whose bound `queued` is below. */
  notify(queued: number): void {
    if (this.#waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const waiter of this.#waiters) {
      if (queued < waiter.limit) waiter.resolve();
      else still.push(waiter);
    }
    this.#waiters = still;
  }
}
