/**
 * {@link StreamWriter}: the writing half of a stream connection, with `drain()` for flow
 * control, `waitClosed()`, and `startTls()` to upgrade the connection in place.
 *
 * @module
 */
import type * as tls from "node:tls";
import type { BytesLike } from "../address.js";
import { codedError, codes } from "../errors.js";
import type { Transport } from "../protocols/index.js";
import { StreamTransport } from "../protocols/stream-transport.js";
import { type ConnectionState, connectionLostError, connectionStateOf } from "./_connection-state.js";
import type { StreamReader } from "./stream-reader.js";
import type { StreamReaderProtocol } from "./stream-reader-protocol.js";

// A writer's booleans, packed into `#bits`.
const CLOSED = 1;
const UPGRADING = 2;

/** Options of the `StreamWriter` methods that may wait. */
export interface WaitOptions {
  /** Aborting rejects the wait with `signal.reason`. */
  signal?: AbortSignal;
}

/**
 * What `startTls` takes: Node's TLS client options (`ca`, `servername`, …) or server options
 * (`key`, `cert`, …), and `isServer` to choose the side explicitly.
 */
export type StartTlsOptions = (tls.ConnectionOptions | tls.TlsOptions) & {
  /**
   * Play the TLS server. Default: `true` for a writer that `startServer` gave to its client
   * callback, `false` for one from `openConnection` (as asyncio decides `server_side`).
   */
  isServer?: boolean;
};

/**
 * The writing half of a stream connection. Python: `asyncio.StreamWriter`.
 *
 * `write()` never blocks: bytes are queued in the transport. To keep the queue bounded, await
 * `drain()` after writing; it waits only while the queue is over the transport's high-water
 * mark (64 KiB by default, see `transport.setWriteBufferLimits()`).
 *
 * @example
 * ```ts
 * const [reader, writer] = await openConnection("127.0.0.1", port);
 * writer.write("hello\n");
 * await writer.drain();
 * console.log(String(await reader.readLine()));
 * writer.close();
 * await writer.waitClosed();
 * ```
 */
export class StreamWriter {
  readonly #transport: Transport;
  readonly #reader: StreamReader | null;
  readonly #state: ConnectionState;
  /** `CLOSED` (close() was called), `UPGRADING` (startTls() runs). */
  #bits = 0;

  /**
   * Usually made by `openConnection` or `startServer`; make one yourself over a transport
   * whose protocol is a {@link StreamReaderProtocol}.
   * @param transport the connection's transport
   * @param protocol the protocol driving it
   * @param reader its reader, whose failure `drain()` reports first (or null)
   */
  constructor(transport: Transport, protocol: StreamReaderProtocol, reader: StreamReader | null) {
    this.#transport = transport;
    this.#reader = reader;
    this.#state = connectionStateOf(protocol);
  }

  /** The transport underneath. Python: `StreamWriter.transport`. */
  get transport(): Transport {
    return this.#transport;
  }

  /**
   * Queue bytes for sending (a string is UTF-8 encoded). Python: `write()`.
   * @throws `ERR_SOCKET_CLOSED` after `close()`, `writeEof()` or once the connection was lost.
   */
  write(data: BytesLike): void {
    this.#transport.write(data);
  }

  /** Queue several chunks at once. Python: `writelines()`. @throws as `write()`. */
  writeLines(list: Iterable<BytesLike>): void {
    this.#transport.writeLines(list);
  }

  /**
   * Wait until the write buffer is no longer over its high-water mark: resolves at once when
   * it is not, else when it falls to the low-water mark. Python: `drain()`.
   *
   * @throws (rejects) the reader's error, then the connection's error, when it failed;
   *   `ERR_SOCKET_CLOSED` once this writer was closed (a `drain()` already waiting rejects at
   *   `close()`) or the transport is closing; `ECONNRESET` once the connection ended cleanly
   *   without this writer closing it (asyncio's `ConnectionResetError`); `signal.reason` on abort.
   */
  async drain(opts: WaitOptions = {}): Promise<void> {
    const { signal } = opts;
    signal?.throwIfAborted();
    const failed = this.#reader?.exception();
    if (failed) throw failed;
    const state = this.#state;
    if (state.lostError !== null) throw state.lostError;
    // "You closed it" before "it was lost": a writer closed here says so, before and after the end.
    if (this.#bits & CLOSED) throw writerClosed("drain");
    if (state.lost) throw connectionLostError("drain");
    if (this.#transport.isClosing()) throw writerClosed("drain");
    if (!state.writePaused) return;
    await state.waitDrained(signal);
  }

  /**
   * Shut the write side once the buffered bytes are sent; reading goes on. Python: `write_eof()`.
   * @throws `ERR_BAD_SOCKET` when the transport cannot half-close (TLS).
   */
  writeEof(): void {
    this.#transport.writeEof();
  }

  /** Whether `writeEof()` is possible (`false` for TLS). Python: `can_write_eof()`. */
  canWriteEof(): boolean {
    return this.#transport.canWriteEof();
  }

  /**
   * Close the connection once the buffered bytes are sent; `waitClosed()` tells when it is
   * done. A `drain()` that waits rejects with `ERR_SOCKET_CLOSED`. Idempotent.
   * Python: `close()`.
   */
  close(): void {
    if ((this.#bits & CLOSED) === 0) {
      this.#bits |= CLOSED;
      this.#state.rejectDrains(writerClosed("drain"));
    }
    this.#transport.close();
  }

  /** True once `close()` was called or the connection is closing or lost. Python: `is_closing()`. */
  isClosing(): boolean {
    return (this.#bits & CLOSED) !== 0 || this.#transport.isClosing();
  }

  /**
   * Resolves once the connection is closed (at once when it already is). Called before
   * `close()`, it waits for the connection to end by other means. Python: `wait_closed()`.
   *
   * @throws (rejects) the error the connection ended with (`ECONNRESET`, a TLS error, …), as
   *   asyncio does; `signal.reason` on abort. A peer that never reads can hold a graceful
   *   close forever: give a signal, or call `transport.abort()`.
   */
  waitClosed(opts: WaitOptions = {}): Promise<void> {
    return this.#state.waitLost(opts.signal);
  }

  /** Information about the connection (see `Transport.getExtraInfo`). Python: `get_extra_info()`. */
  getExtraInfo(name: string, fallback?: unknown): unknown {
    return this.#transport.getExtraInfo(name, fallback);
  }

  /**
   * Upgrade the connection to TLS in place: drains first, then runs the handshake; resolves
   * once it is done. The reader and this writer go on over TLS; bytes already in the reader
   * stay there. The side is `options.isServer` when given, else the server side for writers
   * that `startServer` made and the client side for `openConnection`'s.
   * Python: `StreamWriter.start_tls()`.
   *
   * @throws (rejects) `ERR_SOCKET_CLOSED` once closing; `ERR_BAD_SOCKET` when the connection
   *   is already TLS, an upgrade is in
   *   progress, or the transport cannot be upgraded; the handshake's error (e.g.
   *   `UNABLE_TO_VERIFY_LEAF_SIGNATURE`), which also ends the connection; the errors of
   *   `drain()`; `signal.reason` on abort, which also aborts the connection (a handshake
   *   cannot be undone half-way).
   * @example
   * ```ts
   * // client side, after the peer agreed to STARTTLS:
   * await writer.startTls({ ca: serverCert, servername: "localhost" });
   * // server side, in startServer's callback:
   * await writer.startTls({ key, cert });
   * ```
   */
  async startTls(options: StartTlsOptions, opts: WaitOptions = {}): Promise<void> {
    const { signal } = opts;
    signal?.throwIfAborted();
    const transport = this.#transport;
    if (this.isClosing()) throw writerClosed("start TLS");
    if (!(transport instanceof StreamTransport)) throw badTls("this transport cannot be upgraded");
    if (this.#bits & UPGRADING) throw badTls("an upgrade is already in progress");
    if (transport.getExtraInfo("sslobject") !== undefined) throw badTls("the connection is already TLS");
    this.#bits |= UPGRADING;
    try {
      await this.drain({ signal });
      const { isServer, ...rest } = options;
      const handshake = transport.startTls(
        (isServer ?? this.#state.serverSide) ? { ...(rest as tls.TlsOptions), isServer: true } : rest,
      );
      await untilHandshake(this.#state, transport, handshake, signal);
    } finally {
      this.#bits &= ~UPGRADING;
    }
  }

  /** `close()`, then `waitClosed()`: for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.waitClosed();
  }
}

/** The handshake, or the end of the connection, or an abort (which aborts the connection). */
function untilHandshake(
  state: ConnectionState,
  transport: Transport,
  handshake: Promise<void>,
  signal: AbortSignal | undefined,
): Promise<void> {
  const stop = new AbortController();
  const lost = state.waitLost(stop.signal).then(() => Promise.reject(connectionLostError("start TLS")));
  let onAbort = (): void => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      reject(signal!.reason);
      transport.abort();
    };
  });
  signal?.addEventListener("abort", onAbort, { once: true });
  // The race subscribes to all three, so the ones that settle later are never unhandled.
  return Promise.race([handshake, lost, aborted]).finally(() => {
    signal?.removeEventListener("abort", onAbort);
    stop.abort();
  });
}

function writerClosed(action: string): Error {
  return codedError(codes.SOCKET_CLOSED, `Cannot ${action}: the writer is closed`);
}

function badTls(detail: string): Error {
  return codedError(codes.BAD_SOCKET, `Cannot start TLS: ${detail}`);
}
