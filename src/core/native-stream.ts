/**
 * {@link StreamConnection} over a native non-blocking socket (TCP or Unix-domain), polled by
 * the addon's epoll instance on Node's loop.
 *
 * The kernel is asked directly: a write goes to `send()` at once when nothing waits before it,
 * and what the kernel does not take waits in a userland queue, written with `sendmsg()` (one
 * system call for many buffers) when the socket becomes writable; write interest is polled
 * only while that queue is non-empty. Read interest is polled while the owner reads. The
 * behaviours are those of the `node:net` connection: high/low water marks, half-close reported
 * by `onEnd`, one `onClose(err)`, `close()` flushing and `abort()` dropping.
 *
 * In readiness mode (`direct()`, asyncore's dispatchers) the owner chooses the interest and
 * makes the system calls itself: the addon reports readiness, `recv()` is one `recv()` and
 * `send()` one `send()`, and nothing is buffered in between.
 *
 * `startTls()` hands the descriptor over to a `net.Socket` and goes on through `node:tls`: from
 * then on this connection forwards every call to a `node:net` connection.
 *
 * @module
 */
import * as net from "node:net";
import type * as tls from "node:tls";
import type { Address } from "../address.js";
import { codedError, codes, socketClosed } from "../errors.js";
import {
  type BufferedStreamEvents,
  type ConnectOptions,
  type DirectStream,
  type ReadinessEvents,
  readsIntoOwnMemory,
  type StreamConnection,
  type StreamEvents,
} from "./backend.js";
import {
  type HandleOwner,
  type NativeAddon,
  type NativeHandle,
  receive,
  systemError,
} from "./native-addon.js";
import { literalTarget, type NativeTarget, resolveTargets, targetAddress } from "./native-resolve.js";
import { NativeSocket, type NativeSocketOwner } from "./native-socket.js";
import { NetStreamConnection } from "./net-stream.js";
import { DEFAULT_WRITE_LIMITS, noStreamEvents, sharedWriteBufferLimits } from "./write-limits.js";

/** `writev` takes at most this many buffers per call (the addon's iovec limit). */
const MAX_IOV = 1024;

/**
 * The write queue of every connection whose bytes all went to the kernel: never pushed to (a
 * real array replaces it first), so an idle connection holds no array of its own.
 */
const NO_QUEUE: Buffer[] = [];

// The connection's booleans, packed into one integer (`#state`): thousands of idle connections
// then cost one field each instead of a dozen.
const STARTED = 1 << 0;
const WRITE_PAUSED = 1 << 1;
const READING = 1 << 2;
const WRITABLE = 1 << 3;
const CLOSED = 1 << 4;
const ENDED = 1 << 5;
const CONNECTING = 1 << 6;
/** Closed for good: the close is reported (or will be, at `start()`). */
const REPORTED = 1 << 7;
const END_PENDING = 1 << 8;
const SHUT = 1 << 9;
const CLOSE_AFTER_FLUSH = 1 << 10;
/** `startTls()` handed the descriptor over: every call goes to `#rare.delegate`. */
const TLS = 1 << 11;
/** Readiness mode (`direct()`): the owner polls, reads and writes; `WANT_*` is what it polls. */
const DIRECT = 1 << 12;
const WANT_READ = 1 << 13;
const WANT_WRITE = 1 << 14;
/** The owner gives the memory reads land in ({@link BufferedStreamEvents}): read in notify mode. */
const BUFFERED = 1 << 15;

const EMPTY = Buffer.alloc(0);

/**
 * What few connections need, made on first need: the close cause, the local address once read,
 * a dialled Unix path, the dial targets, `startTls()`'s waiters and the TLS connection after it.
 */
interface Rare {
  error: Error | null;
  local: Address | undefined;
  peerPath: string | undefined;
  targets: NativeTarget[];
  targetIndex: number;
  flushWaiters: Array<{ resolve: () => void; reject: (err: Error) => void }>;
  delegate: NetStreamConnection | undefined;
}

/**
 * A native stream connection. Made by the native backend: accepted by a listener, or dialled
 * with {@link NativeStreamConnection.connect}.
 */
export class NativeStreamConnection
  implements StreamConnection, DirectStream, HandleOwner, NativeSocketOwner
{
  readonly #addon: NativeAddon;
  #h: NativeHandle | null;
  #events: StreamEvents = noStreamEvents;
  /** The flags above. */
  #state: number;
  /** `[low, high]` water marks, shared with other connections set alike. */
  #limits = DEFAULT_WRITE_LIMITS;
  /** Bytes the kernel has not taken yet (`NO_QUEUE` while there are none). */
  #queue: Buffer[] = NO_QUEUE;
  /** Bytes of `#queue[0]` already sent. */
  #offset = 0;
  #queued = 0;
  /** The interest last given to the addon. */
  #mask = 0;
  #remote: Address | undefined;
  #socket: NativeSocket | undefined;
  #rare: Rare | undefined;

  /** @internal Wrap an accepted (or dialling, `handle` null) socket. */
  constructor(addon: NativeAddon, handle: NativeHandle | null, peerPath?: string) {
    this.#addon = addon;
    this.#h = handle;
    this.#state = handle === null ? READING | WRITABLE | CONNECTING : READING | WRITABLE;
    if (peerPath !== undefined) this.#more().peerPath = peerPath;
    if (handle !== null) handle.owner = this;
  }

  get backend(): "native" {
    return "native";
  }

  /**
   * Dial `addr` (host names are looked up first; each address is tried in turn). Failure
   * arrives as `onClose(err)`; success as `onConnect()`.
   */
  static connect(
    addon: NativeAddon,
    addr: Address,
    options: ConnectOptions,
    events: StreamEvents,
  ): NativeStreamConnection {
    const conn = new NativeStreamConnection(addon, null, typeof addr === "string" ? addr : undefined);
    conn.start(events);
    let targets: NativeTarget[] | Promise<NativeTarget[]>;
    try {
      targets = resolveTargets(addon, addr);
    } catch (err) {
      conn.#finish(err as Error);
      return conn;
    }
    if (Array.isArray(targets)) conn.#dial(targets, 0, options.localAddr);
    else
      targets.then(
        (list) => conn.#dial(list, 0, options.localAddr),
        (err: Error) => conn.#finish(err),
      );
    return conn;
  }

  get connecting(): boolean {
    return this.#state & TLS ? this.#tls().connecting : (this.#state & CONNECTING) !== 0;
  }
  get closed(): boolean {
    return this.#state & TLS ? this.#tls().closed : (this.#state & CLOSED) !== 0;
  }
  get ended(): boolean {
    return this.#state & TLS ? this.#tls().ended : (this.#state & ENDED) !== 0;
  }
  get writable(): boolean {
    return this.#state & TLS ? this.#tls().writable : (this.#state & (WRITABLE | CLOSED)) === WRITABLE;
  }
  get writeBufferSize(): number {
    return this.#state & TLS ? this.#tls().writeBufferSize : this.#queued;
  }
  get writePaused(): boolean {
    return this.#state & TLS ? this.#tls().writePaused : (this.#state & WRITE_PAUSED) !== 0;
  }
  get reading(): boolean {
    return this.#state & TLS ? this.#tls().reading : (this.#state & READING) !== 0;
  }
  get canEnd(): boolean {
    return this.#state & TLS ? this.#tls().canEnd : true;
  }
  get localAddress(): Address | undefined {
    if (this.#state & TLS) return this.#tls().localAddress;
    const cached = this.#rare?.local;
    if (cached !== undefined) return cached;
    const a = this.#h?.sockname();
    if ((this.#state & CONNECTING) === 0 && a !== undefined) this.#more().local = a;
    return a;
  }
  get remoteAddress(): Address | undefined {
    if (this.#state & TLS) return this.#tls().remoteAddress;
    const peerPath = this.#rare?.peerPath;
    if (this.#remote === undefined && (this.#state & CONNECTING) === 0 && this.#h !== null) {
      const a = this.#h.peername();
      // A Unix client's peer is the path it dialled, which the kernel reports as well.
      this.#remote = a === "" && peerPath !== undefined ? peerPath : sharedHost(a);
    }
    return this.#remote ?? peerPath;
  }
  /** The {@link NativeSocket} (after `startTls()`: the `tls.TLSSocket`). */
  get raw(): unknown {
    if (this.#state & TLS) return this.#tls().raw;
    this.#socket ??= new NativeSocket(this);
    return this.#socket;
  }

  start(events: StreamEvents): void {
    this.#events = events;
    if (this.#state & TLS) {
      this.#tls().start(events);
      return;
    }
    const buffered = readsIntoOwnMemory(events) ? BUFFERED : 0;
    const was = this.#state;
    this.#state = (was & ~BUFFERED) | buffered | STARTED;
    if (was & STARTED) {
      if ((was & BUFFERED) !== buffered) this.#update();
      return;
    }
    this.#update();
    // A socket that failed before its owner started it still reports its close.
    if (this.#state & REPORTED) this.#reportCloseVia(queueMicrotask);
  }

  write(data: Buffer, borrowed = false): void {
    if (this.#state & TLS) {
      this.#tls().write(data, borrowed);
      return;
    }
    if ((this.#state & (WRITABLE | CLOSED)) !== WRITABLE) throw socketClosed("the connection");
    if (data.length === 0) return;
    const h = this.#h;
    if (this.#queued === 0 && (this.#state & CONNECTING) === 0 && h !== null) {
      const n = h.write(data);
      if (n === data.length) return;
      if (n < 0) {
        this.#finish(systemError(-n, "write"));
        return;
      }
      // What the kernel did not take waits; a borrowed buffer's rest waits as a copy.
      if (borrowed) this.#push(Buffer.from(data.subarray(n)));
      else {
        this.#push(data);
        this.#offset = n;
      }
      this.#queued = data.length - n;
    } else {
      this.#push(borrowed ? Buffer.from(data) : data);
      this.#queued += data.length;
    }
    this.#update();
    this.#checkPause();
  }

  writev(chunks: readonly Buffer[]): void {
    if (this.#state & TLS) {
      this.#tls().writev(chunks);
      return;
    }
    if (chunks.length === 1) {
      this.write(chunks[0]!);
      return;
    }
    if ((this.#state & (WRITABLE | CLOSED)) !== WRITABLE) throw socketClosed("the connection");
    const wasEmpty = this.#queued === 0;
    for (const c of chunks) {
      if (c.length === 0) continue;
      this.#push(c);
      this.#queued += c.length;
    }
    if (wasEmpty && this.#queued > 0 && (this.#state & CONNECTING) === 0) this.#flush();
    else this.#update();
    this.#checkPause();
  }

  end(): void {
    if (this.#state & TLS) {
      this.#tls().end();
      return;
    }
    if ((this.#state & (WRITABLE | CLOSED)) !== WRITABLE) return;
    this.#state &= ~WRITABLE;
    if (this.#queued === 0 && (this.#state & CONNECTING) === 0) this.#shutdown();
    else this.#state |= END_PENDING;
  }

  close(): void {
    if (this.#state & TLS) {
      this.#tls().close();
      return;
    }
    if (this.#state & CLOSED) return;
    this.#state = (this.#state | CLOSED) & ~WRITABLE;
    if (this.#queued === 0) {
      this.#finish(null);
      return;
    }
    this.#state |= CLOSE_AFTER_FLUSH;
    this.#update();
  }

  abort(err?: Error): void {
    if (this.#state & TLS) {
      this.#tls().abort(err);
      return;
    }
    this.#state = (this.#state | CLOSED) & ~WRITABLE;
    this.#finish(err ?? null);
  }

  pauseReading(): void {
    if (this.#state & TLS) {
      this.#tls().pauseReading();
      return;
    }
    if ((this.#state & READING) === 0) return;
    this.#state &= ~READING;
    this.#update();
  }

  resumeReading(): void {
    if (this.#state & TLS) {
      this.#tls().resumeReading();
      return;
    }
    if (this.#state & READING) return;
    this.#state |= READING;
    this.#update();
  }

  setWriteBufferLimits(high?: number, low?: number): void {
    if (this.#state & TLS) {
      this.#tls().setWriteBufferLimits(high, low);
      return;
    }
    this.#limits = sharedWriteBufferLimits(high, low);
    this.#checkPause();
    this.#checkResume();
  }

  getWriteBufferLimits(): [number, number] {
    if (this.#state & TLS) return this.#tls().getWriteBufferLimits();
    return [this.#limits[0], this.#limits[1]];
  }

  getExtraInfo(name: string, fallback?: unknown): unknown {
    if (this.#state & TLS) return this.#tls().getExtraInfo(name, fallback);
    let value: unknown;
    if (name === "peername") value = this.remoteAddress;
    else if (name === "sockname") value = this.localAddress;
    else if (name === "socket") value = this.raw;
    return value === undefined || value === null ? fallback : value;
  }

  /**
   * Upgrade to TLS: once every queued byte is sent, the descriptor moves to a `net.Socket`
   * and `node:tls` runs the handshake on it; this connection then forwards to that one.
   */
  async startTls(options: tls.ConnectionOptions | (tls.TlsOptions & { isServer?: boolean })): Promise<void> {
    if (this.#state & TLS) return this.#tls().startTls(options);
    if (this.#state & CLOSED) throw socketClosed("the connection");
    if (this.#queued > 0 || this.#state & CONNECTING) {
      await new Promise<void>((resolve, reject) => this.#more().flushWaiters.push({ resolve, reject }));
    }
    const h = this.#h;
    // Another startTls() may have won the race while this one waited.
    if (this.#state & TLS) return this.#tls().startTls(options);
    if (this.#state & CLOSED || h === null) throw socketClosed("the connection");
    const local = this.localAddress;
    void this.remoteAddress;
    h.owner = undefined;
    const fd = h.detach();
    this.#h = null;
    this.#mask = 0;
    if (fd < 0) throw systemError(-fd, "detach", local);
    const sock = new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
    const inner = new NetStreamConnection(sock, false, this.#rare?.peerPath);
    inner.setWriteBufferLimits(this.#limits[1], this.#limits[0]);
    if ((this.#state & READING) === 0) inner.pauseReading();
    this.#more().delegate = inner;
    this.#state |= TLS;
    if (this.#state & STARTED) inner.start(this.#events);
    return inner.startTls(options);
  }

  // --- readiness mode (DirectStream) ---------------------------------------------------------
  /**
   * Readiness mode, in place of `start()`, or while the connection still connects (nothing has
   * been read yet): from now on the owner polls, reads and writes.
   */
  direct(events: ReadinessEvents): DirectStream | undefined {
    const state = this.#state;
    if (state & TLS || (state & (STARTED | CONNECTING | DIRECT)) === STARTED) return undefined;
    this.#events = events;
    this.#state |= STARTED | DIRECT;
    this.#update();
    if ((state & STARTED) === 0 && this.#state & REPORTED) this.#reportCloseVia(queueMicrotask);
    return this;
  }

  setInterest(read: boolean, write: boolean): void {
    const want = (read ? WANT_READ : 0) | (write ? WANT_WRITE : 0);
    if ((this.#state & (WANT_READ | WANT_WRITE)) === want) return;
    this.#state = (this.#state & ~(WANT_READ | WANT_WRITE)) | want;
    this.#update();
  }

  recv(max: number): Buffer | null {
    const h = this.#h;
    if (h === null || this.#state & (ENDED | TLS)) return EMPTY;
    const got = receive(h, max);
    if (typeof got !== "number") return got;
    return this.#afterEmptyRecv(got) ? EMPTY : null;
  }

  recvInto(target: Uint8Array): number | null {
    const h = this.#h;
    if (h === null || this.#state & (ENDED | TLS) || target.length === 0) return 0;
    const n = h.recvInto(target);
    if (n > 0) return n;
    return this.#afterEmptyRecv(n) ? 0 : null;
  }

  /**
   * A readiness-mode read that gave no bytes: `true` at EOF (the addon dropped read interest),
   * `false` when none wait. @throws the system error, which also closes the connection.
   */
  #afterEmptyRecv(got: number): boolean {
    if (got === 0) {
      this.#ended();
      return true;
    }
    if (got === -this.#addon.EAGAIN) return false;
    const err = systemError(-got, "recv");
    this.#finish(err);
    throw err;
  }

  send(data: Buffer): number {
    const h = this.#h;
    if ((this.#state & (WRITABLE | CLOSED | CONNECTING | TLS)) !== WRITABLE || h === null) {
      if (this.#state & (CONNECTING | TLS)) return 0;
      throw socketClosed("the connection");
    }
    // Bytes written before readiness mode go first.
    if (this.#queued > 0 || data.length === 0) return 0;
    const n = h.write(data);
    if (n >= 0) return n;
    const err = systemError(-n, "send");
    this.#finish(err);
    throw err;
  }

  unread(): number {
    const n = this.#h?.unread() ?? 0;
    return Math.max(n, 0);
  }

  // --- NativeSocketOwner ---------------------------------------------------------------------
  /** @internal */
  descriptor(): number {
    return this.#h?.fd() ?? -1;
  }
  /** @internal */
  setOption(name: "nodelay" | "keepalive" | "linger0", on: boolean): void {
    if (this.#h !== null && (name !== "nodelay" || this.#rare?.peerPath === undefined))
      this.#h.setOption(name, on);
  }

  // --- events from the addon -------------------------------------------------------------------
  /** @internal */
  onNativeEvent(kind: number, a: unknown): void {
    const addon = this.#addon;
    if (kind === addon.EV_READABLE) {
      if (this.#state & DIRECT) (this.#events as ReadinessEvents).onReadable();
      else this.#readInto();
    } else if (kind === addon.EV_DATA) {
      this.#events.onData(a as Buffer);
    } else if (kind === addon.EV_WRITABLE) {
      if (this.#state & CONNECTING) this.#connected();
      else if (this.#queued > 0 || (this.#state & DIRECT) === 0) this.#flush();
      else (this.#events as ReadinessEvents).onWritable();
    } else if (kind === addon.EV_EOF) {
      this.#ended();
    } else if (kind === addon.EV_ERROR) {
      this.#mask = -1;
      if (this.#state & CONNECTING) this.#connectFailed(a as number);
      else this.#finish(systemError(a as number, "read"));
    }
  }

  // --- internals -------------------------------------------------------------------------------
  /**
   * The peer sent EOF; the addon dropped read interest (and after a poll error, all of it). In
   * readiness mode the owner's read saw it already: no `onEnd`.
   */
  #ended(): void {
    this.#state |= ENDED;
    this.#mask = -1;
    this.#update();
    if ((this.#state & (STARTED | DIRECT)) === STARTED) this.#events.onEnd();
    if ((this.#state & (SHUT | REPORTED)) === SHUT) this.#finish(null);
  }

  /**
   * Readable, and the owner gives the memory: one `recv()` straight into it. An error or
   * hang-up is met here too (notify mode reports them as readiness).
   */
  #readInto(): void {
    const h = this.#h;
    if (h === null || (this.#state & (READING | ENDED | CLOSED)) !== READING) return;
    const events = this.#events as BufferedStreamEvents;
    const target = events.getBuffer(-1);
    // The owner may have paused, closed or failed inside getBuffer().
    if (this.#h !== h || (this.#state & (READING | CLOSED)) !== READING) return;
    if (target === undefined || target.length === 0) {
      // Polling on would find the socket readable again at once: a busy loop.
      this.abort(codedError(codes.INVALID_RETURN_VALUE, "getBuffer() gave no memory to read into"));
      return;
    }
    const n = h.recvInto(target);
    if (n > 0) events.onBuffered(n);
    else if (n === 0) this.#ended();
    else if (n !== -this.#addon.EAGAIN) this.#finish(systemError(-n, "read"));
  }

  /** The rarely needed state, made on first need. */
  #more(): Rare {
    return (this.#rare ??= {
      error: null,
      local: undefined,
      peerPath: undefined,
      targets: [],
      targetIndex: 0,
      flushWaiters: [],
      delegate: undefined,
    });
  }

  /** After `startTls()`: the `node:net` connection every call goes to. */
  #tls(): NetStreamConnection {
    return this.#rare!.delegate!;
  }

  /**
   * Report the close to the owner from a callback of `schedule`. Its own method: a closure in
   * `start()` would make every call of `start()` allocate the context it captures.
   */
  #reportCloseVia(schedule: (callback: () => void) => unknown): void {
    schedule(() => this.#events.onClose(this.#rare?.error ?? null));
  }

  /** Queue `data` behind what the kernel has not taken yet. */
  #push(data: Buffer): void {
    if (this.#queue === NO_QUEUE) this.#queue = [data];
    else this.#queue.push(data);
  }

  #dial(targets: NativeTarget[], index: number, localAddr: Address | undefined): void {
    if (this.#state & REPORTED) return;
    const addon = this.#addon;
    const t = targets[index]!;
    const h = addon.open(t.domain, addon.SOCK_STREAM);
    if (typeof h === "number") {
      this.#finish(systemError(-h, "socket"));
      return;
    }
    h.owner = this;
    this.#h = h;
    this.#mask = 0;
    const rare = this.#more();
    rare.targets = targets;
    rare.targetIndex = index;
    if (t.domain !== addon.AF_UNIX) h.setOption("nodelay", true);
    if (localAddr !== undefined) {
      const local: { host: string; port?: number } | undefined =
        typeof localAddr === "string"
          ? { host: localAddr }
          : literalTarget(addon, localAddr[0], localAddr[1]);
      const r = local === undefined ? -22 : h.bind(local.host, local.port);
      if (r < 0) {
        this.#finish(systemError(-r, "bind", localAddr));
        return;
      }
    }
    const r = h.connect(t.host, t.port);
    if (r < 0 && r !== -addon.EINPROGRESS) {
      this.#connectFailed(-r);
      return;
    }
    this.#update();
  }

  #connectFailed(errno: number): void {
    const { targets, targetIndex } = this.#more();
    const t = targets[targetIndex]!;
    if (targetIndex + 1 < targets.length && (this.#state & CLOSED) === 0) {
      const h = this.#h!;
      h.owner = undefined;
      h.close();
      this.#h = null;
      this.#dial(targets, targetIndex + 1, undefined);
      return;
    }
    this.#finish(systemError(errno, "connect", targetAddress(t)));
  }

  #connected(): void {
    const err = this.#h!.soError();
    if (err !== 0) {
      this.#connectFailed(err);
      return;
    }
    this.#state &= ~CONNECTING;
    if (this.#rare !== undefined) this.#rare.targets = [];
    this.#events.onConnect?.();
    if (this.#state & REPORTED) return;
    if (this.#queued > 0) this.#flush();
    else this.#afterFlush();
  }

  #flush(): void {
    const h = this.#h;
    if (h === null || this.#state & CONNECTING) return;
    while (this.#queued > 0) {
      const q = this.#queue;
      const before = this.#queued;
      const n = q.length === 1 ? h.write(q[0]!, this.#offset) : h.writev(q, this.#offset);
      if (n < 0) {
        this.#finish(systemError(-n, "write"));
        return;
      }
      if (n === 0) break;
      this.#consume(n);
      if (n < before && q.length <= MAX_IOV) break;
    }
    this.#afterFlush();
  }

  /** After bytes went out: end, close or wake waiters when the queue is empty; resume writers. */
  #afterFlush(): void {
    this.#checkResume();
    if (this.#state & REPORTED) return;
    if (this.#queued === 0) {
      if (this.#state & CLOSE_AFTER_FLUSH) {
        this.#finish(null);
        return;
      }
      if (this.#state & END_PENDING) {
        this.#state &= ~END_PENDING;
        this.#shutdown();
        if (this.#state & REPORTED) return;
      }
      const rare = this.#rare;
      if (rare !== undefined && rare.flushWaiters.length > 0) {
        const waiters = rare.flushWaiters;
        rare.flushWaiters = [];
        for (const w of waiters) w.resolve();
      }
    }
    this.#update();
  }

  #consume(n: number): void {
    const q = this.#queue;
    this.#queued -= n;
    if (this.#queued === 0) {
      this.#queue = NO_QUEUE;
      this.#offset = 0;
      return;
    }
    let off = this.#offset + n;
    let i = 0;
    while (off >= q[i]!.length) {
      off -= q[i]!.length;
      i++;
    }
    if (i > 0) q.splice(0, i);
    this.#offset = off;
  }

  #shutdown(): void {
    const r = this.#h?.shutdown() ?? 0;
    if (r < 0) {
      this.#finish(systemError(-r, "shutdown"));
      return;
    }
    this.#state |= SHUT;
    // Both directions are done: the connection is over, as a half-open net.Socket ends.
    if (this.#state & ENDED) this.#finish(null);
  }

  /**
   * Poll what the state needs: write while connecting or bytes wait; read while reading. In
   * readiness mode, what the owner asked for, in notify mode.
   */
  #update(): void {
    const h = this.#h;
    if (h === null) return;
    const addon = this.#addon;
    const state = this.#state;
    let mask = 0;
    if (state & CONNECTING) mask = addon.WRITABLE;
    else if (state & DIRECT) {
      if ((state & (WANT_READ | ENDED | CLOSED)) === WANT_READ) mask = addon.READABLE;
      if (state & WANT_WRITE || this.#queued > 0) mask |= addon.WRITABLE;
      if (mask !== 0) mask |= addon.NOTIFY;
    } else {
      if ((state & (STARTED | READING | ENDED | CLOSED)) === (STARTED | READING))
        mask = state & BUFFERED ? addon.READABLE | addon.NOTIFY : addon.READABLE;
      if (this.#queued > 0) mask |= addon.WRITABLE;
    }
    if (mask === this.#mask) return;
    this.#mask = mask;
    const r = h.setInterest(mask);
    if (r < 0) this.#finish(systemError(-r, "poll"));
  }

  /** Close for good with `err` as the cause (the first error recorded wins). */
  #finish(err: Error | null): void {
    if (err !== null && (this.#rare === undefined || this.#rare.error === null)) this.#more().error = err;
    if (this.#state & REPORTED) return;
    // Keep the addresses readable after the descriptor is gone.
    void this.localAddress;
    void this.remoteAddress;
    this.#state = (this.#state | REPORTED | CLOSED) & ~(WRITABLE | CONNECTING);
    this.#queue = NO_QUEUE;
    this.#queued = 0;
    this.#offset = 0;
    const h = this.#h;
    if (h !== null) {
      h.owner = undefined;
      h.close();
      this.#h = null;
    }
    this.#mask = 0;
    const rare = this.#rare;
    if (rare !== undefined && rare.flushWaiters.length > 0) {
      const waiters = rare.flushWaiters;
      rare.flushWaiters = [];
      const cause = rare.error ?? socketClosed("the connection");
      for (const w of waiters) w.reject(cause);
    }
    if (this.#state & STARTED) this.#reportCloseVia(setImmediate);
  }

  #checkPause(): void {
    if ((this.#state & WRITE_PAUSED) === 0 && this.#queued > this.#limits[1]) {
      this.#state |= WRITE_PAUSED;
      this.#events.onWritePaused();
    }
  }

  #checkResume(): void {
    if ((this.#state & (WRITE_PAUSED | REPORTED)) === WRITE_PAUSED && this.#queued <= this.#limits[0]) {
      this.#state &= ~WRITE_PAUSED;
      this.#events.onWriteResumed();
    }
  }
}

/** The host string of the last peer address read: many connections come from the same host. */
let lastHost = "";

/**
 * `addr`, fresh from the addon, with its host string shared with the previous peer's when they
 * are equal: one copy of "127.0.0.1" for a thousand clients, not one each.
 */
function sharedHost(addr: Address | undefined): Address | undefined {
  if (addr === undefined || typeof addr === "string") return addr;
  if (addr[0] === lastHost) (addr as [string, number])[0] = lastHost;
  else lastHost = addr[0];
  return addr;
}
