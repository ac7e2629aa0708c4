/**
 * Shared helpers of the streams socket tests: an independent `node:net` peer that answers
 * like CPython's `run_test_server` (an HTTP/1.0 reply, then close), a watch on unhandled
 * rejections, and an assertion on error codes. The protocol tests' helpers (timeouts, TLS
 * certificate, temporary directories, reported errors) are re-exported.
 * No side effects at import time (the test runner may load this file as a test).
 */
import assert from "node:assert/strict";
import * as net from "node:net";
import * as tls from "node:tls";
import { localhostCert } from "../protocols/helpers.js";

export {
  collectReports,
  deferred,
  hasIPv6Loopback,
  localhostCert,
  tcpAddress,
  tempDir,
  until,
  within,
} from "../protocols/helpers.js";

/** What CPython's test HTTP server sends back, whatever the request. */
export const HTTP_REPLY = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nTest message";

/** A running peer: its address and a close that destroys what is still connected. */
export interface Peer {
  /** `[host, port]` for TCP, the path for a Unix-domain socket. */
  address: [string, number] | string;
  /** The sockets it accepted, in order. */
  sockets: net.Socket[];
  close(): Promise<void>;
}

/**
 * A plain `node:net` (or `node:tls`) server: reads a request up to `\r\n\r\n`, answers
 * {@link HTTP_REPLY} and closes, as CPython's `test_utils.run_test_server` does.
 * `where` is a host (TCP, port 0) or a Unix-domain socket path.
 */
export function httpPeer(where: { host: string } | { path: string }, useTls = false): Promise<Peer> {
  return listenPeer(where, useTls, (sock) => {
    let seen = "";
    sock.on("data", (chunk: Buffer) => {
      seen += chunk.toString("latin1");
      if (seen.includes("\r\n\r\n")) sock.end(HTTP_REPLY);
    });
  });
}

/** A `node:net`/`node:tls` server that hands each socket to `onSocket`. */
export function listenPeer(
  where: { host: string } | { path: string },
  useTls: boolean,
  onSocket: (sock: net.Socket) => void,
): Promise<Peer> {
  const sockets: net.Socket[] = [];
  const accept = (sock: net.Socket): void => {
    sockets.push(sock);
    sock.on("error", () => {}); // resets are what several tests provoke on purpose
    onSocket(sock);
  };
  const server = useTls
    ? tls.createServer({ ...localhostCert() }, accept)
    : net.createServer({ allowHalfOpen: true }, accept);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    const ready = (): void => {
      const info = server.address();
      const address: Peer["address"] =
        typeof info === "string" || info === null
          ? (where as { path: string }).path
          : [info.address, info.port];
      resolve({
        address,
        sockets,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    };
    if ("path" in where) server.listen(where.path, ready);
    else server.listen(0, where.host, ready);
  });
}

/** Assert that `p` rejects with an error carrying `code`; resolves with that error. */
export async function rejectsWithCode(p: Promise<unknown>, code: string | RegExp): Promise<Error> {
  let caught: unknown;
  await assert.rejects(p, (err: unknown) => {
    caught = err;
    return true;
  });
  const actual = (caught as { code?: string }).code ?? "";
  if (typeof code === "string") assert.equal(actual, code, String(caught));
  else assert.match(actual, code, String(caught));
  return caught as Error;
}

/** Record unhandled rejections until `stop()`, which returns them. */
export function watchUnhandled(): { stop(): unknown[] } {
  const seen: unknown[] = [];
  const onRejection = (reason: unknown): void => {
    seen.push(reason);
  };
  process.on("unhandledRejection", onRejection);
  return {
    stop: () => {
      process.off("unhandledRejection", onRejection);
      return seen;
    },
  };
}

/** Let pending I/O callbacks and timers of this turn run. */
export function turn(ms = 0): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
