/**
 * The engine's queue of tasks waiting for a worker: a deque over an array
 * with a moving head, so that taking a task, putting one back at the front
 * and counting are O(1), and the array is compacted only when that pays for
 * itself (amortised O(1) per task, whatever the queue's length).
 *
 * A task cancelled while it waits stays in the array until it reaches the
 * head or a compaction drops it; `live` counts only the tasks still to run,
 * which is what `maxQueued` bounds.
 */

/** What the queue needs to know about an entry. */
export interface Queued {
  /** Set by `markDead` once the entry no longer needs running. */
  deadInQueue: boolean;
}

/** Compact once this many consumed or dead slots accumulate, and they are at least half. */
const COMPACT_AT = 1024;

export class TaskQueue<T extends Queued> {
  #items: T[] = [];
  #head = 0;
  #dead = 0;

  /** Entries in the queue, dead ones included. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Entries still to run. */
  get live(): number {
    return this.#items.length - this.#head - this.#dead;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** Puts an entry back at the front (a task whose worker went away). */
  unshift(item: T): void {
    if (this.#head > 0) this.#items[--this.#head] = item;
    else this.#items.unshift(item);
  }

  /** The entry `index` places behind the head (0: the head), dead or not. */
  at(index: number): T | undefined {
    return this.#items[this.#head + index];
  }

  /** Inserts an entry `index` places behind the head (0: a new head). O(distance from the head). */
  insert(index: number, item: T): void {
    if (index <= 0) this.unshift(item);
    else this.#items.splice(this.#head + index, 0, item);
  }

  /** Takes the entry at the head, dead or not. */
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head]!;
    (this.#items as Array<T | undefined>)[this.#head] = undefined;
    this.#head++;
    if (item.deadInQueue) {
      item.deadInQueue = false;
      this.#dead--;
    }
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= COMPACT_AT && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /**
   * Records that a queued entry no longer needs running (it was cancelled);
   * the caller has already let go of it. Dead entries are dropped once they
   * are at least half the queue, so mass cancellation frees its memory.
   */
  markDead(item: T): void {
    if (item.deadInQueue) return;
    item.deadInQueue = true;
    this.#dead++;
    if (this.#dead >= COMPACT_AT && this.#dead * 2 >= this.size) this.dropDead();
  }

  /** Removes every dead entry now. */
  dropDead(): void {
    if (this.#dead === 0) return;
    const kept: T[] = [];
    for (let i = this.#head; i < this.#items.length; i++) {
      const item = this.#items[i]!;
      if (item.deadInQueue) item.deadInQueue = false;
      else kept.push(item);
    }
    this.#items = kept;
    this.#head = 0;
    this.#dead = 0;
  }

  /** Removes and returns every entry, dead ones included. */
  drain(): T[] {
    const all = this.#items.slice(this.#head);
    for (const item of all) item.deadInQueue = false;
    this.#items = [];
    this.#head = 0;
    this.#dead = 0;
    return all;
  }

  /** The entries from head to tail, dead ones included; a snapshot, safe to mutate the queue meanwhile. */
  snapshot(): T[] {
    return this.#items.slice(this.#head);
  }
}
