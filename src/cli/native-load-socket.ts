/**
 * The load generator's `native` client: a busy connection made by the core's native backend,
 * so that its sends and reads are direct system calls on the addon's epoll loop rather than
 * `node:net`'s stream machinery. It reports through the same {@link LoadSocketEvents} as the
 * `net` client (`load-socket.ts`), so one ping-pong loop drives both.
 *
 * @module
 */
import type { Address } from "../address.js";
import { getBackend, type SocketBackend, type StreamConnection, type StreamEvents } from "../core/index.js";
import { codedError, codes } from "../errors.js";
import { formatTarget, type LoadTarget } from "./connect-target.js";
import type { LoadConnectOptions, LoadSocket, LoadSocketEvents } from "./load-socket.js";

/**
 * The native backend when it is the one in use (its addon is built and `ASYNCORE_BACKEND` does
 * not say `net`), else `undefined`.
 *
 * @throws As `getBackend()` does when `ASYNCORE_BACKEND` is invalid or asks for a missing addon.
 * @example
 * ```ts
 * if (nativeClientBackend() === undefined) console.log("load on node:net");
 * ```
 */
export function nativeClientBackend(): SocketBackend | undefined {
  const backend = getBackend();
  return backend.name === "native" ? backend : undefined;
}

/** What settles the connect promise, kept until it is settled. */
interface Pending {
  resolve(sock: LoadSocket): void;
  reject(err: unknown): void;
  timer: NodeJS.Timeout;
  signal: AbortSignal | undefined;
}

/**
 * One native connection as a {@link LoadSocket}; it is its connection's events object too, so a
 * connection costs one object here and no closure per callback.
 */
class NativeLoadSocket implements LoadSocket, StreamEvents {
  readonly #conn: StreamConnection;
  readonly #events: LoadSocketEvents;
  #pending: Pending | undefined;
  /** Faulted or destroyed: nothing more is reported. */
  #done = false;
  #closed = false;
  #onClosed: (() => void) | undefined;

  constructor(backend: SocketBackend, target: LoadTarget, events: LoadSocketEvents, pending: Pending) {
    this.#events = events;
    this.#pending = pending;
    const addr: Address = target.path ?? [target.host ?? "127.0.0.1", target.port!];
    this.#conn = backend.connect(addr, {}, this);
  }

  /** Give up connecting: reject with `err` and close. */
  giveUp = (err: unknown): void => {
    const pending = this.#settle();
    if (pending === undefined) return;
    this.#done = true;
    this.#conn.abort();
    pending.reject(err);
  };

  /** The abort listener of the connect's signal. */
  onAbort = (): void => this.giveUp(this.#pending?.signal?.reason);

  write(data: Buffer): void {
    this.#conn.write(data);
  }

  destroy(): Promise<void> {
    this.#done = true;
    if (this.#closed) return Promise.resolve();
    const closed = new Promise<void>((resolve) => {
      this.#onClosed = resolve;
    });
    this.#conn.abort();
    return closed;
  }

  onConnect(): void {
    this.#settle()?.resolve(this);
  }

  onData(chunk: Buffer): void {
    this.#events.onRead(chunk.length, chunk);
  }

  onEnd(): void {
    this.#fault("ERR_UNEXPECTED_EOF");
  }

  onWritePaused(): void {}

  onWriteResumed(): void {}

  onClose(err: Error | null): void {
    this.#closed = true;
    this.#onClosed?.();
    const pending = this.#settle();
    if (pending !== undefined) {
      this.#done = true;
      pending.reject(err ?? codedError("ERR_UNEXPECTED_EOF", "Cannot connect: closed before connected"));
      return;
    }
    this.#fault(
      err === null ? "ERR_UNEXPECTED_EOF" : ((err as Error & { code?: string }).code ?? "ERR_UNKNOWN"),
    );
  }

  /** End the connecting phase: the pending settlers, or `undefined` when it was over already. */
  #settle(): Pending | undefined {
    const pending = this.#pending;
    if (pending === undefined) return undefined;
    this.#pending = undefined;
    clearTimeout(pending.timer);
    pending.signal?.removeEventListener("abort", this.onAbort);
    return pending;
  }

  #fault(code: string): void {
    if (this.#done) return;
    this.#done = true;
    this.#events.onFault(code);
  }
}

/**
 * Open one connection on the native backend and resolve once it is connected (TCP connections
 * have Nagle's algorithm off, as the backend dials them). The connection is closed before the
 * promise rejects.
 *
 * @throws Rejects with `ERR_BACKEND_UNAVAILABLE` where the native backend is not in use; with
 * the connect error (`ECONNREFUSED`, `EMFILE`, …), `ETIMEDOUT`, or `signal.reason` when aborted.
 * @example
 * ```ts
 * const sock = await connectNativeLoadSocket({ port }, { timeoutMs: 5000 }, events);
 * ```
 */
export function connectNativeLoadSocket(
  target: LoadTarget,
  opts: LoadConnectOptions,
  events: LoadSocketEvents,
): Promise<LoadSocket> {
  return new Promise((resolve, reject) => {
    const backend = nativeClientBackend();
    if (backend === undefined) {
      reject(codedError(codes.BACKEND_UNAVAILABLE, "Cannot connect: the native backend is not in use"));
      return;
    }
    const signal = opts.signal;
    const timer = setTimeout(
      () =>
        sock.giveUp(
          codedError(
            "ETIMEDOUT",
            `Cannot connect to ${formatTarget(target)}: no answer in ${opts.timeoutMs} ms`,
          ),
        ),
      opts.timeoutMs,
    );
    const sock = new NativeLoadSocket(backend, target, events, { resolve, reject, timer, signal });
    if (signal?.aborted) sock.onAbort();
    else signal?.addEventListener("abort", sock.onAbort, { once: true });
  });
}
