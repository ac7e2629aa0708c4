/**
 * `DispatcherWithSend`: a dispatcher whose `send()` buffers everything. Python:
 * `asyncore.dispatcher_with_send`.
 *
 * @module
 */
import { type BytesLike, toBuffer } from "../address.js";
import { kChannel, selfReportingPredicates } from "./_symbols.js";
import { Dispatcher } from "./dispatcher.js";

/** Buffered output: chunks from `head` on, `size` bytes in all. */
interface Output {
  chunks: Buffer[];
  head: number;
  size: number;
}

/**
 * A dispatcher with a buffered write path: `send()` keeps what the socket cannot take yet and
 * sends it as the socket drains. The buffer is a queue of chunks, never re-concatenated.
 *
 * @example
 * ```ts
 * class Echo extends DispatcherWithSend {
 *   handleRead() { const data = this.recv(65536); if (data.length) this.send(data); }
 * }
 * ```
 */
export class DispatcherWithSend extends Dispatcher {
  /** Made at the first `send()`: a dispatcher that never sends holds none. */
  #out: Output | undefined;

  /** Bytes buffered and not yet taken by the socket. */
  get outBufferSize(): number {
    return this.#out?.size ?? 0;
  }

  /** Hand buffered bytes to the socket while it takes them. Python: `initiate_send()`. */
  initiateSend(): void {
    const out = this.#out;
    if (out === undefined) return;
    const chunks = out.chunks;
    while (out.size > 0) {
      const head = chunks[out.head]!;
      const sent = super.send(head);
      if (sent === 0) break;
      out.size -= sent;
      if (sent === head.length) {
        chunks[out.head++] = undefined as unknown as Buffer;
        if (out.head === chunks.length) {
          // pop() rather than `length = 0`, a runtime call: one step per chunk queued.
          while (chunks.length > 0) chunks.pop();
          out.head = 0;
        }
      } else {
        // The socket took part: it is full, and another send() now would take nothing.
        chunks[out.head] = head.subarray(sent);
        break;
      }
      if (!this.connected) break;
    }
  }

  /** Send more of the buffer: calls {@link initiateSend}. Python: `handle_write()`. */
  override handleWrite(): void {
    this.initiateSend();
  }

  /** True while not connected or while data is buffered. */
  override writable(): boolean {
    return !this.connected || (this.#out !== undefined && this.#out.size > 0);
  }

  /** Buffer all of `data` and start sending; returns its length. */
  override send(data: BytesLike): number {
    let buf = toBuffer(data);
    if (this.debug) this.logInfo(`sending ${JSON.stringify(buf.toString("latin1"))}`);
    if (buf.length === 0) return 0;
    const length = buf.length;
    const out = (this.#out ??= { chunks: [], head: 0, size: 0 });
    // Nothing waits before it: straight to the socket, and only what it leaves is queued (a
    // socket that took part of it is full: no second send now).
    const direct = out.size === 0 && this.connected;
    if (direct) {
      const sent = super.send(buf);
      if (sent === length || !this.connected) return length;
      buf = buf.subarray(sent);
    }
    out.chunks.push(buf);
    out.size += buf.length;
    if (!direct) this.initiateSend();
    this[kChannel].scheduler?.mark(this);
    return length;
  }

  override close(): void {
    super.close();
    this.#out = undefined;
  }
}

selfReportingPredicates.add(DispatcherWithSend.prototype.writable);
