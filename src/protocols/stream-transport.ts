/**
 * {@link Transport} over a core {@link StreamConnection}: the glue that turns the core's events
 * into protocol callbacks, in the documented order, with each callback's failure confined to
 * its own connection.
 *
 * Made by `createServer`/`createConnection`; user code only sees the `Transport` interface.
 *
 * @module
 */
import type * as tls from "node:tls";
import { type BytesLike, toBuffer } from "../address.js";
import type { BufferedStreamEvents, StreamConnection, StreamEvents } from "../core/index.js";
import { codedError, codes, invalidReturnValue, socketClosed, toCodedError } from "../errors.js";
import { callExceptionHandler } from "./exception-handler.js";
import {
  type BufferedProtocol,
  isBufferedProtocol,
  type Protocol,
  type StreamProtocol,
  type Transport,
} from "./protocol.js";

// The transport's booleans, packed into one integer (`#state`).
const CLOSING = 1;
const EOF_WRITTEN = 2;
const LOST = 4;
/** The protocol is a `BufferedProtocol`: reads land in its memory; writes copy what waits. */
const BUFFERED = 8;

/**
 * The core's events for one transport, as methods on a shared prototype: an idle connection
 * then holds one small object rather than a closure per event. Defined by `StreamTransport`'s
 * static block, which gives it the transport's private members.
 */
let TransportEvents: new (transport: StreamTransport) => StreamEvents;
/** The same for a `BufferedProtocol`. */
let BufferedTransportEvents: new (transport: StreamTransport) => BufferedEvents;

/** The events of a buffered protocol's transport, told when reading resumes. */
interface BufferedEvents extends BufferedStreamEvents {
  /** What a pause left of the last chunk (on backends that hand over chunks). */
  rest: Buffer | undefined;
  /** Reading resumed: hand over what a pause left of the last chunk (soon, not inside the call). */
  resumed(): void;
}

/**
 * A byte-stream transport. Python: `asyncio.selector_events._SelectorSocketTransport` (and the
 * TLS transport of `sslproto`), behind the `asyncio.Transport` interface.
 *
 * @example
 * ```ts
 * const [transport] = await createConnection(() => ({}), "127.0.0.1", port);
 * transport.writeLines(["GET / HTTP/1.0\r\n", "\r\n"]);
 * ```
 */
export class StreamTransport implements Transport {
  #conn: StreamConnection;
  #protocol: StreamProtocol;
  /**
   * The events object the connection reports to, from `begin()` on (replaced when the
   * protocol's kind changes).
   */
  #events: StreamEvents | undefined;
  #onLost: ((transport: StreamTransport) => void) | undefined;
  /** `CLOSING`, `EOF_WRITTEN`, `LOST`. */
  #state = 0;
  /** What a protocol callback threw: passed to `connectionLost` instead of the core's cause. */
  #failure: Error | null = null;

  static {
    const Events = class {
      readonly t: StreamTransport;
      constructor(transport: StreamTransport) {
        this.t = transport;
      }
      onData(chunk: Buffer): void {
        const t = this.t;
        if (t.#state & CLOSING) return;
        try {
          (t.#protocol as Protocol).dataReceived?.(chunk);
        } catch (err) {
          t.#fail(err, "dataReceived");
        }
      }
      onEnd(): void {
        this.t.#eofReceived();
      }
      onWritePaused(): void {
        this.t.#callFlow("pauseWriting");
      }
      onWriteResumed(): void {
        this.t.#callFlow("resumeWriting");
      }
      onClose(err: Error | null): void {
        this.t.#connectionLost(err);
      }
    };
    TransportEvents = Events;
    BufferedTransportEvents = class extends Events {
      getBuffer(sizeHint: number): Uint8Array | undefined {
        const t = this.t;
        if (t.#state & CLOSING) return undefined;
        let memory: unknown;
        try {
          memory = (t.#protocol as BufferedProtocol).getBuffer(sizeHint);
        } catch (err) {
          t.#fail(err, "getBuffer");
          return undefined;
        }
        if (memory instanceof Uint8Array && memory.length > 0) return memory;
        t.#fail(invalidReturnValue("getBuffer() must return a non-empty Uint8Array"), "getBuffer");
        return undefined;
      }
      onBuffered(n: number): void {
        const t = this.t;
        if (t.#state & CLOSING) return;
        try {
          (t.#protocol as BufferedProtocol).bufferUpdated(n);
        } catch (err) {
          t.#fail(err, "bufferUpdated");
        }
      }
      /** What a pause left of the last chunk, handed over when reading resumes. */
      rest: Buffer | undefined;
      /**
       * A backend that reads into its own memory (node:net, TLS): copy the chunk in, piece by
       * piece, stopping where the protocol pauses reading (asyncio's TLS transport does too).
       */
      override onData(chunk: Buffer): void {
        const t = this.t;
        if (this.rest !== undefined) {
          chunk = Buffer.concat([this.rest, chunk]);
          this.rest = undefined;
        }
        for (let at = 0; at < chunk.length; ) {
          if (!t.#conn.reading && (t.#state & CLOSING) === 0) {
            this.rest = chunk.subarray(at);
            return;
          }
          const memory = this.getBuffer(chunk.length - at);
          if (memory === undefined) return;
          const n = Math.min(memory.length, chunk.length - at);
          memory.set(chunk.subarray(at, at + n));
          at += n;
          this.onBuffered(n);
        }
      }
      resumed(): void {
        if (this.rest === undefined) return;
        queueMicrotask(() => {
          if (this.rest === undefined || this.t.#events !== this) return;
          const rest = this.rest;
          this.rest = undefined;
          this.onData(rest);
        });
      }
    };
  }

  /**
   * @param conn a core connection, connected (or accepted) and not yet started by anyone else
   *   than a connector waiting for `onConnect`
   * @param protocol the protocol to drive
   * @param onLost runs after `connectionLost` (a server uses it to count its connections)
   */
  constructor(
    conn: StreamConnection,
    protocol: StreamProtocol,
    onLost?: (transport: StreamTransport) => void,
  ) {
    this.#conn = conn;
    this.#protocol = protocol;
    this.#onLost = onLost;
    if (isBufferedProtocol(protocol)) this.#state = BUFFERED;
  }

  /**
   * Take over the connection's events, then run `connectionMade`. Returns what
   * `connectionMade` threw (the connection is then being aborted), or `null`.
   */
  begin(): Error | null {
    this.#listen();
    try {
      this.#protocol.connectionMade?.(this);
    } catch (err) {
      this.#fail(err, "connectionMade");
    }
    return this.#failure;
  }

  write(data: BytesLike): void {
    if (this.#state & CLOSING) throw socketClosed("the transport");
    if (this.#state & EOF_WRITTEN) throw eofWritten();
    const buf = toBuffer(data);
    if (buf.length === 0) return;
    this.#conn.write(buf, (this.#state & BUFFERED) !== 0);
  }

  writeLines(list: Iterable<BytesLike>): void {
    if (this.#state & CLOSING) throw socketClosed("the transport");
    if (this.#state & EOF_WRITTEN) throw eofWritten();
    const chunks: Buffer[] = [];
    for (const item of list) {
      const buf = toBuffer(item);
      if (buf.length > 0) chunks.push(buf);
    }
    if (chunks.length === 0) return;
    const buffered = (this.#state & BUFFERED) !== 0;
    if (chunks.length === 1) this.#conn.write(chunks[0]!, buffered);
    // A buffered protocol may reuse its memory at once: its chunks go as one copy of their own.
    else if (buffered) this.#conn.write(Buffer.concat(chunks));
    else this.#conn.writev(chunks);
  }

  writeEof(): void {
    if (!this.#conn.canEnd) {
      throw codedError(codes.BAD_SOCKET, "Cannot write EOF: this transport cannot half-close (TLS)");
    }
    if (this.#state & (CLOSING | EOF_WRITTEN)) return;
    this.#state |= EOF_WRITTEN;
    this.#conn.end();
  }

  canWriteEof(): boolean {
    return this.#conn.canEnd;
  }

  close(): void {
    if (this.#state & CLOSING) return;
    this.#state |= CLOSING;
    this.#conn.close();
  }

  abort(): void {
    if (this.#state & LOST) return;
    this.#state |= CLOSING;
    this.#conn.abort();
  }

  isClosing(): boolean {
    return (this.#state & CLOSING) !== 0;
  }

  pauseReading(): void {
    if (this.#state & CLOSING || !this.#conn.reading) return;
    this.#conn.pauseReading();
  }

  resumeReading(): void {
    if (this.#state & CLOSING || this.#conn.reading) return;
    this.#conn.resumeReading();
    if (this.#state & BUFFERED) (this.#events as BufferedEvents).resumed();
  }

  isReading(): boolean {
    return (this.#state & CLOSING) === 0 && this.#conn.reading;
  }

  setWriteBufferLimits(high?: number, low?: number): void {
    this.#conn.setWriteBufferLimits(high, low);
  }

  getWriteBufferSize(): number {
    return this.#conn.writeBufferSize;
  }

  getWriteBufferLimits(): [low: number, high: number] {
    return this.#conn.getWriteBufferLimits();
  }

  getExtraInfo(name: string, fallback?: unknown): unknown {
    return this.#conn.getExtraInfo(name, fallback);
  }

  /** The protocol this transport drives. Python: `BaseTransport.get_protocol()`. */
  getProtocol(): StreamProtocol {
    return this.#protocol;
  }

  /**
   * Hand the connection to another protocol; later callbacks go to it (its `connectionMade`
   * is not called). Either kind may follow either. Python: `BaseTransport.set_protocol()`.
   */
  setProtocol(protocol: StreamProtocol): void {
    this.#protocol = protocol;
    const buffered = isBufferedProtocol(protocol) ? BUFFERED : 0;
    if ((this.#state & BUFFERED) === buffered) return;
    this.#state = (this.#state & ~BUFFERED) | buffered;
    if (this.#events !== undefined && (this.#state & LOST) === 0) this.#listen();
  }

  /** Take the connection's events, in the kind the protocol needs. */
  #listen(): void {
    const previous = this.#events;
    const events = this.#state & BUFFERED ? new BufferedTransportEvents(this) : new TransportEvents(this);
    this.#events = events;
    this.#conn.start(events);
    // Bytes a pause held back from the previous protocol go to the next one, in order.
    if (previous instanceof BufferedTransportEvents && previous.rest !== undefined) {
      const rest = previous.rest;
      previous.rest = undefined;
      if (events instanceof BufferedTransportEvents) events.rest = rest;
      else queueMicrotask(() => this.#events === events && events.onData(rest));
    }
  }

  /**
   * Upgrade the connection to TLS in place (for streams' `startTls`). Resolves once the
   * handshake is done; callbacks keep going to the same protocol.
   * Python: `loop.start_tls()` (which returns a new transport instead).
   * @throws `ERR_SOCKET_CLOSED` (as a rejection) once closing.
   */
  startTls(options: tls.ConnectionOptions | (tls.TlsOptions & { isServer?: boolean })): Promise<void> {
    if (this.#state & CLOSING) return Promise.reject(socketClosed("the transport"));
    return this.#conn.startTls(options);
  }

  #eofReceived(): void {
    if (this.#state & CLOSING) return;
    let keepOpen: unknown;
    try {
      keepOpen = this.#protocol.eofReceived?.();
    } catch (err) {
      this.#fail(err, "eofReceived");
      return;
    }
    // TLS cannot half-close: like asyncio, a `true` has no effect there.
    if (keepOpen !== true || !this.#conn.canEnd) this.close();
  }

  #callFlow(name: "pauseWriting" | "resumeWriting"): void {
    if (this.#state & LOST) return;
    try {
      this.#protocol[name]?.();
    } catch (err) {
      this.#fail(err, name);
    }
  }

  #connectionLost(err: Error | null): void {
    if (this.#state & LOST) return;
    this.#state |= LOST | CLOSING;
    const cause = this.#failure ?? err;
    try {
      this.#protocol.connectionLost?.(cause);
    } catch (thrown) {
      this.#report(thrown, "connectionLost");
    }
    this.#onLost?.(this);
  }

  /** A protocol callback threw: report it, then abort this connection with it as the cause. */
  #fail(thrown: unknown, where: string): void {
    const err = this.#report(thrown, where);
    if (this.#state & LOST) return;
    this.#failure ??= err;
    this.#state |= CLOSING;
    this.#conn.abort(err);
  }

  #report(thrown: unknown, where: string): Error {
    const err = toCodedError(thrown);
    callExceptionHandler({
      message: `Exception in Protocol.${where}()`,
      exception: err,
      transport: this,
      protocol: this.#protocol,
    });
    return err;
  }
}

function eofWritten(): Error {
  return codedError(codes.SOCKET_CLOSED, "Cannot write: the write side was shut by writeEof()");
}
