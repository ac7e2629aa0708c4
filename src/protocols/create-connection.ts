/**
 * `createConnection` and `createUnixConnection`: open a stream connection and drive it with a
 * protocol.
 *
 * @module
 */
import type * as tls from "node:tls";
import type { Address } from "../address.js";
import type { StreamConnection, StreamEvents } from "../core/index.js";
import { getBackend } from "../core/index.js";
import { codedError, codes, invalidArgType, invalidArgValue } from "../errors.js";
import type { StreamProtocol, Transport } from "./protocol.js";
import { StreamTransport } from "./stream-transport.js";

/**
 * Options of {@link createConnection} and {@link createUnixConnection}.
 *
 * @example
 * ```ts
 * const opts: ConnectOptions = { tls: { servername: "localhost", ca }, signal: AbortSignal.timeout(5000) };
 * const [transport] = await createConnection(() => new Client(), "127.0.0.1", port, opts);
 * ```
 */
export interface ConnectOptions {
  /** TLS: `true` for the defaults (system CAs), or Node's TLS connect options (`ca`, `servername`, …). */
  tls?: tls.ConnectionOptions | true;
  /** Local address to bind before connecting (TCP only). */
  localAddr?: Address;
  /** Aborting it while connecting (TLS: until the handshake is done) rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/**
 * Connect to `host`:`port` and drive the connection with a protocol from `factory` (called
 * once connected). Resolves with `[transport, protocol]` after `connectionMade` ran.
 * Python: `loop.create_connection()`.
 *
 * @throws as a rejection: the system error (`ECONNREFUSED`, `ENOTFOUND`, `ETIMEDOUT`, a TLS
 *   verification error such as `UNABLE_TO_VERIFY_LEAF_SIGNATURE`); `signal.reason` when
 *   aborted; what `factory` or `connectionMade` threw.
 * @example
 * ```ts
 * const [transport, protocol] = await createConnection(() => new Client(), "127.0.0.1", port);
 * transport.write("ping\n");
 * ```
 */
export function createConnection<P extends StreamProtocol>(
  factory: () => P,
  host: string,
  port: number,
  opts: ConnectOptions = {},
): Promise<[Transport, P]> {
  if (typeof host !== "string") {
    return Promise.reject(invalidArgType(`Cannot connect: host must be a string, got ${typeof host}`));
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    return Promise.reject(invalidArgValue(`Cannot connect: port must be an integer 0-65535, got ${port}`));
  }
  return connect(factory, [host, port], opts);
}

/**
 * Connect to the Unix-domain socket `path` and drive the connection with a protocol from
 * `factory`. Resolves with `[transport, protocol]` after `connectionMade` ran.
 * Python: `loop.create_unix_connection()`.
 *
 * @throws as a rejection: the system error (`ENOENT`, `ECONNREFUSED`, …); `signal.reason` when
 *   aborted; what `factory` or `connectionMade` threw.
 * @example
 * ```ts
 * const [transport] = await createUnixConnection(() => new Client(), "/tmp/echo.sock");
 * ```
 */
export function createUnixConnection<P extends StreamProtocol>(
  factory: () => P,
  path: string,
  opts: ConnectOptions = {},
): Promise<[Transport, P]> {
  if (typeof path !== "string" || path === "") {
    return Promise.reject(invalidArgType("Cannot connect: path must be a non-empty string"));
  }
  return connect(factory, path, opts);
}

function connect<P extends StreamProtocol>(
  factory: () => P,
  addr: Address,
  opts: ConnectOptions,
): Promise<[Transport, P]> {
  if (typeof factory !== "function") {
    return Promise.reject(
      invalidArgType(`Cannot connect: factory must be a function, got ${typeof factory}`),
    );
  }
  const { signal } = opts;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<[Transport, P]>((resolve, reject) => {
    let settled = false;
    let conn: StreamConnection | undefined;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      signal?.removeEventListener("abort", onAbort);
      return true;
    };
    const onAbort = (): void => {
      if (!settle()) return;
      conn?.abort();
      reject(signal!.reason);
    };
    const connector: StreamEvents = {
      onConnect: () => {
        if (!settle() || !conn) return;
        let protocol: P;
        try {
          protocol = factory();
        } catch (err) {
          conn.abort();
          reject(err);
          return;
        }
        const transport = new StreamTransport(conn, protocol);
        const failure = transport.begin();
        if (failure) reject(failure);
        else resolve([transport, protocol]);
      },
      onClose: (err) => {
        if (!settle()) return;
        reject(
          err ?? codedError(codes.NOT_CONNECTED, "Cannot connect: closed before the connection was made"),
        );
      },
      onData() {},
      onEnd() {},
      onWritePaused() {},
      onWriteResumed() {},
    };
    try {
      conn = getBackend().connect(addr, { tls: opts.tls, localAddr: opts.localAddr }, connector);
    } catch (err) {
      settle();
      reject(err);
      return;
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
