/**
 * {@link Server}: the listening sockets made by `createServer`/`createUnixServer`, and the
 * connections accepted through them.
 *
 * @module
 */
import type { Address } from "../address.js";
import type { ListenOptions, StreamConnection, StreamListener } from "../core/index.js";
import { getBackend } from "../core/index.js";
import { codedError, codes, toCodedError } from "../errors.js";
import { callExceptionHandler } from "./exception-handler.js";
import type { StreamProtocol } from "./protocol.js";
import { StreamTransport } from "./stream-transport.js";

/** Internal: listen on the given addresses (not part of the public API). */
export const kListen = Symbol("listen");

/** How a server was asked to behave. */
export interface ServerSettings {
  /** Accept connections right away (default true). */
  startServing?: boolean;
  /** Aborting it closes the server. */
  signal?: AbortSignal;
}

/**
 * A set of listening sockets serving one protocol factory. Made by {@link createServer} and
 * {@link createUnixServer}, never directly. Python: `asyncio.Server` (with 3.12's
 * `wait_closed()`, which waits for the accepted connections too).
 *
 * Each accepted connection gets `factory()`'s protocol and a transport; `connectionMade` runs
 * before any of its data is read.
 *
 * @example
 * ```ts
 * await using server = await createServer(() => new Echo(), "127.0.0.1", 0);
 * console.log(server.addresses); // [["127.0.0.1", 40123]]
 * ```
 */
export class Server {
  #factory: () => StreamProtocol;
  #listeners: StreamListener[] = [];
  #openListeners = 0;
  #serving = false;
  #closed = false;
  #forever = false;
  /** Accepted before serving started: held, unread, until `startServing()`. */
  #held: StreamConnection[] = [];
  /** Accepted connections not yet lost. */
  #active = 0;
  #signal: AbortSignal | undefined;
  #onAbort = (): void => this.close();
  #whenClosed: Promise<void>;
  #resolveClosed!: () => void;
  #wakeForever: Array<() => void> = [];
  /** Every transport's `onLost`: one function for all of them, not a closure each. */
  readonly #onTransportLost = (): void => {
    this.#active--;
    this.#checkClosed();
  };

  /** Not for direct use: see {@link createServer}. @internal */
  constructor(factory: () => StreamProtocol, settings: ServerSettings = {}) {
    this.#factory = factory;
    this.#serving = settings.startServing ?? true;
    this.#signal = settings.signal;
    this.#whenClosed = new Promise<void>((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  /** The addresses listened on (empty once closed). Python: `Server.sockets`. */
  get addresses(): Address[] {
    return this.#closed ? [] : this.#listeners.map((l) => l.address);
  }

  /**
   * Stop listening. Connections already accepted go on until they end; those accepted while
   * not serving are aborted. Idempotent. Python: `Server.close()`.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#serving = false;
    this.#signal?.removeEventListener("abort", this.#onAbort);
    for (const listener of this.#listeners) listener.close();
    for (const conn of this.#held.splice(0)) conn.abort();
    for (const wake of this.#wakeForever.splice(0)) wake();
    this.#checkClosed();
  }

  /**
   * Resolves once `close()` was called, every listener is closed and every connection this
   * server accepted has ended (waiting before `close()` waits for it too).
   * Python: `Server.wait_closed()` (3.12 semantics).
   */
  waitClosed(): Promise<void> {
    return this.#whenClosed;
  }

  /**
   * Start accepting (a no-op when already serving). Connections that arrived before are
   * served now. Python: `Server.start_serving()`.
   * @throws `ERR_SERVER_CLOSED` (as a rejection) once closed.
   */
  async startServing(): Promise<void> {
    if (this.#closed) throw closedError("start serving");
    if (this.#serving) return;
    this.#serving = true;
    for (const conn of this.#held.splice(0)) this.#adopt(conn);
  }

  /**
   * Serve until `close()` is called (or the server's signal aborts), then wait for
   * `waitClosed()`. With `opts.signal`, an abort closes the server and rejects with
   * `signal.reason` once closed. Python: `Server.serve_forever()`.
   * @throws `ERR_SERVER_CLOSED` (as a rejection) when closed, or already in `serveForever()`.
   */
  async serveForever(opts: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#closed) throw closedError("serve");
    if (this.#forever) {
      throw codedError(codes.SERVER_CLOSED, "Cannot serve: serveForever() is already running");
    }
    const { signal } = opts;
    signal?.throwIfAborted();
    this.#forever = true;
    const onAbort = (): void => this.close();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await this.startServing();
      if (!this.#closed) await new Promise<void>((resolve) => this.#wakeForever.push(resolve));
      await this.waitClosed();
    } finally {
      signal?.removeEventListener("abort", onAbort);
      this.#forever = false;
    }
    signal?.throwIfAborted();
  }

  /** `true` while accepting connections. Python: `Server.is_serving()`. */
  isServing(): boolean {
    return this.#serving && !this.#closed;
  }

  /** `close()`, then `waitClosed()`: for `await using`. Python: `async with server`. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.waitClosed();
  }

  /** Listen on every address (all or none); rejects with the first failure. @internal */
  async [kListen](addrs: readonly Address[], options: ListenOptions): Promise<void> {
    const signal = this.#signal;
    signal?.throwIfAborted();
    const backend = getBackend();
    try {
      for (const addr of addrs) {
        // Port 0 on several addresses: the first picks a port, the others take the same.
        const first = this.#listeners[0]?.address;
        const wanted: Address =
          typeof addr !== "string" && addr[1] === 0 && first !== undefined && typeof first !== "string"
            ? [addr[0], first[1]]
            : addr;
        const listener = await backend.listen(wanted, options, this.#listenerEvents());
        this.#listeners.push(listener);
        this.#openListeners++;
      }
      signal?.throwIfAborted();
    } catch (err) {
      this.close();
      throw err;
    }
    signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  #listenerEvents() {
    let open = true;
    return {
      onConnection: (conn: StreamConnection): void => {
        if (this.#closed) conn.abort();
        else if (this.#serving) this.#adopt(conn);
        else this.#held.push(conn);
      },
      onAcceptError: (err: Error): void => {
        callExceptionHandler({ message: "Cannot accept a connection", exception: toCodedError(err) });
      },
      onClose: (): void => {
        if (!open) return;
        open = false;
        this.#openListeners--;
        this.#checkClosed();
      },
    };
  }

  #adopt(conn: StreamConnection): void {
    let protocol: StreamProtocol;
    try {
      protocol = this.#factory();
    } catch (err) {
      callExceptionHandler({
        message: "Cannot create a protocol for an incoming connection",
        exception: toCodedError(err),
      });
      conn.abort();
      return;
    }
    const transport = new StreamTransport(conn, protocol, this.#onTransportLost);
    this.#active++;
    transport.begin();
  }

  #checkClosed(): void {
    if (this.#closed && this.#openListeners === 0 && this.#active === 0) this.#resolveClosed();
  }
}

function closedError(action: string): Error {
  return codedError(codes.SERVER_CLOSED, `Cannot ${action}: the server is closed`);
}
