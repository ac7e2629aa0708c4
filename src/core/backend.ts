/**
 * The socket backend interface: the only surface through which the front ends (dispatchers,
 * protocols, streams, asynchat) reach a socket.
 *
 * A backend turns an OS socket into three kinds of object — a {@link StreamConnection}, a
 * {@link StreamListener} and a {@link DatagramEndpoint} — that report what happened through one
 * events object each (plain method calls, no emitter on the hot path). Everything that is hard
 * to get right once lives behind this line: write backpressure with high/low water marks, read
 * pausing, half-close, errors mapped to one close with its cause, graceful close vs abort.
 *
 * `node:net`/`node:tls`/`node:dgram` make the first backend (`net-backend.ts`); a native
 * readiness backend implements the same interface.
 *
 * @module
 */
import type * as tls from "node:tls";
import type { Address } from "../address.js";

/**
 * What a stream connection reports. Each callback runs on the event loop, never re-entrantly,
 * and never synchronously inside a method of the connection, except `onWritePaused` (which may
 * run inside `write()`/`writev()`/`setWriteBufferLimits()`) and `onWriteResumed` (which may run
 * inside `setWriteBufferLimits()`), as asyncio calls `pause_writing()` from `write()`.
 */
export interface StreamEvents {
  /** The connection is established (for TLS: after the handshake). Only for connections we opened. */
  onConnect?(): void;
  /** Bytes arrived. The receiver owns the Buffer. */
  onData(chunk: Buffer): void;
  /** The peer half-closed its side (EOF). The write side stays open until `end()`/`close()`. */
  onEnd(): void;
  /** The write buffer rose above the high-water mark. */
  onWritePaused(): void;
  /** The write buffer fell to the low-water mark after a pause. */
  onWriteResumed(): void;
  /**
   * The connection is fully closed; runs exactly once, last. `err` is the cause when it ended
   * by an error (`ECONNRESET`, `EPIPE`, `ETIMEDOUT`, a failed connect, …), `null` otherwise.
   */
  onClose(err: Error | null): void;
}

/**
 * What a connection reports to an owner that gives the memory reads land in (asyncio's
 * `BufferedProtocol`). A backend that can read into it (native, without TLS) calls
 * `getBuffer()` before each read and `onBuffered(n)` after it, and never `onData`; one that
 * cannot (node:net, TLS) calls `onData(chunk)` as usual, and the owner copies the chunk in.
 *
 * @example
 * ```ts
 * const memory = Buffer.alloc(65536);
 * conn.start({ ...events, getBuffer: () => memory, onBuffered: (n) => use(memory.subarray(0, n)) });
 * ```
 */
export interface BufferedStreamEvents extends StreamEvents {
  /**
   * Memory for the next read, at least one byte long; `undefined` to skip this read (the owner
   * is closing the connection). `sizeHint` is what the backend would like, -1 for "any".
   */
  getBuffer(sizeHint: number): Uint8Array | undefined;
  /** A read put `n` bytes at the start of the memory the last `getBuffer()` gave. */
  onBuffered(n: number): void;
}

/** Whether `events` give the memory reads land in (see {@link BufferedStreamEvents}). */
export function readsIntoOwnMemory(events: StreamEvents): events is BufferedStreamEvents {
  return typeof (events as Partial<BufferedStreamEvents>).getBuffer === "function";
}

/** A connected (or connecting) byte stream: TCP, Unix-domain or TLS. */
export interface StreamConnection {
  /** Name of the backend that made it (`"net"`, `"native"`). */
  readonly backend: string;
  /** Still connecting: writes are queued until connected. */
  readonly connecting: boolean;
  /** Closed or closing by this side, or closed by the peer/error. No more writes. */
  readonly closed: boolean;
  /** The peer has sent EOF. */
  readonly ended: boolean;
  /** `false` after `end()`/`close()`: the write side is shut. */
  readonly writable: boolean;
  /** Bytes written but not yet handed to the kernel. */
  readonly writeBufferSize: number;
  /** True while the write buffer is above the high-water mark (and not yet back to low). */
  readonly writePaused: boolean;
  /** True unless reading was paused. */
  readonly reading: boolean;
  /** Whether `end()` (half-close) is possible: false for TLS, as in asyncio. */
  readonly canEnd: boolean;
  readonly localAddress: Address | undefined;
  readonly remoteAddress: Address | undefined;
  /** The backend's own socket object (a `net.Socket`/`tls.TLSSocket` for the net backend). */
  readonly raw: unknown;

  /**
   * Attach the events and start reading (unless reading was paused or the connection closed).
   * Called by the layer that owns the connection; calling it again hands the connection to a
   * new owner: the events object is replaced and nothing else changes.
   */
  start(events: StreamEvents): void;
  /**
   * Queue bytes for sending; never throws for a full buffer (see `writePaused`). What is not
   * sent at once stays referenced, not copied, unless `borrowed` says the caller will change
   * `data` once this returns: then the connection copies what it keeps.
   */
  write(data: Buffer, borrowed?: boolean): void;
  /** Queue several buffers as one system call where the backend can; they are referenced. */
  writev(chunks: readonly Buffer[]): void;
  /** Half-close after the buffered bytes are flushed. */
  end(): void;
  /** Stop reading, flush what is buffered, then close. `onClose(null)` follows. */
  close(): void;
  /** Close now, dropping what is buffered. `onClose(err ?? null)` follows. */
  abort(err?: Error): void;
  pauseReading(): void;
  resumeReading(): void;
  /** Set the water marks (bytes). `low` defaults to `high / 4`. */
  setWriteBufferLimits(high?: number, low?: number): void;
  /** `[low, high]`, as asyncio's `get_write_buffer_limits()`. */
  getWriteBufferLimits(): [low: number, high: number];
  /** asyncio's `get_extra_info`: peername, sockname, socket, peercert, cipher, sslobject. */
  getExtraInfo(name: string, fallback?: unknown): unknown;
  /** Upgrade to TLS in place (streams' `startTls`). Resolves once the handshake is done. */
  startTls(options: tls.ConnectionOptions | (tls.TlsOptions & { isServer?: boolean })): Promise<void>;
  /**
   * Optional: hand the socket's readiness and system calls to the owner (see
   * {@link DirectStream}), in place of `start()`. Returns `undefined` where the backend cannot
   * (node:net, TLS, a wrapper); the owner then calls `start()` as usual.
   */
  direct?(events: ReadinessEvents): DirectStream | undefined;
}

/** The most one {@link DirectStream.recv} reads. */
export const DIRECT_READ_MAX = 256 * 1024;

/** What a connection reports in readiness mode: `onData`/`onEnd` never come, these do. */
export interface ReadinessEvents extends StreamEvents {
  /** The kernel has bytes, EOF or an error to read (polled while asked for). */
  onReadable(): void;
  /** The kernel takes more bytes, or has an error to report (polled while asked for). */
  onWritable(): void;
}

/**
 * A connection driven by readiness, as asyncore drives a socket after `select()`: the owner
 * says which readiness to poll, then reads and writes with one system call each and nothing
 * buffered between it and the kernel. The native backend offers it (`direct()`); the
 * connection's other methods (`close`, `abort`, addresses) go on working.
 *
 * @example
 * ```ts
 * const io = conn.direct?.({ onReadable() { const data = io!.recv(65536); … }, … });
 * io?.setInterest(true, false);
 * ```
 */
export interface DirectStream {
  /** Poll for readability and/or writability (both false: poll nothing). */
  setInterest(read: boolean, write: boolean): void;
  /**
   * One `recv()`: up to `max` bytes (at most {@link DIRECT_READ_MAX}), an empty Buffer at EOF or
   * once closed, `null` when none wait. @throws a system error (`ECONNRESET` …), which also
   * closes the connection.
   */
  recv(max: number): Buffer | null;
  /**
   * One `recv()` into the start of `target` (at most {@link DIRECT_READ_MAX} bytes): the count,
   * 0 at EOF or once closed, `null` when none wait. @throws as `recv()`.
   */
  recvInto(target: Uint8Array): number | null;
  /**
   * One `send()`: how many bytes of `data` the kernel took, 0 when it takes none now.
   * @throws a system error (`EPIPE`, `ECONNRESET` …), which also closes the connection.
   */
  send(data: Buffer): number;
  /** Bytes the kernel holds for reading now (0 after an error). */
  unread(): number;
}

/** What a listener reports. */
export interface ListenerEvents {
  /**
   * A connection was accepted. It does not read until its owner calls `start()`, so nothing is
   * lost between accept and adoption.
   */
  onConnection(conn: StreamConnection): void;
  /**
   * Accepting failed (`EMFILE`, `ENFILE`, …). The listener keeps listening: the error is
   * reported, never fatal.
   */
  onAcceptError(err: Error): void;
  /** The listener stopped listening. */
  onClose(): void;
}

/** A listening stream socket. */
export interface StreamListener {
  readonly backend: string;
  readonly address: Address;
  readonly raw: unknown;
  readonly listening: boolean;
  /** Stop accepting. Connections already accepted are not affected. */
  close(): void;
}

export interface ListenOptions {
  backlog?: number;
  /** TLS server options: accepted connections are TLS after the handshake. */
  tls?: tls.TlsOptions;
  /** For IPv6 addresses: accept IPv6 only. */
  ipv6Only?: boolean;
  /**
   * Most connections open at once (default: no limit). A connection accepted while that many
   * are open is closed at once, never started, and counted; refusals are reported through
   * `onAcceptError` as `ERR_LIMIT_REACHED`, at most once a second. A backend honours it (and
   * `idleTimeout`) by passing its events through `limitListenerEvents()` (`server-limits.ts`).
   */
  maxConnections?: number;
  /**
   * Close a connection whose peer sent nothing for this many milliseconds (default: never),
   * with an `ERR_LIMIT_REACHED` error as its `onClose` cause; enforced within 1.25 × the value.
   */
  idleTimeout?: number;
}

export interface ConnectOptions {
  /** `true` for TLS with default options, or Node's TLS connect options. */
  tls?: tls.ConnectionOptions | true;
  /** Local address to bind before connecting. */
  localAddr?: Address;
}

/** What a datagram endpoint reports. */
export interface DatagramEvents {
  onMessage(data: Buffer, from: Address): void;
  /** A send or receive failed (`ECONNREFUSED` from an ICMP error, `EMSGSIZE`, …). The endpoint stays open. */
  onError(err: Error): void;
  onClose(): void;
}

/** A UDP socket. */
export interface DatagramEndpoint {
  readonly backend: string;
  readonly localAddress: Address | undefined;
  readonly remoteAddress: Address | undefined;
  readonly raw: unknown;
  readonly closed: boolean;
  bind(addr: Address): Promise<Address>;
  connect(addr: Address): Promise<void>;
  /** Send one datagram; `addr` may be left out once connected. Failures go to `onError`. */
  send(data: Buffer, addr?: Address): void;
  close(): void;
}

/** A socket backend: makes connections, listeners and datagram endpoints. */
export interface SocketBackend {
  readonly name: string;
  /** Start connecting; failure arrives as `onClose(err)` before any `onConnect`. */
  connect(addr: Address, options: ConnectOptions, events: StreamEvents): StreamConnection;
  /** Listen; rejects with the system error (`EADDRINUSE`, `EACCES`, …). */
  listen(addr: Address, options: ListenOptions, events: ListenerEvents): Promise<StreamListener>;
  /** Wrap a socket object this backend made (e.g. a `net.Socket` a user holds). */
  adopt(socket: unknown): StreamConnection;
  /** Wrap a listening socket object this backend made (e.g. a `net.Server` a user holds). */
  adoptListener(server: unknown, events: ListenerEvents): StreamListener;
  /** Wrap a datagram socket object this backend made (e.g. a `dgram.Socket`). */
  adoptDatagram(socket: unknown, events: DatagramEvents): DatagramEndpoint;
  /** A UDP endpoint of the given family (4 or 6), not yet bound. */
  datagram(family: 4 | 6, events: DatagramEvents): DatagramEndpoint;
}
