/**
 * asyncio's high-level streams for Node.js: `openConnection` and `startServer` give you a
 * `StreamReader` and a `StreamWriter` per connection, over the protocols layer.
 *
 * @example
 * ```ts
 * import { openConnection, startServer } from "asyncore-ts/streams";
 *
 * const server = await startServer(async (reader, writer) => {
 *   for await (const line of reader) writer.write(line); // echo, line by line
 *   writer.close();
 * }, "127.0.0.1", 0);
 * const [host, port] = server.addresses[0] as [string, number];
 * const [reader, writer] = await openConnection(host, port);
 * writer.write("hello\n");
 * console.log(String(await reader.readLine())); // "hello\n"
 * writer.close();
 * await writer.waitClosed();
 * server.close();
 * await server.waitClosed();
 * ```
 * @module
 */
export type { Address, BytesLike } from "../address.js";
export { IncompleteReadError, LimitOverrunError } from "../errors.js";
export type { ConnectOptions, Server, ServerOptions } from "../protocols/index.js";
export { type OpenConnectionOptions, openConnection, openUnixConnection } from "./open-connection.js";
export { type StartServerOptions, startServer, startUnixServer } from "./start-server.js";
export { type ReadOptions, type Separator, StreamReader } from "./stream-reader.js";
export { type ClientConnectedCallback, StreamReaderProtocol } from "./stream-reader-protocol.js";
export { type StartTlsOptions, StreamWriter, type WaitOptions } from "./stream-writer.js";
