/**
 * `openConnection` and `openUnixConnection`: connect, and get a reader and a writer.
 *
 * @module
 */
import { type ConnectOptions, createConnection, createUnixConnection } from "../protocols/index.js";
import { StreamReader } from "./stream-reader.js";
import { StreamReaderProtocol } from "./stream-reader-protocol.js";
import { StreamWriter } from "./stream-writer.js";

/** Options of {@link openConnection} and {@link openUnixConnection}. */
export type OpenConnectionOptions = ConnectOptions & {
  /** The reader's limit (default 65536): longest line `readLine` returns; reading pauses over twice it. */
  limit?: number;
};

/**
 * Connect to `host`:`port` and resolve with the connection's reader and writer. The reader
 * buffers from the moment the connection is made. Python: `asyncio.open_connection()`.
 *
 * Options: `limit` (the reader's), `tls` (`true` or Node's TLS connect options), `localAddr`,
 * and `signal`, which aborts the attempt while connecting (for TLS: until the handshake is done).
 *
 * @throws (rejects) the system error (`ECONNREFUSED`, `ENOTFOUND`, …) or the TLS error;
 *   `signal.reason` when aborted; `ERR_INVALID_ARG_VALUE`/`ERR_INVALID_ARG_TYPE` for a bad
 *   `limit`, host or port.
 * @example
 * ```ts
 * const server = await startServer(async (r, w) => { w.write(await r.readLine()); w.close(); }, "127.0.0.1", 0);
 * const [host, port] = server.addresses[0] as [string, number];
 * const [reader, writer] = await openConnection(host, port);
 * writer.write("hello\n");
 * console.log(String(await reader.readLine())); // "hello\n"
 * writer.close();
 * await writer.waitClosed();
 * ```
 */
export async function openConnection(
  host: string,
  port: number,
  opts: OpenConnectionOptions = {},
): Promise<[StreamReader, StreamWriter]> {
  const { limit, ...connectOptions } = opts;
  const reader = new StreamReader(limit);
  const protocol = new StreamReaderProtocol(reader);
  const [transport] = await createConnection(() => protocol, host, port, connectOptions);
  return [reader, new StreamWriter(transport, protocol, reader)];
}

/**
 * Connect to the Unix-domain socket `path` and resolve with the connection's reader and
 * writer. Python: `asyncio.open_unix_connection()`.
 *
 * @throws (rejects) the system error (`ENOENT`, `ECONNREFUSED`, …); `signal.reason` when
 *   aborted; `ERR_INVALID_ARG_VALUE`/`ERR_INVALID_ARG_TYPE` for a bad `limit` or path.
 * @example
 * ```ts
 * const server = await startUnixServer(async (r, w) => { w.write(await r.readLine()); w.close(); }, "/tmp/echo.sock");
 * const [reader, writer] = await openUnixConnection("/tmp/echo.sock");
 * ```
 */
export async function openUnixConnection(
  path: string,
  opts: OpenConnectionOptions = {},
): Promise<[StreamReader, StreamWriter]> {
  const { limit, ...connectOptions } = opts;
  const reader = new StreamReader(limit);
  const protocol = new StreamReaderProtocol(reader);
  const [transport] = await createUnixConnection(() => protocol, path, connectOptions);
  return [reader, new StreamWriter(transport, protocol, reader)];
}
