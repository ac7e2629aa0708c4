/**
 * `FileDispatcher`: a dispatcher over a pipe or terminal descriptor. Python: `asyncore.file_dispatcher`.
 *
 * @module
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as tty from "node:tty";
import { codedError, codes } from "../errors.js";
import { Dispatcher } from "./dispatcher.js";
import type { SocketMap } from "./socket-map.js";

/**
 * Wrap a pipe, socket or terminal descriptor so `recv`/`send` and the handlers work on it.
 * Unlike Python, the descriptor is taken over (closed with the dispatcher), not duplicated.
 *
 * @throws `ERR_BAD_SOCKET` for a regular file (it is always "ready"; read it with `node:fs`).
 * @example
 * ```ts
 * const [r, w] = pipe();           // e.g. from a child process's stdio
 * new LineReader(r.fd);            // class LineReader extends FileDispatcher { … }
 * ```
 */
export class FileDispatcher extends Dispatcher {
  constructor(fd: number, map?: SocketMap) {
    super(openDescriptor(fd), map);
    this.connected = true;
  }
}

function openDescriptor(fd: number): net.Socket {
  if (tty.isatty(fd)) return new tty.ReadStream(fd);
  if (fs.fstatSync(fd).isFile()) {
    throw codedError(
      codes.BAD_SOCKET,
      `Cannot wrap descriptor ${fd}: a regular file is not a pipe, socket or terminal`,
    );
  }
  return new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
}
