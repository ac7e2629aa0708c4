/**
 * Producers: sources of outgoing data that `AsyncChat.pushWithProducer` pulls from.
 *
 * @module
 */
import { type BytesLike, toBuffer } from "../address.js";
import { invalidArgValue } from "../errors.js";

/**
 * A source of outgoing data, asked for more each time the channel can send. An empty result
 * (zero bytes or `""`) means the producer is exhausted; it is not asked again.
 * Python: asynchat's producer protocol (any object with a `more()` method).
 *
 * @example
 * ```ts
 * let left = 3;
 * const countdown: Producer = { more: () => (left > 0 ? `${left--}\n` : "") };
 * ```
 */
export interface Producer {
  /** The next piece of data, or an empty result once there is no more. */
  more(): Uint8Array | string;
}

/**
 * A producer that hands out `data` in pieces of `bufferSize` bytes, then the rest, then empty
 * Buffers forever. Pieces are views of `data` (no copying; a string is UTF-8 encoded once), so
 * the data must not be modified while it is being produced.
 * Python: `asynchat.simple_producer`.
 *
 * @example
 * ```ts
 * const p = new SimpleProducer("hello world", 4);
 * p.more(); // <Buffer "hell">
 * p.more(); // <Buffer "o wo">
 * p.more(); // <Buffer "rld">
 * p.more(); // <Buffer > (exhausted)
 * ```
 */
export class SimpleProducer implements Producer {
  #data: Buffer;
  #offset = 0;
  readonly #bufferSize: number;

  /**
   * @param data - What to produce.
   * @param bufferSize - The size of each piece but the last (default 512).
   * @throws TypeError `ERR_INVALID_ARG_TYPE` when `data` is not bytes or a string.
   * @throws RangeError `ERR_INVALID_ARG_VALUE` when `bufferSize` is not a positive integer.
   */
  constructor(data: BytesLike, bufferSize = 512) {
    if (!Number.isSafeInteger(bufferSize) || bufferSize <= 0) {
      throw invalidArgValue(
        `Cannot create producer: buffer size must be a positive integer, got ${bufferSize}`,
      );
    }
    this.#data = toBuffer(data);
    this.#bufferSize = bufferSize;
  }

  /**
   * The next piece: `bufferSize` bytes while more than that are left, else all that is left
   * (an empty Buffer once exhausted). Python: `simple_producer.more`.
   */
  more(): Buffer {
    const left = this.#data.length - this.#offset;
    if (left > this.#bufferSize) {
      const piece = this.#data.subarray(this.#offset, this.#offset + this.#bufferSize);
      this.#offset += this.#bufferSize;
      return piece;
    }
    const rest = this.#data.subarray(this.#offset);
    this.#data = Buffer.alloc(0);
    this.#offset = 0;
    return rest;
  }
}
