/**
 * A dispatcher's view of its socket: the readiness that asyncore's `select()` would report,
 * kept up to date from the transport core's events instead of being asked of the kernel.
 *
 * Input is queued as chunks (never concatenated); reading from the socket pauses while more than
 * {@link READ_QUEUE_LIMIT} bytes wait, so a dispatcher that does not `recv()` holds a bounded
 * amount. Every event that can make the dispatcher ready marks it in its map's scheduler.
 *
 * @module
 */
import type { Address } from "../address.js";
import type {
  DatagramEndpoint,
  DatagramEvents,
  ListenerEvents,
  StreamConnection,
  StreamEvents,
  StreamListener,
} from "../core/backend.js";
import type { Scheduler } from "./_scheduler.js";
import type { Dispatcher } from "./dispatcher.js";

/** Pause reading from a socket while this many received bytes wait for `recv()`. */
export const READ_QUEUE_LIMIT = 64 * 1024;
/** A dispatcher's socket "can take more" while fewer than this many bytes wait to be sent. */
export const SEND_BUFFER_HIGH = 256 * 1024;
/** … and can again once the unsent bytes fall to this. */
export const SEND_BUFFER_LOW = 64 * 1024;
/** Accepted connections kept for `accept()` at most; later ones are closed. */
export const ACCEPT_QUEUE_MIN = 1024;
/** Datagrams kept for `recvfrom()` at most; later ones are dropped, as a full kernel buffer would. */
export const DATAGRAM_QUEUE_LIMIT = 4096;

/** Shared empty queue: replaced by a real array before the first push, so idle channels allocate none. */
const NONE: never[] = [];

/**
 * Per-dispatcher socket state. Fields are public to the asyncore layer only (this file is not
 * exported from the package).
 */
export class Channel implements StreamEvents, ListenerEvents, DatagramEvents {
  readonly owner: Dispatcher;
  scheduler: Scheduler | undefined;
  conn: StreamConnection | undefined;
  listener: StreamListener | undefined;
  datagram: DatagramEndpoint | undefined;

  /** Received chunks from `head` on; the first is consumed up to `offset`. */
  chunks: Buffer[] = NONE;
  head = 0;
  offset = 0;
  queued = 0;
  /** The peer sent EOF, or the connection closed under us. */
  eof = false;
  /** The connection is gone (reset, EOF and closed, or closed by us). */
  gone = false;
  /** A connect, bind or listen failure waiting to be raised inside the loop. */
  failure: Error | null = null;
  accepted: StreamConnection[] = NONE;
  acceptLimit = ACCEPT_QUEUE_MIN;
  datagrams: Array<[Buffer, Address]> = NONE;
  droppedDatagrams = 0;
  datagramConnecting = false;
  /** Accept errors (EMFILE, …) waiting to be reported inside the loop. */
  acceptErrors: Error[] = NONE;
  /** The dispatcher's readable()/writable() are its own, so only a sweep can see them change. */
  ownPredicates = false;
  /** The scheduler's collection that last looked at this dispatcher. */
  seen = 0;
  /** Bumped by every operation that changes socket state (recv, send, accept, close …). */
  progress = 0;

  constructor(owner: Dispatcher) {
    this.owner = owner;
  }

  /** Readiness for reading: data, EOF, a reset, a pending connection, a datagram or an error. */
  readPending(): boolean {
    return (
      this.queued > 0 ||
      this.eof ||
      this.failure !== null ||
      this.accepted.length > 0 ||
      this.acceptErrors.length > 0 ||
      this.datagrams.length > 0
    );
  }

  /**
   * Readiness for writing: the socket can take more, a connect just finished, it failed, or the
   * connection is gone (as `poll()` reports a dead socket writable with `POLLHUP`: the next
   * `send()` then finds the peer gone and calls `handleClose()`, even when `readable()` is false).
   */
  writeReady(): boolean {
    if (this.failure !== null) return true;
    const conn = this.conn;
    if (conn !== undefined) return this.gone || (!conn.connecting && !conn.writePaused && conn.writable);
    return this.datagram !== undefined && !this.datagram.closed && !this.datagramConnecting;
  }

  /** Socket events come from Node's event loop, never from inside a handler. */
  #mark(): void {
    this.scheduler?.markFromEvent(this.owner);
  }

  // --- stream events -------------------------------------------------------------------------
  onConnect(): void {
    this.#mark();
  }

  onData(chunk: Buffer): void {
    if (this.chunks === NONE) this.chunks = [];
    this.chunks.push(chunk);
    this.queued += chunk.length;
    if (this.queued >= READ_QUEUE_LIMIT) this.conn?.pauseReading();
    this.#mark();
  }

  onEnd(): void {
    this.eof = true;
    this.#mark();
  }

  onWritePaused(): void {}

  onWriteResumed(): void {
    this.#mark();
  }

  /** A stream closed (`err` says why); listeners and datagram endpoints call it with no error. */
  onClose(err: Error | null = null): void {
    if (this.listener !== undefined || this.datagram !== undefined) return;
    // A connect that fails is raised by handleConnectEvent(); a later error reads as EOF.
    if (err !== null && this.owner.connecting) this.failure = err;
    this.eof = true;
    this.gone = true;
    this.#mark();
  }

  // --- listener events -----------------------------------------------------------------------
  onConnection(conn: StreamConnection): void {
    if (this.accepted.length >= this.acceptLimit) {
      conn.abort();
      if (this.acceptErrors === NONE) this.acceptErrors = [];
      this.acceptErrors.push(
        Object.assign(
          new Error(`Connection dropped: ${this.acceptLimit} accepted connections wait for accept()`),
          {
            code: "ERR_LIMIT_REACHED",
          },
        ),
      );
    } else {
      if (this.accepted === NONE) this.accepted = [];
      this.accepted.push(conn);
    }
    this.#mark();
  }

  onAcceptError(err: Error): void {
    if (this.acceptErrors === NONE) this.acceptErrors = [];
    this.acceptErrors.push(err);
    this.#mark();
  }

  // --- datagram events -----------------------------------------------------------------------
  onMessage(data: Buffer, from: Address): void {
    if (this.datagrams.length >= DATAGRAM_QUEUE_LIMIT) {
      this.droppedDatagrams++;
      return;
    }
    if (this.datagrams === NONE) this.datagrams = [];
    this.datagrams.push([data, from]);
    this.#mark();
  }

  onError(err: Error): void {
    // Datagram send/receive errors (an ICMP port unreachable …) surface at the next recv.
    this.failure = err;
    this.#mark();
  }

  // --- input queue ---------------------------------------------------------------------------
  /** Take up to `n` queued bytes (n > 0). Returns the chunk itself when it fits whole. */
  take(n: number): Buffer {
    const chunk = this.chunks[this.head]!;
    const available = chunk.length - this.offset;
    let out: Buffer;
    if (available <= n) {
      out = this.offset === 0 ? chunk : chunk.subarray(this.offset);
      this.chunks[this.head] = undefined as unknown as Buffer;
      this.head++;
      this.offset = 0;
      if (this.head === this.chunks.length) {
        this.chunks.length = 0;
        this.head = 0;
      } else if (this.head > 64 && this.head * 2 > this.chunks.length) {
        this.chunks = this.chunks.slice(this.head);
        this.head = 0;
      }
    } else {
      out = chunk.subarray(this.offset, this.offset + n);
      this.offset += n;
    }
    this.queued -= out.length;
    if (this.queued < READ_QUEUE_LIMIT && this.conn !== undefined && !this.conn.reading && !this.gone) {
      this.conn.resumeReading();
    }
    return out;
  }

  /** Forget the socket objects (after close). */
  release(): void {
    this.chunks = NONE;
    this.head = 0;
    this.offset = 0;
    this.queued = 0;
    for (const conn of this.accepted) conn.abort();
    this.accepted = NONE;
    this.datagrams = NONE;
  }
}
