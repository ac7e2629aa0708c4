/**
 * Server limits: a maximum of concurrent connections and an idle timeout, enforced once for
 * every backend and every front end by wrapping a listener's events.
 *
 * A backend's `listen()` passes its {@link ListenerEvents} through {@link limitListenerEvents}
 * with the {@link ListenOptions} it was given; the result is what the listener reports to.
 * Nothing here touches a socket object: connections are handled only through the
 * {@link StreamConnection} interface, so the same code serves `node:net` and the native backend.
 *
 * - **maxConnections**: a connection accepted while that many are open is closed at once (a
 *   graceful close, never started, so the peer sees its EOF and nothing is read) and counted.
 *   Refusals are reported through `onAcceptError` as `ERR_LIMIT_REACHED` errors carrying the
 *   number refused, at most once a second (the first at once), so a flood does not flood the log.
 * - **idleTimeout**: a connection whose peer sends nothing for that many milliseconds is
 *   aborted with an `ERR_LIMIT_REACHED` error as the cause (its owner sees `onClose(err)`).
 *   One coarse timer per listener ticks four times per timeout and sweeps the open
 *   connections; a chunk received only stamps the current tick. A connection is therefore
 *   closed after between `idleTimeout` and `1.25 × idleTimeout` of silence. The clock runs only
 *   while the connection is started and reading: one whose reading is paused (by its owner or
 *   by backpressure) is not waiting on its peer, and its clock restarts when reading resumes.
 *
 * @module
 */
import type * as tls from "node:tls";
import type { Address } from "../address.js";
import { codedError, codes, invalidArgType, invalidArgValue } from "../errors.js";
import {
  type BufferedStreamEvents,
  type ListenerEvents,
  type ListenOptions,
  readsIntoOwnMemory,
  type StreamConnection,
  type StreamEvents,
} from "./backend.js";
import { noStreamEvents } from "./write-limits.js";

/** The limit options of `ListenOptions` that a listener honours. */
export type ServerLimitOptions = Pick<ListenOptions, "maxConnections" | "idleTimeout">;

/** What a listener's limits have counted so far. */
export interface ServerLimitStats {
  /** The limit (`Infinity` when none). */
  readonly maxConnections: number;
  /** The timeout in ms (`0` when none). */
  readonly idleTimeout: number;
  /** Connections open now (accepted, not yet closed). */
  readonly live: number;
  /** Connections accepted and handed on. */
  readonly accepted: number;
  /** Connections closed at once because `maxConnections` were open. */
  readonly refused: number;
  /** Connections closed by the idle timeout. */
  readonly idleClosed: number;
  /** Bytes delivered by `onData`, over all connections. */
  readonly bytesIn: number;
  /** Bytes written, over all connections. */
  readonly bytesOut: number;
  /**
   * Most bytes any one connection held in userland at once: bytes delivered by `onData` minus
   * bytes the kernel took of what was written (written minus the write buffer), measured as
   * each chunk arrives (so it includes that chunk).
   */
  readonly peakBuffered: number;
}

/** Sweeps of the idle timer per `idleTimeout`. */
export const IDLE_TICKS_PER_TIMEOUT = 4;
/** Refusals are reported at most this often (ms). */
export const REFUSAL_REPORT_INTERVAL = 1000;

const registry = new Set<ListenerLimits>();
let accounting = false;

/**
 * Count every listener's connections, with limits or not, from now on (listeners made before
 * are not affected): each is then wrapped as if it had limits, so {@link serverLimitStats}
 * sees it, at the cost of one more call per event. For measurements and tests; off by default.
 *
 * @example
 * ```ts
 * setServerAccounting(true);
 * const server = await createServer(() => new Echo(), "127.0.0.1", 0);
 * // … load …
 * console.log(serverLimitStats()[0]?.peakBuffered);
 * ```
 */
export function setServerAccounting(on: boolean): void {
  accounting = on;
}

/**
 * Check limit options; called before listening so a bad value fails at once.
 *
 * @throws TypeError `ERR_INVALID_ARG_TYPE` for a non-number; RangeError `ERR_INVALID_ARG_VALUE`
 *   when `maxConnections` is not an integer >= 1 or `idleTimeout` is not a finite number > 0.
 * @example
 * ```ts
 * checkServerLimits({ maxConnections: 1000, idleTimeout: 30_000 }, "listen");
 * ```
 */
export function checkServerLimits(opts: ServerLimitOptions, action: string): void {
  const { maxConnections, idleTimeout } = opts;
  if (maxConnections !== undefined) {
    if (typeof maxConnections !== "number") {
      throw invalidArgType(`Cannot ${action}: maxConnections must be a number, got ${typeof maxConnections}`);
    }
    if (!Number.isSafeInteger(maxConnections) || maxConnections < 1) {
      throw invalidArgValue(
        `Cannot ${action}: maxConnections must be an integer >= 1, got ${maxConnections}`,
      );
    }
  }
  if (idleTimeout !== undefined) {
    if (typeof idleTimeout !== "number") {
      throw invalidArgType(`Cannot ${action}: idleTimeout must be a number, got ${typeof idleTimeout}`);
    }
    if (!Number.isFinite(idleTimeout) || idleTimeout <= 0) {
      throw invalidArgValue(`Cannot ${action}: idleTimeout must be a finite number > 0, got ${idleTimeout}`);
    }
  }
}

/**
 * The events a listener should report to so that `opts`' limits hold: `events` itself when
 * no limit is set, else a wrapper that counts, refuses and times out connections and hands
 * the rest on (each wrapped, so that its owner's `start()` is seen).
 *
 * @throws as {@link checkServerLimits}.
 * @example
 * ```ts
 * const server = net.createServer();
 * const events = limitListenerEvents(ownerEvents, { maxConnections: 100, idleTimeout: 60_000 });
 * server.on("connection", (sock) => events.onConnection(new NetStreamConnection(sock)));
 * ```
 */
export function limitListenerEvents(events: ListenerEvents, opts: ServerLimitOptions): ListenerEvents {
  checkServerLimits(opts, "listen");
  if (opts.maxConnections === undefined && opts.idleTimeout === undefined && !accounting) return events;
  return new ListenerLimits(events, opts.maxConnections ?? Number.POSITIVE_INFINITY, opts.idleTimeout ?? 0);
}

/**
 * The counters of every listener with limits (or made while {@link setServerAccounting} was on)
 * that has accepted a connection and is still open or still has connections.
 *
 * @example
 * ```ts
 * for (const s of serverLimitStats()) console.log(`${s.live} open, ${s.refused} refused`);
 * ```
 */
export function serverLimitStats(): ServerLimitStats[] {
  return [...registry].map((l) => l.stats());
}

/** The wrapper of one listener's events. */
class ListenerLimits implements ListenerEvents {
  readonly #events: ListenerEvents;
  readonly max: number;
  readonly idle: number;
  readonly #open = new Set<LimitedConnection>();
  #listening = true;
  #accepted = 0;
  #refused = 0;
  #idleClosed = 0;
  peakBuffered = 0;
  bytesIn = 0;
  bytesOut = 0;
  /** Coarse clock: ticks of the idle timer so far. */
  epoch = 0;
  #timer: NodeJS.Timeout | undefined;
  #pendingRefused = 0;
  #lastReport = Number.NEGATIVE_INFINITY;
  #reportTimer: NodeJS.Timeout | undefined;

  constructor(events: ListenerEvents, max: number, idle: number) {
    this.#events = events;
    this.max = max;
    this.idle = idle;
  }

  stats(): ServerLimitStats {
    return {
      maxConnections: this.max,
      idleTimeout: this.idle,
      live: this.#open.size,
      accepted: this.#accepted,
      refused: this.#refused,
      idleClosed: this.#idleClosed,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      peakBuffered: this.peakBuffered,
    };
  }

  onConnection(conn: StreamConnection): void {
    if (this.#open.size >= this.max) this.#forgetClosedUnstarted();
    if (this.#open.size >= this.max) {
      this.#refuse(conn);
      return;
    }
    const limited = new LimitedConnection(conn, this);
    this.#open.add(limited);
    registry.add(this);
    this.#accepted++;
    if (this.idle > 0 && this.#timer === undefined) this.#startTimer();
    this.#events.onConnection(limited);
  }

  onAcceptError(err: Error): void {
    this.#events.onAcceptError(err);
  }

  onClose(): void {
    this.#listening = false;
    if (this.#reportTimer !== undefined) clearTimeout(this.#reportTimer);
    this.#reportTimer = undefined;
    this.#reportRefusals();
    this.#checkDone();
    this.#events.onClose();
  }

  /** A connection ended: it no longer counts. */
  release(conn: LimitedConnection): void {
    this.#open.delete(conn);
    this.#checkDone();
  }

  /**
   * A connection closed before its owner started it (an owner may drop one it never adopted,
   * e.g. by destroying the socket object) reports its close to nobody: look before refusing.
   */
  #forgetClosedUnstarted(): void {
    for (const conn of this.#open) if (!conn.started && conn.inner.closed) this.#open.delete(conn);
  }

  #refuse(conn: StreamConnection): void {
    conn.close();
    this.#refused++;
    this.#pendingRefused++;
    if (this.#reportTimer !== undefined) return;
    const wait = this.#lastReport + REFUSAL_REPORT_INTERVAL - Date.now();
    if (wait <= 0) {
      this.#reportRefusals();
      return;
    }
    this.#reportTimer = setTimeout(() => {
      this.#reportTimer = undefined;
      this.#reportRefusals();
    }, wait);
    this.#reportTimer.unref();
  }

  #reportRefusals(): void {
    const n = this.#pendingRefused;
    if (n === 0) return;
    this.#pendingRefused = 0;
    this.#lastReport = Date.now();
    const err = codedError(
      codes.LIMIT_REACHED,
      `Connection refused: ${n} connection${n === 1 ? "" : "s"} closed on arrival, ${this.max} already open (maxConnections)`,
    );
    this.#events.onAcceptError(Object.assign(err, { refused: n, limit: "maxConnections" }));
  }

  #startTimer(): void {
    const period = Math.max(1, this.idle / IDLE_TICKS_PER_TIMEOUT);
    this.#timer = setInterval(() => this.#sweep(), period);
    this.#timer.unref();
  }

  /** One tick: close the connections silent for more than IDLE_TICKS_PER_TIMEOUT ticks. */
  #sweep(): void {
    const now = ++this.epoch;
    for (const conn of this.#open) {
      if (!conn.started) {
        if (conn.inner.closed) this.#open.delete(conn);
        continue;
      }
      if (conn.inner.closed) continue;
      if (!conn.inner.reading) conn.seen = now;
      else if (now - conn.seen > IDLE_TICKS_PER_TIMEOUT) {
        this.#idleClosed++;
        conn.inner.abort(
          codedError(
            codes.LIMIT_REACHED,
            `Connection closed: nothing received for ${this.idle} ms (idleTimeout)`,
          ),
        );
      }
    }
    this.#checkDone();
  }

  #checkDone(): void {
    if (this.#open.size > 0) return;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    if (!this.#listening) registry.delete(this);
  }
}

/**
 * An accepted connection seen through its listener's limits: every member is the inner
 * connection's, except that `start()` puts a hook between it and its owner that stamps
 * received data, counts bytes in and out, and releases the connection's slot on close.
 */
class LimitedConnection implements StreamConnection {
  readonly inner: StreamConnection;
  readonly #limits: ListenerLimits;
  #owner: StreamEvents = noStreamEvents;
  started = false;
  /** Tick of the last received chunk (or of `start()`). */
  seen = 0;
  #received = 0;
  #written = 0;
  readonly #hook: StreamEvents;

  constructor(inner: StreamConnection, limits: ListenerLimits) {
    this.inner = inner;
    this.#limits = limits;
    this.#hook = {
      onConnect: () => this.#owner.onConnect?.(),
      onData: (chunk) => {
        this.#arrived(chunk.length);
        this.#owner.onData(chunk);
      },
      onEnd: () => this.#owner.onEnd(),
      onWritePaused: () => this.#owner.onWritePaused(),
      onWriteResumed: () => this.#owner.onWriteResumed(),
      onClose: (err) => {
        this.#limits.release(this);
        this.#owner.onClose(err);
      },
    };
  }

  /** Stamp and count `n` bytes received. */
  #arrived(n: number): void {
    this.seen = this.#limits.epoch;
    this.#received += n;
    this.#limits.bytesIn += n;
    // Measured on arrival: the owner may pass the bytes on to the kernel before it returns.
    const held = this.#received - this.#written + this.inner.writeBufferSize;
    if (held > this.#limits.peakBuffered) this.#limits.peakBuffered = held;
  }

  /** The hook for an owner that gives the memory reads land in: the same, plus those two calls. */
  #bufferedHook(): BufferedStreamEvents {
    return {
      ...this.#hook,
      getBuffer: (sizeHint) => (this.#owner as BufferedStreamEvents).getBuffer(sizeHint),
      onBuffered: (n) => {
        this.#arrived(n);
        (this.#owner as BufferedStreamEvents).onBuffered(n);
      },
    };
  }

  get backend(): string {
    return this.inner.backend;
  }
  get connecting(): boolean {
    return this.inner.connecting;
  }
  get closed(): boolean {
    return this.inner.closed;
  }
  get ended(): boolean {
    return this.inner.ended;
  }
  get writable(): boolean {
    return this.inner.writable;
  }
  get writeBufferSize(): number {
    return this.inner.writeBufferSize;
  }
  get writePaused(): boolean {
    return this.inner.writePaused;
  }
  get reading(): boolean {
    return this.inner.reading;
  }
  get canEnd(): boolean {
    return this.inner.canEnd;
  }
  get localAddress(): Address | undefined {
    return this.inner.localAddress;
  }
  get remoteAddress(): Address | undefined {
    return this.inner.remoteAddress;
  }
  get raw(): unknown {
    return this.inner.raw;
  }

  start(events: StreamEvents): void {
    this.#owner = events;
    if (!this.started) {
      this.started = true;
      this.seen = this.#limits.epoch;
    }
    this.inner.start(readsIntoOwnMemory(events) ? this.#bufferedHook() : this.#hook);
  }
  write(data: Buffer, borrowed?: boolean): void {
    this.inner.write(data, borrowed);
    this.#written += data.length;
    this.#limits.bytesOut += data.length;
  }
  writev(chunks: readonly Buffer[]): void {
    this.inner.writev(chunks);
    let n = 0;
    for (const chunk of chunks) n += chunk.length;
    this.#written += n;
    this.#limits.bytesOut += n;
  }
  end(): void {
    this.inner.end();
  }
  close(): void {
    this.inner.close();
  }
  abort(err?: Error): void {
    this.inner.abort(err);
  }
  pauseReading(): void {
    this.inner.pauseReading();
  }
  resumeReading(): void {
    this.inner.resumeReading();
  }
  setWriteBufferLimits(high?: number, low?: number): void {
    this.inner.setWriteBufferLimits(high, low);
  }
  getWriteBufferLimits(): [low: number, high: number] {
    return this.inner.getWriteBufferLimits();
  }
  getExtraInfo(name: string, fallback?: unknown): unknown {
    return this.inner.getExtraInfo(name, fallback);
  }
  startTls(options: tls.ConnectionOptions | (tls.TlsOptions & { isServer?: boolean })): Promise<void> {
    return this.inner.startTls(options);
  }
}
