/**
 * `asyncore-ts/asyncore`: Python's dispatcher model on Node.js.
 *
 * @module
 */
export type { Address, BytesLike } from "../address.js";
export type { NativeDatagramEndpoint, NativeSocket, NativeStreamListener } from "../core/index.js";
export type { ServerLimitOptions } from "../core/server-limits.js";
export { ExitNow } from "../errors.js";
export { compactTraceback } from "./compact-traceback.js";
export { AF_INET, AF_INET6, AF_UNIX, SOCK_DGRAM, SOCK_STREAM } from "./constants.js";
export { Dispatcher, type DispatcherSocket, type StreamSocket } from "./dispatcher.js";
export { DispatcherWithSend } from "./dispatcher-with-send.js";
export { FileDispatcher } from "./file-dispatcher.js";
export { closeAll, type LoopOptions, loop, poll } from "./loop.js";
export { type SocketMap, socketMap } from "./socket-map.js";
