// The bounded queue between emit() and the delivery loop. JavaScript runs one call at a time on the event loop,
// so the bound is exact and no lock is needed. A fixed ring: push is O(1) and allocates nothing.
import type { TimeLike } from "./envelope.js";
import type { TraceLike } from "./shared.js";

/** What emit() captures now; the envelope (id, RFC 3339 time, JSON) is built later, off the caller's path. */
export class QueuedEvent {
  constructor(
    readonly enqueued: number, // monotonic seconds: for MAX_AGE
    readonly wall: number, // Date.now(): the event time unless one was given
    readonly type: string,
    readonly data: Record<string, unknown> | undefined,
    readonly subject: string | undefined,
    readonly id: string | undefined,
    readonly time: TimeLike | undefined,
    readonly trace: TraceLike | string | undefined,
    readonly source: string | undefined,
    readonly extensions: Readonly<Record<string, unknown>> | undefined,
  ) {}
}

export class EventQueue {
  // A ring of `capacity` slots, allocated once: push and take never grow, copy or compact the storage.
  private readonly slots: (QueuedEvent | undefined)[];
  private head = 0; // the oldest event
  private size = 0;

  constructor(
    readonly capacity: number,
    readonly batchSize: number,
  ) {
    this.slots = new Array<QueuedEvent | undefined>(capacity).fill(undefined);
  }

  get length(): number {
    return this.size;
  }

  /** False (and nothing kept) when the queue is at capacity: emit() never waits for room. */
  push(item: QueuedEvent): boolean {
    if (this.size >= this.capacity) return false;
    let tail = this.head + this.size;
    if (tail >= this.capacity) tail -= this.capacity;
    this.slots[tail] = item;
    this.size += 1;
    return true;
  }

  /** Up to `count` of the oldest events. */
  take(count: number): QueuedEvent[] {
    const n = Math.min(count, this.size);
    const batch = new Array<QueuedEvent>(n);
    let at = this.head;
    for (let i = 0; i < n; i++) {
      batch[i] = this.slots[at] as QueuedEvent;
      this.slots[at] = undefined; // the loop owns it now; the ring must not keep it alive
      at = at + 1 === this.capacity ? 0 : at + 1;
    }
    this.head = this.size === n ? 0 : at;
    this.size -= n;
    return batch;
  }

  /** Everything queued, removed (for drops when killed). */
  clear(): number {
    const dropped = this.size;
    this.take(dropped);
    return dropped;
  }
}
