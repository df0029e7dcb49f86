// The bounded queue between emit() and the delivery loop. JavaScript runs one call at a time on the event loop,
// so the bound is exact and no lock is needed; push and take are O(1) amortised (a head index, compacted now and then).
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
  private items: (QueuedEvent | undefined)[] = [];
  private head = 0;

  constructor(
    readonly capacity: number,
    readonly batchSize: number,
  ) {}

  get length(): number {
    return this.items.length - this.head;
  }

  /** False (and nothing kept) when the queue is at capacity: emit() never waits for room. */
  push(item: QueuedEvent): boolean {
    if (this.items.length - this.head >= this.capacity) return false;
    this.items.push(item);
    return true;
  }

  /** Up to `count` of the oldest events. */
  take(count: number): QueuedEvent[] {
    const end = Math.min(this.items.length, this.head + count);
    const batch = this.items.slice(this.head, end) as QueuedEvent[];
    this.items.fill(undefined, this.head, end);
    this.head = end;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return batch;
  }

  /** Everything queued, removed (for drops when killed). */
  clear(): number {
    const dropped = this.length;
    this.items = [];
    this.head = 0;
    return dropped;
  }
}
