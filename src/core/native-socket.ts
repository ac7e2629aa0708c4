/**
 * The socket object of the native backend that users see: what `Dispatcher.accept()` returns
 * and `getExtraInfo("socket")` gives on that backend, in place of a `net.Socket`.
 *
 * @module
 */
import type { Address } from "../address.js";

/** What a {@link NativeSocket} needs of the connection that owns it. */
export interface NativeSocketOwner {
  readonly connecting: boolean;
  readonly closed: boolean;
  readonly ended: boolean;
  readonly writable: boolean;
  readonly localAddress: Address | undefined;
  readonly remoteAddress: Address | undefined;
  descriptor(): number;
  setOption(name: "nodelay" | "keepalive" | "linger0", on: boolean): void;
  end(): void;
  abort(err?: Error): void;
}

/**
 * A TCP or Unix-domain stream socket of the native backend, with the part of `net.Socket`'s
 * surface that code handed an accepted socket uses: addresses, `readyState`, `destroy()`,
 * `end()`, `setNoDelay()`, `setKeepAlive()`. Its bytes flow through the transport core (wrap it
 * in a dispatcher, or use the connection that owns it), not through stream methods.
 *
 * @example
 * ```ts
 * class Server extends Dispatcher {
 *   handleAccepted(sock: net.Socket | NativeSocket) { new EchoHandler(sock); }
 * }
 * ```
 */
export class NativeSocket {
  readonly #owner: NativeSocketOwner;

  /** @internal Made by the native backend only. */
  constructor(owner: NativeSocketOwner) {
    this.#owner = owner;
  }

  /** The connection behind this socket (the backend's `adopt()` gives it). @internal */
  get owner(): NativeSocketOwner {
    return this.#owner;
  }

  /** The OS descriptor, or -1 once closed. */
  get fd(): number {
    return this.#owner.descriptor();
  }

  /** As `net.Socket.readyState`: `opening`, `open`, `readOnly`, `writeOnly` or `closed`. */
  get readyState(): "opening" | "open" | "readOnly" | "writeOnly" | "closed" {
    const o = this.#owner;
    if (o.connecting) return "opening";
    if (o.closed) return "closed";
    if (!o.ended && o.writable) return "open";
    if (!o.ended) return "readOnly";
    if (o.writable) return "writeOnly";
    return "closed";
  }

  /** True once closed (by either side, or by an error). */
  get destroyed(): boolean {
    return this.#owner.closed;
  }

  get remoteAddress(): string | undefined {
    const a = this.#owner.remoteAddress;
    return typeof a === "string" || a === undefined ? undefined : a[0];
  }
  get remotePort(): number | undefined {
    const a = this.#owner.remoteAddress;
    return typeof a === "string" || a === undefined ? undefined : a[1];
  }
  get remoteFamily(): "IPv4" | "IPv6" | undefined {
    const host = this.remoteAddress;
    return host === undefined ? undefined : host.includes(":") ? "IPv6" : "IPv4";
  }
  get localAddress(): string | undefined {
    const a = this.#owner.localAddress;
    return typeof a === "string" || a === undefined ? undefined : a[0];
  }
  get localPort(): number | undefined {
    const a = this.#owner.localAddress;
    return typeof a === "string" || a === undefined ? undefined : a[1];
  }

  /** As `net.Socket.address()`: `{ address, family, port }`, the path for Unix, `{}` when closed. */
  address(): { address: string; family: string; port: number } | string | Record<string, never> {
    const a = this.#owner.localAddress;
    if (a === undefined) return {};
    if (typeof a === "string") return a;
    return { address: a[0], family: a[0].includes(":") ? "IPv6" : "IPv4", port: a[1] };
  }

  /** Close now, dropping unsent bytes; `err` becomes the close cause. */
  destroy(err?: Error): this {
    this.#owner.abort(err);
    return this;
  }

  /** As `net.Socket.resetAndDestroy()`: close now with a TCP reset (RST) instead of a FIN. */
  resetAndDestroy(): this {
    this.#owner.setOption("linger0", true);
    this.#owner.abort();
    return this;
  }

  /** Half-close once the buffered bytes are sent. */
  end(): this {
    this.#owner.end();
    return this;
  }

  /** TCP_NODELAY (on by default, as on every connection of asyncore-ts). A no-op for Unix sockets. */
  setNoDelay(noDelay = true): this {
    this.#owner.setOption("nodelay", noDelay);
    return this;
  }

  /** SO_KEEPALIVE. */
  setKeepAlive(enable = false): this {
    this.#owner.setOption("keepalive", enable);
    return this;
  }

  toString(): string {
    return `[NativeSocket fd=${this.fd}]`;
  }
}
