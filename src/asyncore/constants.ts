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

/** IPv4. Python: `socket.AF_INET`. */
export const AF_INET = 2;
/** IPv6. Python: `socket.AF_INET6`. */
export const AF_INET6 = 10;
/** Unix-domain sockets (addresses are paths). Python: `socket.AF_UNIX`. */
export const AF_UNIX = 1;
/** Byte streams: TCP, or stream Unix sockets. Python: `socket.SOCK_STREAM`. */
export const SOCK_STREAM = 1;
/** Datagrams: UDP. Python: `socket.SOCK_DGRAM`. */
export const SOCK_DGRAM = 2;
