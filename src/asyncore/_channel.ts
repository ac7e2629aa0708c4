/**
 * A dispatcher's view of its socket: the readiness that asyncore's `select()` would report.
 *
 * Where the backend offers readiness mode (the native one, `StreamConnection.direct()`), this
 * is the kernel's own: the scheduler polls what `readable()`/`writable()` ask for, the addon
 * reports what the kernel says, and `recv()`/`send()` are single system calls. Elsewhere it is
 * kept up to date from the transport core's events: input is queued as chunks (never
 * concatenated) and reading from the socket pauses while more than {@link READ_QUEUE_LIMIT}
 * bytes wait, so a dispatcher that does not `recv()` holds a bounded amount. Either way, every
 * event that can make the dispatcher ready marks it in its map's scheduler.
 *
 * @module
 */
import type { Address } from "../address.js";
import type {
  DatagramEndpoint,
  DatagramEvents,
  DirectStream,
  ListenerEvents,
  ReadinessEvents,
  StreamConnection,
  StreamListener,
} from "../core/backend.js";
import type { Scheduler } from "./_scheduler.js";
import type { Dispatcher } from "./dispatcher.js";

/** Pause reading from a socket while more than this many received bytes wait for `recv()`. */
export const READ_QUEUE_LIMIT = 64 * 1024;
/** A dispatcher's socket "can take more" while fewer than this many bytes wait to be sent. */
export const SEND_BUFFER_HIGH = 256 * 1024;
/** … and can again once the unsent bytes fall to this. */
export const SEND_BUFFER_LOW = 64 * 1024;
/** Accepted connections kept for `accept()` at most; later ones are closed. */
export const ACCEPT_QUEUE_MIN = 1024;
/** Datagrams kept for `recvfrom()` at most; later ones are dropped, as a full kernel buffer would. */
export const DATAGRAM_QUEUE_LIMIT = 4096;

/** Shared empty queue of a channel that has none: never pushed to, so idle channels allocate none. */
const NONE: never[] = [];

// The channel's booleans, packed into `bits`.
const EOF = 1;
const GONE = 2;
const OWN_PREDICATES = 4;
const CANDIDATE = 8;
/** Readiness mode: the kernel said readable (writable) and no call has shown otherwise since. */
const KERNEL_READABLE = 16;
const KERNEL_WRITABLE = 32;
/** Readiness mode: readability (writability) is polled now. */
const POLL_READ = 64;
const POLL_WRITE = 128;

/**
 * Received chunks from `head` on; the first is consumed up to `offset`; `queued` bytes in all.
 * Made at the first data.
 */
interface Input {
  chunks: Buffer[];
  head: number;
  offset: number;
  queued: number;
}

/**
 * What only listening and datagram sockets have: the listener and the connections and accept
 * errors it queues, or the datagram endpoint and the datagrams it received. Made on first need,
 * so a connection's channel holds none of it.
 */
export class Backlog {
  listener: StreamListener | undefined = undefined;
  datagram: DatagramEndpoint | undefined = undefined;
  /** Accepted connections from `acceptedHead` on (taken ones are cleared, the array reused). */
  accepted: StreamConnection[] = NONE;
  acceptedHead = 0;
  acceptLimit = ACCEPT_QUEUE_MIN;
  /** Accept errors (EMFILE, …) waiting to be reported inside the loop. */
  acceptErrors: Error[] = NONE;
  datagrams: Array<[Buffer, Address]> = NONE;
  droppedDatagrams = 0;
  datagramConnecting = false;

  /** Accepted connections waiting for `accept()`. */
  get acceptedCount(): number {
    return this.accepted.length - this.acceptedHead;
  }

  /** A connection, an accept error or a datagram waits. */
  pending(): boolean {
    return this.acceptedCount > 0 || this.acceptErrors.length > 0 || this.datagrams.length > 0;
  }

  /** Queue an accepted connection. */
  pushAccepted(conn: StreamConnection): void {
    if (this.accepted === NONE) this.accepted = [conn];
    else this.accepted.push(conn);
  }

  /**
   * The oldest accepted connection, or undefined. Without `shift()`, which moves or trims the
   * array on every call and makes pushes reallocate it: a burst of accepts then leaves no garbage.
   */
  takeAccepted(): StreamConnection | undefined {
    const q = this.accepted;
    const i = this.acceptedHead;
    if (i >= q.length) return undefined;
    const conn = q[i]!;
    q[i] = undefined as unknown as StreamConnection;
    if (i + 1 === q.length) {
      // All taken: empty the array in place, keeping its room for the next burst.
      while (q.length > 0) q.pop();
      this.acceptedHead = 0;
    } else {
      this.acceptedHead = i + 1;
    }
    return conn;
  }
}

/**
 * Per-dispatcher socket state. Fields are public to the asyncore layer only (this file is not
 * exported from the package). Thousands of idle connections each hold one, so it keeps few
 * fields: what only some sockets need is made when they need it.
 */
export class Channel implements ReadinessEvents, ListenerEvents, DatagramEvents {
  readonly owner: Dispatcher;
  scheduler: Scheduler | undefined = undefined;
  conn: StreamConnection | undefined = undefined;
  /** `conn` in readiness mode, when its backend has it. */
  io: DirectStream | undefined = undefined;
  /** Received bytes not yet taken by `recv()`. */
  input: Input | undefined = undefined;
  /** `EOF`, `GONE`, `OWN_PREDICATES`, `CANDIDATE`, `KERNEL_*` and `POLL_*`. */
  bits = 0;
  /** A connect, bind or listen failure waiting to be raised inside the loop. */
  failure: Error | null = null;
  /** Listening and datagram sockets only: see {@link Backlog}. */
  backlog: Backlog | undefined = undefined;
  /** The scheduler's collection that last looked at this dispatcher. */
  seen = 0;
  /** Bumped by every operation that changes socket state (recv, send, accept, close …). */
  progress = 0;

  constructor(owner: Dispatcher) {
    this.owner = owner;
  }

  /** The peer sent EOF, or the connection closed under us. */
  get eof(): boolean {
    return (this.bits & EOF) !== 0;
  }
  set eof(on: boolean) {
    this.bits = on ? this.bits | EOF : this.bits & ~EOF;
  }
  /** The connection is gone (reset, EOF and closed, or closed by us). */
  get gone(): boolean {
    return (this.bits & GONE) !== 0;
  }
  set gone(on: boolean) {
    this.bits = on ? this.bits | GONE : this.bits & ~GONE;
  }
  /** The dispatcher's readable()/writable() are its own, so only a sweep can see them change. */
  get ownPredicates(): boolean {
    return (this.bits & OWN_PREDICATES) !== 0;
  }
  set ownPredicates(on: boolean) {
    this.bits = on ? this.bits | OWN_PREDICATES : this.bits & ~OWN_PREDICATES;
  }
  /** The dispatcher is in its scheduler's list of candidates (see `_scheduler.ts`). */
  get candidate(): boolean {
    return (this.bits & CANDIDATE) !== 0;
  }
  set candidate(on: boolean) {
    this.bits = on ? this.bits | CANDIDATE : this.bits & ~CANDIDATE;
  }

  /** Readiness mode: a `recv()` found the kernel drained (or failed): readable no longer. */
  drained(): void {
    this.bits &= ~KERNEL_READABLE;
  }
  /** Readiness mode: a short `send()` found the kernel's buffer full: writable no longer. */
  full(): void {
    this.bits &= ~KERNEL_WRITABLE;
  }

  /**
   * Readiness mode: start a connection in it when its backend can (else the connection starts
   * as usual, on events).
   */
  adopt(conn: StreamConnection): void {
    this.conn = conn;
    this.io = conn.direct?.(this);
    if (this.io === undefined) conn.start(this);
    // A connected socket starts with room to send.
    else if (!conn.connecting) this.bits |= KERNEL_WRITABLE;
  }

  /**
   * Readiness mode: poll the kernel for what the dispatcher wants: reading while it is
   * `readable()` (the interest stays as data comes and goes, with no system call to change it),
   * writing while it is `writable()` and a `send()` found the kernel's buffer full (room
   * otherwise stays known).
   */
  poll(read: boolean, write: boolean): void {
    if ((this.bits & GONE) === 0)
      this.#poll(read && (this.bits & EOF) === 0, write && (this.bits & KERNEL_WRITABLE) === 0);
  }

  /**
   * Readiness mode: the handlers ignored a readable socket (no `recv()`, nothing else done).
   * The kernel would report it again on every turn: poll for reading no more until the next
   * sweep looks at the dispatcher.
   */
  ignoredRead(): void {
    if ((this.bits & GONE) === 0) this.#poll(false, (this.bits & POLL_WRITE) !== 0);
  }

  #poll(read: boolean, write: boolean): void {
    this.bits = (this.bits & ~(POLL_READ | POLL_WRITE)) | (read ? POLL_READ : 0) | (write ? POLL_WRITE : 0);
    this.io!.setInterest(read, write);
  }

  /** Bytes received and not yet taken by `recv()`. */
  get queued(): number {
    return this.input === undefined ? 0 : this.input.queued;
  }

  /** The listener of a listening socket. */
  get listener(): StreamListener | undefined {
    return this.backlog?.listener;
  }
  set listener(listener: StreamListener | undefined) {
    this.queues().listener = listener;
  }
  /** The endpoint of a datagram socket. */
  get datagram(): DatagramEndpoint | undefined {
    return this.backlog?.datagram;
  }
  set datagram(datagram: DatagramEndpoint | undefined) {
    this.queues().datagram = datagram;
  }

  /** The backlog, made on first need. */
  queues(): Backlog {
    return (this.backlog ??= new Backlog());
  }

  /** Readiness for reading: data, EOF, a reset, a pending connection, a datagram or an error. */
  readPending(): boolean {
    return (
      this.queued > 0 ||
      (this.bits & (EOF | KERNEL_READABLE)) !== 0 ||
      this.failure !== null ||
      this.backlog?.pending() === true
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
    if (conn !== undefined) {
      if (this.io !== undefined)
        return this.gone || (!conn.connecting && (this.bits & KERNEL_WRITABLE) !== 0);
      return this.gone || (!conn.connecting && !conn.writePaused && conn.writable);
    }
    return this.datagram !== undefined && !this.datagram.closed && !this.backlog?.datagramConnecting;
  }

  /** Socket events come from Node's event loop, never from inside a handler. */
  markFromEvent(): void {
    this.scheduler?.markFromEvent(this.owner);
  }

  // --- stream events -------------------------------------------------------------------------
  onConnect(): void {
    // A connect completes when the socket turns writable.
    if (this.io !== undefined) this.bits |= KERNEL_WRITABLE;
    this.markFromEvent();
  }

  onReadable(): void {
    // Reported again before anyone read: no loop is serving the dispatcher now (or it is
    // behind). The kernel would say the same on every turn of Node's loop: stop polling until
    // the scheduler looks at the dispatcher, which polls anew.
    if ((this.bits & (KERNEL_READABLE | GONE)) === KERNEL_READABLE)
      this.#poll(false, (this.bits & POLL_WRITE) !== 0);
    this.bits |= KERNEL_READABLE;
    this.markFromEvent();
  }

  onWritable(): void {
    this.bits |= KERNEL_WRITABLE;
    // Known room needs no poll (and would be reported on every turn).
    if ((this.bits & (POLL_WRITE | GONE)) === POLL_WRITE) this.#poll((this.bits & POLL_READ) !== 0, false);
    this.markFromEvent();
  }

  onData(chunk: Buffer): void {
    let input = this.input;
    if (input === undefined) this.input = input = { chunks: [chunk], head: 0, offset: 0, queued: 0 };
    else input.chunks.push(chunk);
    input.queued += chunk.length;
    // More than the limit, not as much: a full 64 KiB read alone must not pause and resume
    // reading (two system calls) each time.
    if (input.queued > READ_QUEUE_LIMIT) this.conn?.pauseReading();
    this.markFromEvent();
  }

  onEnd(): void {
    this.eof = true;
    this.markFromEvent();
  }

  onWritePaused(): void {}

  onWriteResumed(): void {
    this.markFromEvent();
  }

  /** A stream closed (`err` says why); listeners and datagram endpoints call it with no error. */
  onClose(err: Error | null = null): void {
    if (this.listener !== undefined || this.datagram !== undefined) return;
    // A connect that fails is raised by handleConnectEvent(); a later error reads as EOF.
    if (err !== null && this.owner.connecting) this.failure = err;
    this.bits |= EOF | GONE;
    this.markFromEvent();
  }

  // --- listener events -----------------------------------------------------------------------
  onConnection(conn: StreamConnection): void {
    const backlog = this.queues();
    if (backlog.acceptedCount >= backlog.acceptLimit) {
      conn.abort();
      if (backlog.acceptErrors === NONE) backlog.acceptErrors = [];
      backlog.acceptErrors.push(
        Object.assign(
          new Error(`Connection dropped: ${backlog.acceptLimit} accepted connections wait for accept()`),
          {
            code: "ERR_LIMIT_REACHED",
          },
        ),
      );
    } else {
      backlog.pushAccepted(conn);
    }
    this.markFromEvent();
  }

  onAcceptError(err: Error): void {
    const backlog = this.queues();
    if (backlog.acceptErrors === NONE) backlog.acceptErrors = [];
    backlog.acceptErrors.push(err);
    this.markFromEvent();
  }

  // --- datagram events -----------------------------------------------------------------------
  onMessage(data: Buffer, from: Address): void {
    const backlog = this.queues();
    if (backlog.datagrams.length >= DATAGRAM_QUEUE_LIMIT) {
      backlog.droppedDatagrams++;
      return;
    }
    if (backlog.datagrams === NONE) backlog.datagrams = [];
    backlog.datagrams.push([data, from]);
    this.markFromEvent();
  }

  onError(err: Error): void {
    // Datagram send/receive errors (an ICMP port unreachable …) surface at the next recv.
    this.failure = err;
    this.markFromEvent();
  }

  // --- input queue ---------------------------------------------------------------------------
  /** Take up to `n` queued bytes (n > 0, `queued > 0`). Returns the chunk itself when it fits whole. */
  take(n: number): Buffer {
    const input = this.input!;
    const chunk = input.chunks[input.head]!;
    const available = chunk.length - input.offset;
    let out: Buffer;
    if (available <= n) {
      out = input.offset === 0 ? chunk : chunk.subarray(input.offset);
      this.#dropHead(input);
    } else {
      out = chunk.subarray(input.offset, input.offset + n);
      input.offset += n;
    }
    this.#consumed(input, out.length);
    return out;
  }

  /**
   * Copy queued bytes to the start of `target` until it is full or the queue empty, and return
   * their count (`target` not empty, `queued > 0`). Allocates nothing: for `recvInto()`.
   */
  takeInto(target: Uint8Array): number {
    const input = this.input!;
    let n = 0;
    while (n < target.length && input.head < input.chunks.length) {
      const chunk = input.chunks[input.head]!;
      const end = Math.min(chunk.length, input.offset + target.length - n);
      n += chunk.copy(target, n, input.offset, end);
      if (end === chunk.length) this.#dropHead(input);
      else input.offset = end;
    }
    this.#consumed(input, n);
    return n;
  }

  /** The head chunk was taken whole: clear its slot and move on. */
  #dropHead(input: Input): void {
    input.chunks[input.head] = undefined as unknown as Buffer;
    input.head++;
    input.offset = 0;
    if (input.head === input.chunks.length) {
      // Every slot is empty. pop() is much cheaper than `length = 0` (a runtime call) and
      // costs one step per chunk queued.
      const chunks = input.chunks;
      while (chunks.length > 0) chunks.pop();
      input.head = 0;
    } else if (input.head > 64 && input.head * 2 > input.chunks.length) {
      input.chunks = input.chunks.slice(input.head);
      input.head = 0;
    }
  }

  /** `n` bytes were taken: resume reading once the queue is back under its limit. */
  #consumed(input: Input, n: number): void {
    input.queued -= n;
    if (input.queued <= READ_QUEUE_LIMIT && this.conn !== undefined && !this.conn.reading && !this.gone) {
      this.conn.resumeReading();
    }
  }

  /** Forget the socket objects (after close). */
  release(): void {
    this.input = undefined;
    const backlog = this.backlog;
    if (backlog === undefined) return;
    for (let conn = backlog.takeAccepted(); conn !== undefined; conn = backlog.takeAccepted()) conn.abort();
    backlog.datagrams = NONE;
  }
}
