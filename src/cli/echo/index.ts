/**
 * Echo servers on each API of asyncore-ts (and on plain `node:net`), behind one function:
 * `startEchoServer(api, { host, port, unix })`. They are what `asyncore echo` serves and what
 * `asyncore demo` measures.
 *
 * Every server applies backpressure end to end: a peer that sends without reading makes the
 * server stop reading from it, so one connection holds a bounded amount of the server's memory
 * (the received bytes waiting to be sent back stay under `maxBuffered`, 256 KiB by default,
 * plus the socket layer's own buffers). Every server shuts down gracefully: `close(graceMs)`
 * stops accepting, lets echoes in flight finish, closes quiet connections, and drops the rest
 * when the grace period ends.
 *
 * @module
 */
import { lstat, unlink } from "node:fs/promises";
import type { Address } from "../../asyncore/index.js";
import { invalidArgValue } from "../../errors.js";
import { startChatEcho } from "./chat-echo.js";
import { startDispatcherEcho } from "./dispatcher-echo.js";
import type { RunningEchoServer } from "./echo-server.js";
import { startProtocolEcho } from "./protocol-echo.js";
import { startRawEcho } from "./raw-echo.js";
import { startStreamsEcho } from "./streams-echo.js";

export { DEFAULT_MAX_BUFFERED, formatListenAddress, type RunningEchoServer } from "./echo-server.js";

/** The APIs an echo server can be built on. */
export const ECHO_SERVER_APIS = ["dispatcher", "chat", "protocol", "streams"] as const;

/** One of {@link ECHO_SERVER_APIS}, or `raw`: plain `node:net`, the baseline of comparisons. */
export type EchoServerApi = (typeof ECHO_SERVER_APIS)[number] | "raw";

/** Where and how {@link startEchoServer} listens. */
export interface EchoServerOptions {
  /** TCP host (default `127.0.0.1`); an IPv6 literal such as `::1` listens on IPv6. */
  host?: string;
  /** TCP port (default 0: any free port). */
  port?: number;
  /** Listen on this Unix-domain socket path instead of TCP (a stale socket file is removed). */
  unix?: string;
  /** Listen backlog (default 1024). */
  backlog?: number;
  /** Received bytes waiting to be echoed on one connection before reading stops (default 256 KiB). */
  maxBuffered?: number;
  /** Where connection failures other than resets are reported (default: a line on stderr). */
  log?: (line: string) => void;
}

const STARTERS = {
  dispatcher: startDispatcherEcho,
  chat: startChatEcho,
  protocol: startProtocolEcho,
  streams: startStreamsEcho,
  raw: startRawEcho,
} as const;

/**
 * Start an echo server on `api` and resolve once it listens.
 *
 * - `dispatcher`: a `DispatcherWithSend` per connection, run by `loop()` over a map of its own;
 *   `readable()` is false while its `outBufferSize` is over `maxBuffered`.
 * - `chat`: an `AsyncChat` with a `null` terminator that pushes every chunk back; `readable()`
 *   is false while its `outBufferSize` is over `maxBuffered`.
 * - `protocol`: a `Protocol` whose `pauseWriting`/`resumeWriting` pause and resume reading
 *   (high-water mark `maxBuffered`).
 * - `streams`: `startServer` with a `read()` → `write()` → `await drain()` loop.
 * - `raw`: plain `node:net`, pausing the socket while `write()` says its buffer is full.
 *
 * At the peer's EOF each sends what is left, then closes. No Python counterpart: this is the
 * server of `asyncore echo`.
 *
 * @throws (rejects) `ERR_INVALID_ARG_VALUE` for an unknown `api`, both `port` and `unix`, or a
 *   port out of range; the system error when it cannot listen (`EADDRINUSE`, `EACCES`, …).
 * @example
 * ```ts
 * const server = await startEchoServer("protocol", { host: "127.0.0.1", port: 0 });
 * console.log(`listening on ${formatListenAddress(server.address)}`);
 * process.once("SIGTERM", () => void server.close(2000));
 * ```
 */
export async function startEchoServer(
  api: EchoServerApi,
  options: EchoServerOptions = {},
): Promise<RunningEchoServer> {
  if (!Object.hasOwn(STARTERS, api)) {
    throw invalidArgValue(`Cannot start echo server: unknown API "${api}"`);
  }
  const { host = "127.0.0.1", port, unix } = options;
  if (unix !== undefined && port !== undefined) {
    throw invalidArgValue("Cannot start echo server: give a TCP port or a Unix socket path, not both");
  }
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    throw invalidArgValue(`Cannot start echo server: port must be an integer in [0, 65535], got ${port}`);
  }
  let address: Address;
  if (unix !== undefined) {
    await removeStaleSocket(unix);
    address = unix;
  } else {
    address = [host, port ?? 0];
  }
  return STARTERS[api]({
    address,
    ...(options.backlog !== undefined && { backlog: options.backlog }),
    ...(options.maxBuffered !== undefined && { maxBuffered: options.maxBuffered }),
    ...(options.log !== undefined && { log: options.log }),
  });
}

/** Remove a socket file left at `path` by a server that is gone (any other file is kept). */
async function removeStaleSocket(path: string): Promise<void> {
  try {
    if ((await lstat(path)).isSocket()) await unlink(path);
  } catch (err) {
    if ((err as { code?: unknown }).code !== "ENOENT") throw err;
  }
}
