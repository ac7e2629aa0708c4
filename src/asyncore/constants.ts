/**
 * Socket families and types, as asyncore's `create_socket(family, type)` takes them.
 * The values are Linux's, so ported code that prints them sees familiar numbers.
 *
 * @example
 * ```ts
 * dispatcher.createSocket(AF_INET6, SOCK_DGRAM);
 * ```
 * @module
 */

/**
 * IPv4. Python: `socket.AF_INET`.
 *
 * @example
 * ```ts
 * server.createSocket(AF_INET); // then bind(["127.0.0.1", 0])
 * ```
 */
export const AF_INET = 2;
/**
 * IPv6. Python: `socket.AF_INET6`.
 *
 * @example
 * ```ts
 * server.createSocket(AF_INET6); // then bind(["::1", 0])
 * ```
 */
export const AF_INET6 = 10;
/**
 * Unix-domain sockets (addresses are paths). Python: `socket.AF_UNIX`.
 *
 * @example
 * ```ts
 * server.createSocket(AF_UNIX); // then bind("/tmp/echo.sock")
 * ```
 */
export const AF_UNIX = 1;
/**
 * Byte streams: TCP, or stream Unix sockets. Python: `socket.SOCK_STREAM`.
 *
 * @example
 * ```ts
 * client.createSocket(AF_INET, SOCK_STREAM); // the default
 * ```
 */
export const SOCK_STREAM = 1;
/**
 * Datagrams: UDP. Python: `socket.SOCK_DGRAM`.
 *
 * @example
 * ```ts
 * udp.createSocket(AF_INET, SOCK_DGRAM);
 * await udp.bind(["127.0.0.1", 0]);
 * ```
 */
export const SOCK_DGRAM = 2;
