/**
 * `DispatcherWithSend`: a dispatcher whose `send()` buffers everything. Python:
 * `asyncore.dispatcher_with_send`.
 *
 * @module
 */
import { type BytesLike, toBuffer } from "../address.js";
import { kChannel, selfReportingPredicates } from "./_symbols.js";
import { Dispatcher } from "./dispatcher.js";

/** Python sends at most this much per `initiate_send()`. */
const SEND_SLICE = 65536;

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
  #out: Buffer[] | undefined;
  #outHead = 0;
  #outSize = 0;

  /** Bytes buffered and not yet taken by the socket. */
  get outBufferSize(): number {
    return this.#outSize;
  }

  /** Hand buffered bytes to the socket while it takes them. Python: `initiate_send()`. */
  initiateSend(): void {
    const out = this.#out;
    if (out === undefined) return;
    while (this.#outSize > 0) {
      const head = out[this.#outHead]!;
      const slice = head.length > SEND_SLICE ? head.subarray(0, SEND_SLICE) : head;
      const sent = super.send(slice);
      if (sent === 0) break;
      this.#outSize -= sent;
      if (sent === head.length) {
        out[this.#outHead++] = undefined as unknown as Buffer;
        if (this.#outHead === out.length) {
          out.length = 0;
          this.#outHead = 0;
        }
      } else {
        out[this.#outHead] = head.subarray(sent);
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
    return !this.connected || this.#outSize > 0;
  }

  /** Buffer all of `data` and start sending; returns its length. */
  override send(data: BytesLike): number {
    const buf = toBuffer(data);
    if (this.debug) this.logInfo(`sending ${JSON.stringify(buf.toString("latin1"))}`);
    if (buf.length === 0) return 0;
    (this.#out ??= []).push(buf);
    this.#outSize += buf.length;
    this.initiateSend();
    this[kChannel].scheduler?.mark(this);
    return buf.length;
  }

  override close(): void {
    super.close();
    this.#out = undefined;
    this.#outHead = 0;
    this.#outSize = 0;
  }
}

selfReportingPredicates.add(DispatcherWithSend.prototype.writable);
