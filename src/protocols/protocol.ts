/**
 * The protocol and transport interfaces: asyncio's callback model for byte streams and
 * datagrams.
 *
 * A *protocol* is the code you write: an object whose optional methods the library calls as
 * things happen on a connection. A *transport* is what the library gives you to act on that
 * connection: write, close, pause reading, ask for the peer's address. Neither ever sees a
 * socket; the transport core underneath does.
 *
 * Stream protocol callbacks run in this order, and only in this order:
 *
 * ```text
 * start -> connectionMade [-> dataReceived*] [-> eofReceived?] -> connectionLost -> end
 * ```
 *
 * A {@link BufferedProtocol} gets `(getBuffer -> bufferUpdated)*` where `dataReceived*` stands.
 *
 * `pauseWriting()`/`resumeWriting()` may run, paired, anywhere between `connectionMade` and
 * `connectionLost`. Datagram protocols follow
 * `start -> connectionMade [-> datagramReceived* | errorReceived*] -> connectionLost -> end`.
 *
 * A callback that throws closes (aborts) its own connection only: the error is reported once
 * through the exception handler (see {@link setExceptionHandler}) and then passed to
 * `connectionLost(err)`.
 *
 * @module
 */
import type { Address } from "../address.js";

/**
 * What a stream connection calls on your code. Every method is optional.
 * Python: `asyncio.Protocol` (with `asyncio.BaseProtocol`'s flow-control methods).
 *
 * @example
 * ```ts
 * class Echo implements Protocol {
 *   #t?: Transport;
 *   connectionMade(t: Transport) { this.#t = t; }
 *   dataReceived(data: Buffer) { this.#t!.write(data); }
 * }
 * const server = await createServer(() => new Echo(), "127.0.0.1", 0);
 * ```
 */
export interface Protocol {
  /** The connection is up; runs once, first, before any other callback. Keep `transport`. */
  connectionMade?(transport: Transport): void;
  /** Bytes arrived, in order. The Buffer is yours. Never runs after `eofReceived`. */
  dataReceived?(data: Buffer): void;
  /**
   * The peer shut its write side (EOF). Return `true` to keep the connection open for writing
   * (half-close; ignored for TLS, which cannot half-close); anything else closes the transport
   * once its buffered data is flushed.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: the public signature lets the method return nothing.
  eofReceived?(): boolean | void;
  /**
   * The connection is closed; runs exactly once, last. `err` is `null` after a clean close or
   * `abort()`, else the cause (`ECONNRESET`, `EPIPE`, or what a callback threw).
   */
  connectionLost?(err: Error | null): void;
  /** The transport's write buffer rose above its high-water mark: stop writing for a while. */
  pauseWriting?(): void;
  /** The write buffer fell to its low-water mark after `pauseWriting()`: write again. */
  resumeWriting?(): void;
}

/**
 * A stream protocol that gives the memory received bytes are read into, in place of
 * `dataReceived`: `getBuffer()` runs before each read and `bufferUpdated(n)` after it. A busy
 * connection then reads without allocating, and on the native backend the kernel copies
 * straight into your memory. Python: `asyncio.BufferedProtocol`.
 *
 * While a transport drives a buffered protocol, `write()` copies whatever it cannot send at
 * once, so the protocol may reuse its memory as soon as `write()` returns (as in asyncio).
 *
 * @example
 * ```ts
 * class Echo implements BufferedProtocol {
 *   #t?: Transport;
 *   #memory = Buffer.alloc(65536);
 *   connectionMade(t: Transport) { this.#t = t; }
 *   getBuffer() { return this.#memory; }
 *   bufferUpdated(n: number) { this.#t!.write(this.#memory.subarray(0, n)); }
 * }
 * ```
 */
export interface BufferedProtocol extends Omit<Protocol, "dataReceived"> {
  /**
   * Memory for the next read: a non-empty `Uint8Array` (anything else aborts the connection
   * with `ERR_INVALID_RETURN_VALUE`). `sizeHint` is how many bytes wait, where known, else -1;
   * any size may be returned. Reads land at its start.
   */
  getBuffer(sizeHint: number): Uint8Array;
  /** A read put `nbytes` bytes at the start of the memory the last `getBuffer()` returned. */
  bufferUpdated(nbytes: number): void;
}

/** Either kind of stream protocol. */
export type StreamProtocol = Protocol | BufferedProtocol;

/** Whether `protocol` is a {@link BufferedProtocol} (it has `getBuffer`). */
export function isBufferedProtocol(protocol: StreamProtocol): protocol is BufferedProtocol {
  return typeof (protocol as Partial<BufferedProtocol>).getBuffer === "function";
}

/**
 * One byte-stream connection (TCP, Unix-domain or TLS), as a protocol sees it.
 * Python: `asyncio.Transport`.
 *
 * @example
 * ```ts
 * const [transport] = await createConnection(() => ({}), "127.0.0.1", port);
 * transport.write("hello\n");
 * transport.close();
 * ```
 */
export interface Transport {
  /**
   * Queue bytes for sending; never blocks. Watch `pauseWriting()` to keep the buffer bounded.
   * @throws `ERR_SOCKET_CLOSED` after `close()`/`abort()`/`writeEof()` or once the connection was lost.
   */
  write(data: Uint8Array | string): void;
  /** Write several chunks at once (one system call where possible). Same errors as `write()`. */
  writeLines(list: Iterable<Uint8Array | string>): void;
  /**
   * Shut the write side once the buffered bytes are sent; reading goes on.
   * @throws `ERR_BAD_SOCKET` when the transport cannot half-close (TLS).
   */
  writeEof(): void;
  /** Whether `writeEof()` is possible: `false` for TLS. */
  canWriteEof(): boolean;
  /** Stop reading, flush the write buffer, then close; `connectionLost(null)` follows. Idempotent. */
  close(): void;
  /** Close now, dropping buffered bytes; `connectionLost(null)` follows. Idempotent. */
  abort(): void;
  /** `true` once `close()`/`abort()` was called or the connection was lost. */
  isClosing(): boolean;
  /** Stop calling `dataReceived` until `resumeReading()`. No-op when closing or already paused. */
  pauseReading(): void;
  /** Undo `pauseReading()`. No-op when closing or not paused. */
  resumeReading(): void;
  /** `true` unless reading is paused or the transport is closing. */
  isReading(): boolean;
  /**
   * Set the write-buffer water marks in bytes. `high` defaults to 64 KiB (or `4 * low`), `low`
   * to `high / 4`. @throws `ERR_INVALID_ARG_VALUE` unless `high >= low >= 0`.
   */
  setWriteBufferLimits(high?: number, low?: number): void;
  /** Bytes queued but not yet handed to the kernel. */
  getWriteBufferSize(): number;
  /** The water marks, `[low, high]`, as asyncio orders them. */
  getWriteBufferLimits(): [low: number, high: number];
  /**
   * Information about the connection: `"peername"`, `"sockname"` (Address), `"socket"` (the
   * backend's socket object), `"peercert"`, `"cipher"` (TLS only). Missing: `fallback`.
   */
  getExtraInfo(name: string, fallback?: unknown): unknown;
}

/**
 * What a datagram (UDP) endpoint calls on your code. Every method is optional.
 * Python: `asyncio.DatagramProtocol`.
 *
 * @example
 * ```ts
 * const echo: DatagramProtocol = {
 *   connectionMade(t) { this.t = t; },
 *   datagramReceived(data, addr) { this.t.sendto(data, addr); },
 * };
 * await createDatagramEndpoint(() => echo, { localAddr: ["127.0.0.1", 0] });
 * ```
 */
export interface DatagramProtocol {
  /** The endpoint is bound (and connected, with `remoteAddr`); runs once, first. */
  connectionMade?(transport: DatagramTransport): void;
  /** One datagram arrived from `addr`. */
  datagramReceived?(data: Buffer, addr: Address): void;
  /**
   * A send or receive failed, e.g. `ECONNREFUSED` after a connected endpoint sent to a closed
   * port. The endpoint stays open.
   */
  errorReceived?(err: Error): void;
  /** The endpoint is closed; runs exactly once, last. */
  connectionLost?(err: Error | null): void;
}

/**
 * A UDP endpoint, as a datagram protocol sees it. Python: `asyncio.DatagramTransport`.
 *
 * @example
 * ```ts
 * class Pong implements DatagramProtocol {
 *   #t?: DatagramTransport;
 *   connectionMade(t: DatagramTransport) { this.#t = t; }
 *   datagramReceived(data: Buffer, addr: Address) { this.#t!.sendto(data, addr); }
 * }
 * await createDatagramEndpoint(() => new Pong(), { localAddr: ["127.0.0.1", 0] });
 * ```
 */
export interface DatagramTransport {
  /**
   * Send one datagram to `addr`, which may be left out (or must equal the remote address) on
   * an endpoint made with `remoteAddr`. Send failures arrive at `errorReceived`.
   * @throws `ERR_SOCKET_CLOSED` once closed; `ENOTCONN` without `addr` on an unconnected endpoint;
   * `ERR_INVALID_ARG_VALUE` for another address on a connected endpoint.
   */
  sendto(data: Uint8Array | string, addr?: Address): void;
  /** Close the endpoint; `connectionLost(null)` follows. Idempotent. */
  close(): void;
  /** Close now (the same as `close()`: nothing is buffered in user space). */
  abort(): void;
  /** `"peername"`, `"sockname"` (Address) or `"socket"` (the backend's socket object). */
  getExtraInfo(name: string, fallback?: unknown): unknown;
}
