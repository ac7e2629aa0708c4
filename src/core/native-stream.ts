/**
 * {@link StreamConnection} over a native non-blocking socket (TCP or Unix-domain), polled with
 * libuv's `uv_poll` on Node's loop.
 *
 * The kernel is asked directly: a write goes to `send()` at once when nothing waits before it,
 * and what the kernel does not take waits in a userland queue, written with `sendmsg()` (one
 * system call for many buffers) when the socket becomes writable; write interest is polled
 * only while that queue is non-empty. Read interest is polled while the owner reads. The
 * behaviours are those of the `node:net` connection: high/low water marks, half-close reported
 * by `onEnd`, one `onClose(err)`, `close()` flushing and `abort()` dropping.
 *
 * `startTls()` hands the descriptor over to a `net.Socket` and goes on through `node:tls`: from
 * then on this connection forwards every call to a `node:net` connection.
 *
 * @module
 */
import * as net from "node:net";
import type * as tls from "node:tls";
import type { Address } from "../address.js";
import { socketClosed } from "../errors.js";
import type { ConnectOptions, StreamConnection, StreamEvents } from "./backend.js";
import { type HandleOwner, type NativeAddon, type NativeHandle, systemError } from "./native-addon.js";
import { literalTarget, type NativeTarget, resolveTargets, targetAddress } from "./native-resolve.js";
import { NativeSocket, type NativeSocketOwner } from "./native-socket.js";
import { NetStreamConnection } from "./net-stream.js";
import { DEFAULT_HIGH_WATER, noStreamEvents, resolveWriteBufferLimits } from "./write-limits.js";

/** `writev` takes at most this many buffers per call (the addon's iovec limit). */
const MAX_IOV = 1024;

/**
 * A native stream connection. Made by the native backend: accepted by a listener, or dialled
 * with {@link NativeStreamConnection.connect}.
 */
export class NativeStreamConnection implements StreamConnection, HandleOwner, NativeSocketOwner {
  readonly backend = "native";
  readonly #addon: NativeAddon;
  #h: NativeHandle | null;
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
  /** Closed for good: the close is reported (or will be, at `start()`). */
  #reported = false;
  #queue: Buffer[] = [];
  /** Bytes of `#queue[0]` already sent. */
  #offset = 0;
  #queued = 0;
  /** The interest last given to the addon. */
  #mask = 0;
  #endPending = false;
  #shut = false;
  #closeAfterFlush = false;
  #local: Address | undefined;
  #remote: Address | undefined;
  readonly #peerPath: string | undefined;
  #socket: NativeSocket | undefined;
  #targets: NativeTarget[] = [];
  #targetIndex = 0;
  #flushWaiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  #delegate: NetStreamConnection | undefined;

  /** @internal Wrap an accepted (or dialling, `handle` null) socket. */
  constructor(addon: NativeAddon, handle: NativeHandle | null, peerPath?: string) {
    this.#addon = addon;
    this.#h = handle;
    this.#connecting = handle === null;
    this.#peerPath = peerPath;
    if (handle !== null) handle.owner = this;
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
    return this.#delegate ? this.#delegate.connecting : this.#connecting;
  }
  get closed(): boolean {
    return this.#delegate ? this.#delegate.closed : this.#closed;
  }
  get ended(): boolean {
    return this.#delegate ? this.#delegate.ended : this.#ended;
  }
  get writable(): boolean {
    return this.#delegate ? this.#delegate.writable : this.#writable && !this.#closed;
  }
  get writeBufferSize(): number {
    return this.#delegate ? this.#delegate.writeBufferSize : this.#queued;
  }
  get writePaused(): boolean {
    return this.#delegate ? this.#delegate.writePaused : this.#writePaused;
  }
  get reading(): boolean {
    return this.#delegate ? this.#delegate.reading : this.#reading;
  }
  get canEnd(): boolean {
    return this.#delegate ? this.#delegate.canEnd : true;
  }
  get localAddress(): Address | undefined {
    if (this.#delegate) return this.#delegate.localAddress;
    if (this.#local !== undefined) return this.#local;
    const a = this.#h?.sockname();
    if (!this.#connecting && a !== undefined) this.#local = a;
    return a;
  }
  get remoteAddress(): Address | undefined {
    if (this.#delegate) return this.#delegate.remoteAddress;
    if (this.#remote === undefined && !this.#connecting && this.#h !== null) {
      const a = this.#h.peername();
      // A Unix client's peer is the path it dialled, which the kernel reports as well.
      this.#remote = a === "" && this.#peerPath !== undefined ? this.#peerPath : a;
    }
    return this.#remote ?? this.#peerPath;
  }
  /** The {@link NativeSocket} (after `startTls()`: the `tls.TLSSocket`). */
  get raw(): unknown {
    if (this.#delegate) return this.#delegate.raw;
    this.#socket ??= new NativeSocket(this);
    return this.#socket;
  }

  start(events: StreamEvents): void {
    this.#events = events;
    if (this.#delegate) {
      this.#delegate.start(events);
      return;
    }
    if (this.#started) return;
    this.#started = true;
    this.#update();
    // A socket that failed before its owner started it still reports its close.
    if (this.#reported) queueMicrotask(() => this.#events.onClose(this.#error));
  }

  write(data: Buffer): void {
    if (this.#delegate) {
      this.#delegate.write(data);
      return;
    }
    if (this.#closed || !this.#writable) throw socketClosed("the connection");
    if (data.length === 0) return;
    const h = this.#h;
    if (this.#queued === 0 && !this.#connecting && h !== null) {
      const n = h.write(data);
      if (n === data.length) return;
      if (n < 0) {
        this.#finish(systemError(-n, "write"));
        return;
      }
      this.#queue.push(data);
      this.#offset = n;
      this.#queued = data.length - n;
    } else {
      this.#queue.push(data);
      this.#queued += data.length;
    }
    this.#update();
    this.#checkPause();
  }

  writev(chunks: readonly Buffer[]): void {
    if (this.#delegate) {
      this.#delegate.writev(chunks);
      return;
    }
    if (chunks.length === 1) {
      this.write(chunks[0]!);
      return;
    }
    if (this.#closed || !this.#writable) throw socketClosed("the connection");
    const wasEmpty = this.#queued === 0;
    for (const c of chunks) {
      if (c.length === 0) continue;
      this.#queue.push(c);
      this.#queued += c.length;
    }
    if (wasEmpty && this.#queued > 0 && !this.#connecting) this.#flush();
    else this.#update();
    this.#checkPause();
  }

  end(): void {
    if (this.#delegate) {
      this.#delegate.end();
      return;
    }
    if (this.#closed || !this.#writable) return;
    this.#writable = false;
    if (this.#queued === 0 && !this.#connecting) this.#shutdown();
    else this.#endPending = true;
  }

  close(): void {
    if (this.#delegate) {
      this.#delegate.close();
      return;
    }
    if (this.#closed) return;
    this.#closed = true;
    this.#writable = false;
    if (this.#queued === 0) {
      this.#finish(null);
      return;
    }
    this.#closeAfterFlush = true;
    this.#update();
  }

  abort(err?: Error): void {
    if (this.#delegate) {
      this.#delegate.abort(err);
      return;
    }
    this.#closed = true;
    this.#writable = false;
    this.#finish(err ?? null);
  }

  pauseReading(): void {
    if (this.#delegate) {
      this.#delegate.pauseReading();
      return;
    }
    if (!this.#reading) return;
    this.#reading = false;
    this.#update();
  }

  resumeReading(): void {
    if (this.#delegate) {
      this.#delegate.resumeReading();
      return;
    }
    if (this.#reading) return;
    this.#reading = true;
    this.#update();
  }

  setWriteBufferLimits(high?: number, low?: number): void {
    if (this.#delegate) {
      this.#delegate.setWriteBufferLimits(high, low);
      return;
    }
    [this.#low, this.#high] = resolveWriteBufferLimits(high, low);
    this.#checkPause();
    this.#checkResume();
  }

  getWriteBufferLimits(): [number, number] {
    if (this.#delegate) return this.#delegate.getWriteBufferLimits();
    return [this.#low, this.#high];
  }

  getExtraInfo(name: string, fallback?: unknown): unknown {
    if (this.#delegate) return this.#delegate.getExtraInfo(name, fallback);
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
    if (this.#delegate) return this.#delegate.startTls(options);
    if (this.#closed) throw socketClosed("the connection");
    if (this.#queued > 0 || this.#connecting) {
      await new Promise<void>((resolve, reject) => this.#flushWaiters.push({ resolve, reject }));
    }
    const h = this.#h;
    // Another startTls() may have won the race while this one waited.
    const raced = this.#delegate as NetStreamConnection | undefined;
    if (raced) return raced.startTls(options);
    if (this.#closed || h === null) throw socketClosed("the connection");
    const local = this.localAddress;
    void this.remoteAddress;
    h.owner = undefined;
    const fd = h.detach();
    this.#h = null;
    this.#mask = 0;
    if (fd < 0) throw systemError(-fd, "detach", local);
    const sock = new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
    const inner = new NetStreamConnection(sock, false, this.#peerPath);
    inner.setWriteBufferLimits(this.#high, this.#low);
    if (!this.#reading) inner.pauseReading();
    this.#delegate = inner;
    if (this.#started) inner.start(this.#events);
    return inner.startTls(options);
  }

  // --- NativeSocketOwner ---------------------------------------------------------------------
  /** @internal */
  descriptor(): number {
    return this.#h?.fd() ?? -1;
  }
  /** @internal */
  setOption(name: "nodelay" | "keepalive" | "linger0", on: boolean): void {
    if (this.#h !== null && (name !== "nodelay" || this.#peerPath === undefined)) this.#h.setOption(name, on);
  }

  // --- events from the addon -------------------------------------------------------------------
  /** @internal */
  onNativeEvent(kind: number, a: unknown): void {
    const addon = this.#addon;
    if (kind === addon.EV_DATA) {
      this.#events.onData(a as Buffer);
    } else if (kind === addon.EV_WRITABLE) {
      if (this.#connecting) this.#connected();
      else this.#flush();
    } else if (kind === addon.EV_EOF) {
      this.#ended = true;
      // The addon dropped read interest (and after a poll error, all of it): poll anew.
      this.#mask = -1;
      this.#update();
      if (this.#started) this.#events.onEnd();
      if (this.#shut && !this.#reported) this.#finish(null);
    } else if (kind === addon.EV_ERROR) {
      this.#mask = -1;
      if (this.#connecting) this.#connectFailed(a as number);
      else this.#finish(systemError(a as number, "read"));
    }
  }

  // --- internals -------------------------------------------------------------------------------
  #dial(targets: NativeTarget[], index: number, localAddr: Address | undefined): void {
    if (this.#reported) return;
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
    this.#targets = targets;
    this.#targetIndex = index;
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
    const t = this.#targets[this.#targetIndex]!;
    if (this.#targetIndex + 1 < this.#targets.length && !this.#closed) {
      const h = this.#h!;
      h.owner = undefined;
      h.close();
      this.#h = null;
      this.#dial(this.#targets, this.#targetIndex + 1, undefined);
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
    this.#connecting = false;
    this.#targets = [];
    this.#events.onConnect?.();
    if (this.#reported) return;
    if (this.#queued > 0) this.#flush();
    else this.#afterFlush();
  }

  #flush(): void {
    const h = this.#h;
    if (h === null || this.#connecting) return;
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
    if (this.#reported) return;
    if (this.#queued === 0) {
      if (this.#closeAfterFlush) {
        this.#finish(null);
        return;
      }
      if (this.#endPending) {
        this.#endPending = false;
        this.#shutdown();
        if (this.#reported) return;
      }
      if (this.#flushWaiters.length > 0) {
        const waiters = this.#flushWaiters;
        this.#flushWaiters = [];
        for (const w of waiters) w.resolve();
      }
    }
    this.#update();
  }

  #consume(n: number): void {
    const q = this.#queue;
    this.#queued -= n;
    if (this.#queued === 0) {
      this.#queue = [];
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
    this.#shut = true;
    // Both directions are done: the connection is over, as a half-open net.Socket ends.
    if (this.#ended) this.#finish(null);
  }

  /** Poll what the state needs: write while connecting or bytes wait; read while reading. */
  #update(): void {
    const h = this.#h;
    if (h === null) return;
    const addon = this.#addon;
    let mask = 0;
    if (this.#connecting) mask = addon.WRITABLE;
    else {
      if (this.#started && this.#reading && !this.#ended && !this.#closed) mask = addon.READABLE;
      if (this.#queued > 0) mask |= addon.WRITABLE;
    }
    if (mask === this.#mask) return;
    this.#mask = mask;
    const r = h.setInterest(mask);
    if (r < 0) this.#finish(systemError(-r, "poll"));
  }

  /** Close for good with `err` as the cause (the first error recorded wins). */
  #finish(err: Error | null): void {
    if (err !== null && this.#error === null) this.#error = err;
    if (this.#reported) return;
    // Keep the addresses readable after the descriptor is gone.
    void this.localAddress;
    void this.remoteAddress;
    this.#reported = true;
    this.#closed = true;
    this.#writable = false;
    this.#connecting = false;
    this.#queue = [];
    this.#queued = 0;
    this.#offset = 0;
    const h = this.#h;
    if (h !== null) {
      h.owner = undefined;
      h.close();
      this.#h = null;
    }
    this.#mask = 0;
    if (this.#flushWaiters.length > 0) {
      const waiters = this.#flushWaiters;
      this.#flushWaiters = [];
      const cause = this.#error ?? socketClosed("the connection");
      for (const w of waiters) w.reject(cause);
    }
    if (this.#started) setImmediate(() => this.#events.onClose(this.#error));
  }

  #checkPause(): void {
    if (!this.#writePaused && this.#queued > this.#high) {
      this.#writePaused = true;
      this.#events.onWritePaused();
    }
  }

  #checkResume(): void {
    if (this.#writePaused && this.#queued <= this.#low && !this.#reported) {
      this.#writePaused = false;
      this.#events.onWriteResumed();
    }
  }
}
