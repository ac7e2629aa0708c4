/**
 * The socket map: which dispatchers one `loop()` serves.
 *
 * @module
 */
import type { Dispatcher } from "./dispatcher.js";

/**
 * Dispatchers by their `fileno()`. Python: the `map` argument of asyncore, a dict.
 *
 * @example
 * ```ts
 * const map: SocketMap = new Map();
 * new EchoServer(["127.0.0.1", 0], map);
 * await loop({ map });
 * ```
 */
export type SocketMap = Map<number, Dispatcher>;

/**
 * The default map, used when none is given. Python: `asyncore.socket_map`.
 *
 * @example
 * ```ts
 * new EchoServer(["127.0.0.1", 0]); // joins socketMap
 * console.log(socketMap.size);      // 1
 * await loop();                     // serves socketMap
 * ```
 */
export const socketMap: SocketMap = new Map();
