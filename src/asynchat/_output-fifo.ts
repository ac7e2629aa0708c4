/**
 * The outgoing queue of an `AsyncChat`: CPython's `producer_fifo` deque, as an array with a
 * moving head so that taking from the front costs O(1) and nothing is copied.
 *
 * @module
 * @internal
 */
// Imported: the global `Buffer` is a getter, paid on every access, and this is on every push.
import { Buffer } from "node:buffer";
import type { Producer } from "./producer.js";

/** One queued entry: bytes, a producer to pull from, or `null` (close once reached). */
export type OutputEntry = Buffer | Producer | null;

/** Compact the backing array once this many taken slots lead it and they are over half of it. */
const COMPACT_AFTER = 1024;

/**
 * A first-in first-out queue of {@link OutputEntry}. Also counts the bytes of its `Buffer`
 * entries, so that a channel can say how much output waits without walking the queue.
 *
 * @internal
 */
export class OutputFifo {
  #items: OutputEntry[] = [];
  #head = 0;
  #bytes = 0;

  /** Entries queued. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Bytes of the queued `Buffer` entries (producers count as 0 until pulled). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Append at the back. */
  push(entry: OutputEntry): void {
    this.#items.push(entry);
    if (Buffer.isBuffer(entry)) this.#bytes += entry.length;
  }

  /** The front entry; `undefined` when empty. */
  peek(): OutputEntry | undefined {
    return this.#head < this.#items.length ? this.#items[this.#head] : undefined;
  }

  /** Remove the front entry (no-op when empty). */
  shift(): void {
    const items = this.#items;
    if (this.#head >= items.length) return;
    const entry = items[this.#head];
    if (Buffer.isBuffer(entry)) this.#bytes -= entry.length;
    items[this.#head++] = null;
    if (this.#head === items.length) {
      // Emptied: every slot is null. pop() is much cheaper than `length = 0` (a runtime call)
      // and costs one step per entry pushed.
      while (items.length > 0) items.pop();
      this.#head = 0;
    } else if (this.#head > COMPACT_AFTER && this.#head * 2 > items.length) {
      this.#items = items.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Drop everything. */
  clear(): void {
    this.#items = [];
    this.#head = 0;
    this.#bytes = 0;
  }
}
