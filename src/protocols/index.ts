/**
 * asyncio's protocols and transports for Node.js: `createServer`, `createConnection`,
 * `createDatagramEndpoint` and the interfaces your protocol objects implement.
 *
 * @example
 * ```ts
 * import { createServer, type Protocol, type Transport } from "asyncore-ts/protocols";
 *
 * class Echo implements Protocol {
 *   #t?: Transport;
 *   connectionMade(t: Transport) { this.#t = t; }
 *   dataReceived(data: Buffer) { this.#t!.write(data); }
 * }
 * const server = await createServer(() => new Echo(), "127.0.0.1", 0);
 * ```
 * @module
 */
export type { Address, BytesLike } from "../address.js";
export { type ConnectOptions, createConnection, createUnixConnection } from "./create-connection.js";
export { createDatagramEndpoint, type DatagramEndpointOptions } from "./create-datagram-endpoint.js";
export { createServer, createUnixServer, type ServerOptions } from "./create-server.js";
export {
  callExceptionHandler,
  defaultExceptionHandler,
  type ExceptionContext,
  type ExceptionHandler,
  getExceptionHandler,
  setExceptionHandler,
} from "./exception-handler.js";
export type {
  BufferedProtocol,
  DatagramProtocol,
  DatagramTransport,
  Protocol,
  StreamProtocol,
  Transport,
} from "./protocol.js";
export { Server } from "./server.js";
