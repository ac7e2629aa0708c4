/**
 * {@link StreamConnection} over a `net.Socket` or `tls.TLSSocket`.
 *
 * Why this class exists: Node's sockets leave backpressure, half-close and error handling to
 * every caller. Here they are done once:
 * - the write buffer is watched against high/low water marks (`onWritePaused` /
 *   `onWriteResumed`), resuming at the low mark rather than only when empty;
 * - `allowHalfOpen` is always on, so EOF is reported and the write side stays open;
 * - `error` then `close` become a single `onClose(err)`;
 * - `close()` flushes then closes; `abort()` drops and closes now.
 *
 * @module
 */
import type * as net from "node:net";
import * as tls from "node:tls";
import { type Address, fromAddressInfo } from "../address.js";
import { socketClosed } from "../errors.js";
import type { StreamConnection, StreamEvents } from "./backend.js";
import { DEFAULT_HIGH_WATER, noStreamEvents, resolveWriteBufferLimits } from "./write-limits.js";

export class NetStreamConnection implements StreamConnection {
  readonly backend = "net";
  #sock: net.Socket;
  #events: StreamEvents = noStreamEvents;
  #started = false;
  #high = DEFAULT_HIGH_WATER;
  #low = DEFAULT_HIGH_WATER / 4;
  #writePaused = false;
  #reading = true;
  #writable = true;
  #closed = false;
  #ended = false;
  #connecting: boolean;
  #error: Error | null = null;
  #reported = false;
  /** Made on the first write that needs a completion callback; idle connections never do. */
  #afterWriteFn: ((err?: Error | null) => void) | undefined;

  get #afterWrite(): (err?: Error | null) => void {
    return (this.#afterWriteFn ??= (err?: Error | null): void => {
      if (!err) this.#checkResume();
    });
  }

  #peerPath: string | undefined;

  /**
   * @param sock the socket to own
   * @param connecting true when `sock.connect()` was just called (reports `onConnect`)
   * @param peerPath for a Unix-domain client: the path it connects to (Node does not report it)
   */
  constructor(sock: net.Socket, connecting = false, peerPath?: string) {
    this.#sock = sock;
    this.#connecting = connecting;
    this.#peerPath = peerPath;
    // As asyncio does: small writes go out at once (no Nagle delay). A no-op on Unix sockets.
    sock.setNoDelay(true);
    this.#attach(sock);
  }

  get connecting(): boolean {
    return this.#connecting;
  }
  get closed(): boolean {
    return this.#closed;
  }
  get ended(): boolean {
    return this.#ended;
  }
  get writable(): boolean {
    return this.#writable && !this.#closed;
  }
  get writeBufferSize(): number {
    return this.#sock.writableLength;
  }
  get writePaused(): boolean {
    return this.#writePaused;
  }
  get reading(): boolean {
    return this.#reading;
  }
  get canEnd(): boolean {
    return !(this.#sock instanceof tls.TLSSocket);
  }
  get localAddress(): Address | undefined {
    return addressOf(this.#sock, "local");
  }
  get remoteAddress(): Address | undefined {
    return addressOf(this.#sock, "remote") ?? this.#peerPath;
  }
  get raw(): net.Socket {
    return this.#sock;
  }

  start(events: StreamEvents): void {
    this.#events = events;
    if (this.#started) return;
    this.#started = true;
    if (this.#reading && !this.#closed) this.#sock.resume();
    // A socket that failed before its owner started it still reports its close.
    if (this.#reported) queueMicrotask(() => this.#events.onClose(this.#error));
  }

  /** `borrowed`: Node's write queue keeps what it is given, so it is given a copy. */
  write(data: Buffer, borrowed = false): void {
    if (this.#closed || !this.#writable) throw socketClosed("the connection");
    if (borrowed) data = Buffer.from(data);
    const sock = this.#sock;
    if (sock.writableLength + data.length > this.#low) sock.write(data, this.#afterWrite);
    else sock.write(data);
    this.#checkPause();
  }

  writev(chunks: readonly Buffer[]): void {
    if (chunks.length === 1) {
      this.write(chunks[0]!);
      return;
    }
    if (this.#closed || !this.#writable) throw socketClosed("the connection");
    const sock = this.#sock;
    sock.cork();
    const last = chunks.length - 1;
    for (let i = 0; i < last; i++) sock.write(chunks[i]!);
    sock.write(chunks[last]!, this.#afterWrite);
    sock.uncork();
    this.#checkPause();
  }

  end(): void {
    if (this.#closed || !this.#writable) return;
    this.#writable = false;
    this.#sock.end();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#writable = false;
    const sock = this.#sock;
    sock.pause();
    if (sock.destroyed) return;
    if (sock.writableFinished || (sock.writableEnded && sock.writableLength === 0)) {
      sock.destroy();
      return;
    }
    sock.once("finish", () => sock.destroy());
    if (!sock.writableEnded) sock.end();
  }

  abort(err?: Error): void {
    this.#closed = true;
    this.#writable = false;
    if (err && !this.#error) this.#error = err;
    this.#sock.destroy();
  }

  pauseReading(): void {
    if (!this.#reading) return;
    this.#reading = false;
    this.#sock.pause();
  }

  resumeReading(): void {
    if (this.#reading) return;
    this.#reading = true;
    if (this.#started && !this.#closed) this.#sock.resume();
  }

  setWriteBufferLimits(high?: number, low?: number): void {
    [this.#low, this.#high] = resolveWriteBufferLimits(high, low);
    this.#checkPause();
    this.#checkResume();
  }

  getWriteBufferLimits(): [number, number] {
    return [this.#low, this.#high];
  }

  getExtraInfo(name: string, fallback?: unknown): unknown {
    const sock = this.#sock;
    let value: unknown;
    switch (name) {
      case "peername":
        value = this.remoteAddress;
        break;
      case "sockname":
        value = this.localAddress;
        break;
      case "socket":
        value = sock;
        break;
      case "peercert":
        value = sock instanceof tls.TLSSocket ? nonEmpty(sock.getPeerCertificate()) : undefined;
        break;
      case "cipher":
        value = sock instanceof tls.TLSSocket ? sock.getCipher() : undefined;
        break;
      case "sslobject":
        value = sock instanceof tls.TLSSocket ? sock : undefined;
        break;
    }
    return value === undefined || value === null ? fallback : value;
  }

  startTls(options: tls.ConnectionOptions | (tls.TlsOptions & { isServer?: boolean })): Promise<void> {
    if (this.#closed) return Promise.reject(socketClosed("the connection"));
    const plain = this.#sock;
    this.#detach(plain);
    plain.pause();
    const isServer = "isServer" in options && options.isServer === true;
    return new Promise<void>((resolve, reject) => {
      let secure: tls.TLSSocket;
      const onError = (err: Error): void => {
        secure.destroy();
        reject(err);
      };
      if (isServer) {
        const ctx = tls.createSecureContext(options as tls.SecureContextOptions);
        secure = new tls.TLSSocket(plain, {
          ...(options as tls.TlsOptions),
          isServer: true,
          secureContext: ctx,
        });
        secure.once("secure", () => {
          secure.off("error", onError);
          resolve();
        });
      } else {
        secure = tls.connect({ ...(options as tls.ConnectionOptions), socket: plain }, () => {
          secure.off("error", onError);
          resolve();
        });
      }
      secure.once("error", onError);
      this.#sock = secure;
      secure.pause();
      this.#attach(secure);
      if (this.#reading) secure.resume();
    });
  }

  #attach(sock: net.Socket): void {
    (sock as OwnedSocket)[kConnection] = this;
    // Nothing is read until start(): paused streams keep what arrives.
    sock.pause();
    sock.on("data", NetStreamConnection.#onData);
    sock.on("end", NetStreamConnection.#onEnd);
    sock.on("error", NetStreamConnection.#onError);
    sock.on("close", NetStreamConnection.#onClose);
    sock.on("drain", NetStreamConnection.#onDrain);
    if (this.#connecting) {
      sock.once(sock instanceof tls.TLSSocket ? "secureConnect" : "connect", NetStreamConnection.#onConnect);
    }
  }

  #detach(sock: net.Socket): void {
    sock.off("data", NetStreamConnection.#onData);
    sock.off("end", NetStreamConnection.#onEnd);
    sock.off("error", NetStreamConnection.#onError);
    sock.off("close", NetStreamConnection.#onClose);
    sock.off("drain", NetStreamConnection.#onDrain);
  }

  // Socket listeners are shared by every connection (Node calls them with the socket as
  // `this`), so a connection costs no closures of its own.
  static readonly #onData = function (this: OwnedSocket, chunk: Buffer): void {
    this[kConnection]!.#events.onData(chunk);
  };
  static readonly #onEnd = function (this: OwnedSocket): void {
    const conn = this[kConnection]!;
    conn.#ended = true;
    if (conn.#started) conn.#events.onEnd();
  };
  static readonly #onError = function (this: OwnedSocket, err: Error): void {
    const conn = this[kConnection]!;
    if (!conn.#error) conn.#error = err;
  };
  static readonly #onDrain = function (this: OwnedSocket): void {
    this[kConnection]!.#checkResume();
  };
  static readonly #onConnect = function (this: OwnedSocket): void {
    const conn = this[kConnection]!;
    conn.#connecting = false;
    conn.#events.onConnect?.();
  };
  static readonly #onClose = function (this: OwnedSocket): void {
    const conn = this[kConnection]!;
    if (conn.#reported) return;
    conn.#reported = true;
    conn.#closed = true;
    conn.#writable = false;
    conn.#connecting = false;
    if (conn.#started) conn.#events.onClose(conn.#error);
  };

  #checkPause(): void {
    if (!this.#writePaused && this.#sock.writableLength > this.#high) {
      this.#writePaused = true;
      this.#events.onWritePaused();
    }
  }

  #checkResume(): void {
    // A destroyed socket dropped its buffer: nothing was flushed, nothing to resume.
    if (this.#writePaused && this.#sock.writableLength <= this.#low && !this.#sock.destroyed) {
      this.#writePaused = false;
      this.#events.onWriteResumed();
    }
  }
}

/** The connection that owns a socket, kept on the socket for the shared listeners. */
const kConnection: unique symbol = Symbol("asyncore.connection");
type OwnedSocket = net.Socket & { [kConnection]?: NetStreamConnection };

function addressOf(sock: net.Socket, side: "local" | "remote"): Address | undefined {
  if (side === "remote") {
    if (sock.remoteAddress !== undefined && sock.remotePort !== undefined)
      return [sock.remoteAddress, sock.remotePort];
    return undefined;
  }
  if (sock.localAddress !== undefined && sock.localPort !== undefined)
    return [sock.localAddress, sock.localPort];
  return fromAddressInfo(safeAddress(sock));
}

function safeAddress(sock: net.Socket): ReturnType<net.Socket["address"]> | undefined {
  try {
    return sock.address();
  } catch {
    return undefined;
  }
}

/** Node gives `{}` when the peer sent no certificate; asyncio gives nothing. */
function nonEmpty<T extends object>(value: T | null | undefined): T | undefined {
  return value && Object.keys(value).length > 0 ? value : undefined;
}
