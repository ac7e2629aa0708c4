/**
 * `createServer` and `createUnixServer`: listen for stream connections and serve each with a
 * new protocol.
 *
 * @module
 */
import { lookup } from "node:dns/promises";
import { lstat, unlink } from "node:fs/promises";
import type * as tls from "node:tls";
import type { Address } from "../address.js";
import type { ListenOptions } from "../core/index.js";
import { checkServerLimits } from "../core/server-limits.js";
import { hasCode, invalidArgType } from "../errors.js";
import type { StreamProtocol } from "./protocol.js";
import { kListen, Server } from "./server.js";

/** Options of {@link createServer} and {@link createUnixServer}. */
export interface ServerOptions {
  /** Length of the kernel's queue of pending connections (the system default when left out). */
  backlog?: number;
  /** TLS server options (`key`, `cert`, …): every accepted connection is TLS after its handshake. */
  tls?: tls.TlsOptions;
  /** Accept connections right away (default `true`); otherwise call `startServing()`. */
  startServing?: boolean;
  /** Aborting it while listening rejects with `signal.reason`; once listening, it closes the server. */
  signal?: AbortSignal;
  /**
   * Most connections open at once per listening address (default: no limit). A connection
   * arriving while that many are open is closed at once, before any protocol is made, and
   * counted; refusals reach the exception handler as `ERR_LIMIT_REACHED` errors
   * (with the number refused), at most once a second.
   */
  maxConnections?: number;
  /**
   * Close a connection whose peer sends nothing for this many milliseconds (default: never):
   * the transport is aborted and `connectionLost(err)` gets an `ERR_LIMIT_REACHED` error.
   * Checked by one coarse timer per listener: it fires after 1 to 1.25 × the value. The clock
   * stops while reading is paused.
   */
  idleTimeout?: number;
}

/**
 * Listen on `host`:`port` and serve each connection with a protocol from `factory`. `host`
 * `undefined` listens on every interface (`::` dual-stack, or `0.0.0.0` without IPv6); a host
 * name listens on each of its addresses (with port 0, all on the same port). Resolves once
 * listening. Python: `loop.create_server()`.
 *
 * @throws the system error (`EADDRINUSE`, `EACCES`, `ENOTFOUND`, …) as a rejection;
 *   `signal.reason` when aborted; `ERR_INVALID_ARG_VALUE`/`ERR_INVALID_ARG_TYPE` for a bad
 *   `maxConnections` or `idleTimeout`.
 * @example
 * ```ts
 * const server = await createServer(() => new Echo(), "127.0.0.1", 0);
 * const [, port] = server.addresses[0] as [string, number];
 * ```
 */
export async function createServer(
  factory: () => StreamProtocol,
  host: string | undefined,
  port: number,
  opts: ServerOptions = {},
): Promise<Server> {
  checkFactory(factory);
  if (host !== undefined && typeof host !== "string") {
    throw invalidArgType(`Cannot create server: host must be a string or undefined, got ${typeof host}`);
  }
  const listenOptions = listenOptionsOf(opts);
  if (host === undefined) {
    try {
      return await open(factory, [["::", port]], opts, listenOptions);
    } catch (err) {
      // A host without IPv6 support: every IPv4 interface then.
      if (!hasCode(err, "EAFNOSUPPORT") && !hasCode(err, "EADDRNOTAVAIL")) throw err;
      return open(factory, [["0.0.0.0", port]], opts, listenOptions);
    }
  }
  const found = await lookup(host, { all: true, verbatim: true });
  const hosts = [...new Set(found.map((a) => a.address))];
  return open(
    factory,
    hosts.map((h): Address => [h, port]),
    opts,
    listenOptions,
  );
}

/**
 * Listen on the Unix-domain socket `path` and serve each connection with a protocol from
 * `factory`. A stale socket file at `path` is removed first, as asyncio does.
 * Python: `loop.create_unix_server()`.
 *
 * @throws the system error (`EADDRINUSE`, `EACCES`, …) as a rejection; `signal.reason` when aborted.
 * @example
 * ```ts
 * const server = await createUnixServer(() => new Echo(), "/tmp/echo.sock");
 * ```
 */
export async function createUnixServer(
  factory: () => StreamProtocol,
  path: string,
  opts: ServerOptions = {},
): Promise<Server> {
  checkFactory(factory);
  if (typeof path !== "string" || path === "") {
    throw invalidArgType("Cannot create server: path must be a non-empty string");
  }
  const listenOptions = listenOptionsOf(opts);
  await removeStaleSocket(path);
  return open(factory, [path], opts, listenOptions);
}

async function open(
  factory: () => StreamProtocol,
  addrs: Address[],
  opts: ServerOptions,
  listenOptions: ListenOptions,
): Promise<Server> {
  const server = new Server(factory, { startServing: opts.startServing, signal: opts.signal });
  await server[kListen](addrs, listenOptions);
  return server;
}

async function removeStaleSocket(path: string): Promise<void> {
  if (path.startsWith("\0")) return; // Linux abstract namespace: no file.
  try {
    if ((await lstat(path)).isSocket()) await unlink(path);
  } catch (err) {
    if (!hasCode(err, "ENOENT")) throw err;
  }
}

/** What the backend is asked for; limits are checked before anything is opened. */
function listenOptionsOf(opts: ServerOptions): ListenOptions {
  checkServerLimits(opts, "create server");
  const { backlog, tls, maxConnections, idleTimeout } = opts;
  return { backlog, tls, maxConnections, idleTimeout };
}

function checkFactory(factory: unknown): void {
  if (typeof factory !== "function") {
    throw invalidArgType(`Cannot create server: factory must be a function, got ${typeof factory}`);
  }
}
