/**
 * `startServer` and `startUnixServer`: listen, and run a callback with a reader and a writer
 * for each connection.
 *
 * @module
 */
import { invalidArgType, invalidArgValue } from "../errors.js";
import { createServer, createUnixServer, type Server, type ServerOptions } from "../protocols/index.js";
import { StreamReader } from "./stream-reader.js";
import { type ClientConnectedCallback, StreamReaderProtocol } from "./stream-reader-protocol.js";

/** Options of {@link startServer} and {@link startUnixServer}. */
export type StartServerOptions = ServerOptions & {
  /** Each reader's limit (default 65536): longest line `readLine` returns; reading pauses over twice it. */
  limit?: number;
};

/**
 * Listen on `host`:`port` and run `onClient(reader, writer)` for each connection, as soon as
 * it is accepted (for TLS: once its handshake is done). `host` `undefined` listens on every
 * interface. Resolves with the protocols layer's `Server` once listening.
 * Python: `asyncio.start_server()`.
 *
 * `onClient` may be async. What it throws or rejects with is reported through the exception
 * handler (see `setExceptionHandler`) and closes that connection only; the server keeps
 * serving. Its connection stays open after it returns, until the writer or the peer closes it.
 * Writers made here take the server side in `startTls()`.
 *
 * @throws (rejects) the system error (`EADDRINUSE`, `EACCES`, …); `signal.reason` when
 *   aborted; `ERR_INVALID_ARG_TYPE` when `onClient` is not a function; `ERR_INVALID_ARG_VALUE`
 *   for a `limit` that is not > 0.
 * @example
 * ```ts
 * const server = await startServer(async (reader, writer) => {
 *   for await (const line of reader) writer.write(line);
 *   writer.close();
 * }, "127.0.0.1", 0);
 * console.log(server.addresses); // [["127.0.0.1", 40123]]
 * ```
 */
export async function startServer(
  onClient: ClientConnectedCallback,
  host: string | undefined,
  port: number,
  opts: StartServerOptions = {},
): Promise<Server> {
  const { limit, ...serverOptions } = opts;
  return createServer(factoryFor(onClient, limit), host, port, serverOptions);
}

/**
 * Listen on the Unix-domain socket `path` (a stale socket file there is removed first) and run
 * `onClient(reader, writer)` for each connection, as {@link startServer} does.
 * Python: `asyncio.start_unix_server()`.
 *
 * @throws (rejects) as {@link startServer}.
 * @example
 * ```ts
 * const server = await startUnixServer(async (reader, writer) => {
 *   writer.write(await reader.readLine());
 *   writer.close();
 * }, path.join(dir, "echo.sock"));
 * ```
 */
export async function startUnixServer(
  onClient: ClientConnectedCallback,
  path: string,
  opts: StartServerOptions = {},
): Promise<Server> {
  const { limit, ...serverOptions } = opts;
  return createUnixServer(factoryFor(onClient, limit), path, serverOptions);
}

/** The protocol factory, after checking the arguments once (not on each connection). */
function factoryFor(
  onClient: ClientConnectedCallback,
  limit: number | undefined,
): () => StreamReaderProtocol {
  if (typeof onClient !== "function") {
    throw invalidArgType(`Cannot start server: onClient must be a function, got ${typeof onClient}`);
  }
  if (limit !== undefined) {
    if (typeof limit !== "number") {
      throw invalidArgType(`Cannot start server: limit must be a number, got ${typeof limit}`);
    }
    if (!(limit > 0)) throw invalidArgValue(`Cannot start server: limit must be > 0, got ${limit}`);
  }
  return () => new StreamReaderProtocol(new StreamReader(limit), onClient);
}
