/**
 * `AsyncChat`: a dispatcher that frames its input at a terminator and queues its output.
 * Python: `asynchat.async_chat`.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type * as net from "node:net";
import { type BytesLike, toBuffer } from "../address.js";
import { kChannel, selfReportingPredicates } from "../asyncore/_symbols.js";
import { Dispatcher } from "../asyncore/dispatcher.js";
import type { SocketMap } from "../asyncore/socket-map.js";
import { codedError, codes, hasCode, invalidArgType, invalidArgValue, LimitOverrunError } from "../errors.js";
import { OutputFifo } from "./_output-fifo.js";
import type { Producer } from "./producer.js";
import { type TerminatorInput, TerminatorScanner } from "./terminator-scanner.js";

const EMPTY = Buffer.alloc(0);

/**
 * A channel for line- or length-framed protocols. Input: each read (`recv(acInBufferSize)`) is
 * split at the current terminator; the bytes before it go to {@link collectIncomingData} and
 * {@link foundTerminator} runs when it is seen — the same calls, in the same order, as
 * CPython 3.11's asynchat for the same bytes however they are split into reads, in time linear
 * in the bytes. Output: {@link push} and {@link pushWithProducer} queue data that is sent as
 * the socket takes it, one send of at most `acOutBufferSize` bytes per {@link initiateSend}.
 *
 * Callbacks run only inside `loop()`/`poll()` over the map holding the channel, from
 * `handleRead()`. Subclasses override `foundTerminator()` (required) and usually
 * `collectIncomingData()` (default: keep the bytes for {@link getData}).
 *
 * `readable()` is always true and `writable()` is true while output is queued or the socket
 * is not connected; both change only through this class's own methods, so the loop needs no
 * periodic re-check of them (a subclass that overrides them gets one).
 *
 * Producers are pulled lazily: only when the socket has taken everything pulled before, so a
 * peer that does not read holds the channel's memory to one piece plus the socket's buffer.
 *
 * Python: `asynchat.async_chat` (`ac_in_buffer_size`, `ac_out_buffer_size`,
 * `set_terminator`, …). The terminator is read from the channel's own state at each step,
 * not through an overridden `getTerminator()`.
 *
 * @example
 * ```ts
 * class LineEcho extends AsyncChat {
 *   constructor(sock: net.Socket) { super(sock); this.setTerminator("\n"); }
 *   override foundTerminator() { this.push(Buffer.concat([this.getData(), Buffer.from("\n")])); }
 * }
 * class Server extends Dispatcher {
 *   override handleAccepted(sock: net.Socket) { new LineEcho(sock); }
 * }
 * const server = new Server();
 * server.createSocket();
 * void server.bind(["127.0.0.1", 0]);
 * const [, port] = (await server.listen(5)) as [string, number];
 * await loop();
 * ```
 */
export class AsyncChat extends Dispatcher {
  /** Bytes asked of the socket per read. Python: `ac_in_buffer_size`. */
  acInBufferSize = 65536;
  /** Bytes sent at most per send; larger pushes are queued in pieces of this size. Python: `ac_out_buffer_size`. */
  acOutBufferSize = 65536;
  /**
   * Most bytes the default {@link collectIncomingData} keeps for {@link getData} while a bytes
   * terminator is set (default 1 MiB): more, and the terminator has not come within the limit,
   * so it throws a `LimitOverrunError` (`ERR_LIMIT_OVERRUN`) after dropping what it kept; the
   * loop passes it to `handleError`, whose default closes the channel. A byte count bounds its
   * own data, and `null` asks for everything, so neither is limited. Not in Python (unbounded).
   */
  collectLimit = 1024 * 1024;
  readonly #scanner: TerminatorScanner = new TerminatorScanner(this);
  /** Collected chunks since the last getData() (views of received chunks, joined once). */
  #incoming: Buffer[] = [];
  /** Their total length. */
  #incomingBytes = 0;
  /** The terminator is bytes: collectLimit applies. */
  #framed = false;
  #fifo = new OutputFifo();
  /**
   * Bytes at the front of the queue: the unsent rest of a pushed piece or of a producer's piece,
   * or a whole piece pushed while the queue was empty.
   */
  #front: Buffer = EMPTY;

  /**
   * @param sock - A connected socket (e.g. from `handleAccepted`), or nothing to create one later.
   * @param map - The socket map to join (default: the global `socketMap`).
   */
  constructor(sock?: net.Socket, map?: SocketMap) {
    super(sock, map);
  }

  /**
   * Set what ends an input record: bytes (a string is UTF-8 encoded), a byte count, or `null`
   * (no framing: everything goes to `collectIncomingData`). Takes effect at once, also inside
   * `collectIncomingData`/`foundTerminator`: the rest of the current read is scanned for the
   * new terminator. Python: `set_terminator()`.
   *
   * @throws RangeError `ERR_INVALID_ARG_VALUE` for a negative or fractional byte count.
   * @throws TypeError `ERR_INVALID_ARG_TYPE` for any other kind of value.
   */
  setTerminator(term: TerminatorInput): void {
    this.#scanner.setTerminator(term);
    this.#framed = (typeof term === "string" || term instanceof Uint8Array) && term.length > 0;
  }

  /**
   * The current terminator: bytes (a copy), the number of bytes still expected for a byte
   * count (`0` once reached), or `null`. Python: `get_terminator()`.
   */
  getTerminator(): Buffer | number | null {
    return this.#scanner.getTerminator();
  }

  /**
   * Receives the input bytes before a terminator (or all of them without one), possibly in
   * several calls per record. Default: keep them for {@link getData}. The Buffer may be a view
   * of the received chunk; it stays valid. Python: `collect_incoming_data()` (which in Python
   * must be overridden; here it defaults to `_collect_incoming_data`).
   *
   * @throws LimitOverrunError `ERR_LIMIT_OVERRUN` when a bytes terminator is set and more than
   *   `collectLimit` bytes would be kept; what was kept is dropped.
   */
  collectIncomingData(data: Buffer): void {
    if (data.length === 0) return;
    const total = this.#incomingBytes + data.length;
    if (total > this.collectLimit && this.#framed) {
      this.#incoming = [];
      this.#incomingBytes = 0;
      throw new LimitOverrunError(
        `Cannot collect data: no terminator within collectLimit (${this.collectLimit} bytes)`,
        total,
      );
    }
    this.#incoming.push(data);
    this.#incomingBytes = total;
  }

  /**
   * Runs when the terminator has been seen, after the bytes before it went to
   * `collectIncomingData`. A subclass must override it; typically it calls `getData()`, acts,
   * and may set a new terminator. Python: `found_terminator()`.
   *
   * @throws Error `ERR_METHOD_NOT_IMPLEMENTED` unless overridden (it then reaches `handleError`).
   */
  foundTerminator(): void {
    throw codedError(
      codes.METHOD_NOT_IMPLEMENTED,
      `Cannot handle a terminator: ${this.constructor.name} must override foundTerminator()`,
    );
  }

  /**
   * What the default `collectIncomingData` kept since the last call, as one Buffer (empty when
   * nothing), and forget it. Python: `_get_data()`.
   */
  getData(): Buffer {
    const parts = this.#incoming;
    if (parts.length === 0) return EMPTY;
    this.#incoming = [];
    this.#incomingBytes = 0;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /**
   * Read once (`recv(acInBufferSize)`) and scan what arrived; a read that would block does
   * nothing. Python: `handle_read()`.
   *
   * @throws what `recv` or a callback throws, other than `EWOULDBLOCK` (the loop passes it to
   *   `handleError`; bytes not yet scanned stay for the next read).
   */
  override handleRead(): void {
    let data: Buffer;
    try {
      data = this.recv(this.acInBufferSize);
    } catch (err) {
      if (hasCode(err, codes.WOULD_BLOCK)) return;
      throw err;
    }
    // Also at EOF: CPython rescans what it holds (a terminator set in handleClose applies).
    this.#scanner.feed(data);
  }

  /** Send more queued output. Python: `handle_write()`. */
  override handleWrite(): void {
    this.initiateSend();
  }

  /** Default: `close()`. Python: `async_chat.handle_close()`. */
  override handleClose(): void {
    this.close();
  }

  /** Always true. Python: `readable()`. */
  override readable(): boolean {
    return true;
  }

  /** True while output is queued or the socket is not connected. Python: `writable()`. */
  override writable(): boolean {
    return this.#front.length > 0 || this.#fifo.length > 0 || !this.connected;
  }

  /**
   * Queue `data` (in pieces of `acOutBufferSize` bytes) and start sending. The bytes of a
   * Buffer are sent later, not copied: do not change them after. Python: `push()`.
   *
   * @throws TypeError `ERR_INVALID_ARG_TYPE` when `data` is not bytes or a string.
   * @throws RangeError `ERR_INVALID_ARG_VALUE` when `acOutBufferSize` is not a positive integer.
   */
  push(data: BytesLike): void {
    const buf = toBuffer(data);
    const size = this.#outSize();
    if (buf.length > size) {
      for (let i = 0; i < buf.length; i += size) this.#fifo.push(buf.subarray(i, i + size));
    } else if (buf.length > 0) {
      // Onto an empty queue, the piece goes straight to the front, where initiateSend() would
      // move it anyway: the usual push of a reply skips the queue.
      if (this.#front.length === 0 && this.#fifo.length === 0) this.#front = buf;
      else this.#fifo.push(buf);
    }
    this.#changed();
    this.initiateSend();
  }

  /**
   * Queue a producer (or bytes, as CPython allows) and start sending. `producer.more()` is
   * called only when everything it gave before has been taken by the socket; an empty result
   * ends it. Python: `push_with_producer()`.
   *
   * @throws TypeError `ERR_INVALID_ARG_TYPE` when `producer` has no `more()` method and is not bytes.
   */
  pushWithProducer(producer: Producer | BytesLike): void {
    if (typeof producer === "string" || producer instanceof Uint8Array) {
      const buf = toBuffer(producer);
      if (buf.length > 0) this.#fifo.push(buf);
    } else if (producer !== null && typeof producer === "object" && typeof producer.more === "function") {
      this.#fifo.push(producer);
    } else {
      throw invalidArgType("Cannot push producer: expected an object with a more() method, or bytes");
    }
    this.#changed();
    this.initiateSend();
  }

  /**
   * Close the channel (`handleClose()`) once everything queued before this call has been
   * sent. Input keeps being handled until then. Python: `close_when_done()`.
   */
  closeWhenDone(): void {
    this.#fifo.push(null);
    this.#changed();
  }

  /**
   * Send once from the front of the queue if connected: pull a producer when nothing of it is
   * pending, drop exhausted producers, `handleClose()` on reaching a `closeWhenDone()` mark,
   * and give the socket at most `acOutBufferSize` bytes. Python: `initiate_send()`.
   *
   * @throws what a producer's `more()` throws; TypeError `ERR_INVALID_ARG_TYPE` when it returns
   *   something other than bytes or a string.
   */
  initiateSend(): void {
    const fifo = this.#fifo;
    while (this.connected) {
      let data = this.#front;
      if (data.length === 0) {
        if (fifo.length === 0) return;
        const first = fifo.peek()!;
        if (first === null) {
          fifo.shift();
          this.handleClose();
          return;
        }
        if (Buffer.isBuffer(first)) {
          fifo.shift();
          data = first;
        } else {
          data = toBuffer(first.more());
          if (data.length === 0) {
            fifo.shift();
            continue;
          }
        }
        this.#front = data;
      }
      const size = this.#outSize();
      const sent = this.send(data.length > size ? data.subarray(0, size) : data);
      if (sent > 0) this.#front = sent < data.length ? data.subarray(sent) : EMPTY;
      return;
    }
  }

  /**
   * Drop all input not yet handed on, the data kept for `getData()`, and all queued output
   * (producers included). Python: `discard_buffers()` ("emergencies only").
   */
  discardBuffers(): void {
    this.#scanner.discard();
    this.#incoming = [];
    this.#incomingBytes = 0;
    this.#fifo.clear();
    this.#front = EMPTY;
    this.#changed();
  }

  /**
   * Bytes queued and not yet taken by the socket: pushed data and the unsent rest of a
   * producer's last piece (what producers will still produce is not counted).
   */
  get outBufferSize(): number {
    return this.#front.length + this.#fifo.bytes;
  }

  /** Queued output is dropped: a closed channel sends nothing more. */
  override close(): void {
    super.close();
    this.#fifo.clear();
    this.#front = EMPTY;
  }

  #outSize(): number {
    const size = this.acOutBufferSize;
    if (!Number.isSafeInteger(size) || size <= 0) {
      throw invalidArgValue(`Cannot send: acOutBufferSize must be a positive integer, got ${size}`);
    }
    return size;
  }

  /** What writable() returns may have changed: have the next iteration look. */
  #changed(): void {
    this[kChannel].scheduler?.mark(this);
  }
}

selfReportingPredicates.add(AsyncChat.prototype.readable);
selfReportingPredicates.add(AsyncChat.prototype.writable);
