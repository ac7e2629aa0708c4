/**
 * asyncore-ts: Python's asyncore/asynchat socket model and asyncio's protocols and streams,
 * for Node.js. Everything of the subpath modules, in one place.
 *
 * @module
 */
export * from "./asynchat/index.js";
export {
  AF_INET,
  AF_INET6,
  AF_UNIX,
  closeAll,
  compactTraceback,
  Dispatcher,
  type DispatcherSocket,
  DispatcherWithSend,
  ExitNow,
  FileDispatcher,
  type LoopOptions,
  loop,
  type NativeDatagramEndpoint,
  type NativeSocket,
  type NativeStreamListener,
  poll,
  type ServerLimitOptions,
  SOCK_DGRAM,
  SOCK_STREAM,
  type SocketMap,
  type StreamSocket,
  socketMap,
} from "./asyncore/index.js";
export { backendName } from "./core/index.js";
export { codes, IncompleteReadError, LimitOverrunError } from "./errors.js";
export * from "./protocols/index.js";
export * from "./streams/index.js";
