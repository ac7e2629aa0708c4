/**
 * Loopback servers for the CLI tests: a correct echo server and broken ones, each on port 0 and
 * closed with everything it accepted.
 */
import net from "node:net";

/** A listening test server and what it saw. */
export interface TestServer {
  port: number;
  /** Connections accepted so far. */
  accepted: number;
  /** Connections open now. */
  readonly open: number;
  /** Bytes received over all connections. */
  received: number;
  close(): Promise<void>;
}

/** What a test server does with a connection. */
export type Behaviour = (socket: net.Socket, server: TestServer) => void;

/** Echo every chunk. */
export const echo: Behaviour = (socket) => socket.on("data", (d) => socket.write(d));

/**
 * Echo whole lines only, each with its "\n", as a line-framed server does: bytes after the last
 * "\n" wait for the rest of their line. Every line echoed is recorded in `lines`.
 */
export function lineEcho(lines: Buffer[] = []): Behaviour {
  return (socket) => {
    let pending = Buffer.alloc(0);
    socket.on("data", (d) => {
      pending = Buffer.concat([pending, d]);
      for (let end = pending.indexOf(10); end !== -1; end = pending.indexOf(10)) {
        const line = pending.subarray(0, end + 1);
        lines.push(line);
        socket.write(line);
        pending = pending.subarray(end + 1);
      }
    });
  };
}

/** Echo with the first byte of every chunk flipped. */
export const corrupting: Behaviour = (socket) =>
  socket.on("data", (d) => {
    const copy = Buffer.from(d);
    copy[0] = copy[0]! ^ 0xff;
    socket.write(copy);
  });

/**
 * Echo with one byte flipped: byte number `offset` (0-based) of each connection's stream; every
 * other byte comes back as it was sent.
 */
export function corruptingAt(offset: number): Behaviour {
  return (socket) => {
    let seen = 0;
    socket.on("data", (d) => {
      if (offset >= seen && offset < seen + d.length) {
        const copy = Buffer.from(d);
        copy[offset - seen] = copy[offset - seen]! ^ 0xff;
        socket.write(copy);
      } else socket.write(d);
      seen += d.length;
    });
  };
}

/** Echo every chunk followed by one extra byte. */
export const chatty: Behaviour = (socket) =>
  socket.on("data", (d) => socket.write(Buffer.concat([d, Buffer.of(1)])));

/** Reset the connection as soon as data arrives. */
export const resetting: Behaviour = (socket) => socket.on("data", () => socket.resetAndDestroy());

/** Accept and never answer. */
export const silent: Behaviour = (socket) => socket.resume();

/** Start a server on 127.0.0.1 port 0 (or on a Unix socket `path`) with a behaviour. */
export async function startTestServer(behaviour: Behaviour, path?: string): Promise<TestServer> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer();
  const state: TestServer = {
    port: 0,
    accepted: 0,
    get open() {
      return sockets.size;
    },
    received: 0,
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const s of sockets) s.destroy();
        srv.close((err) => (err ? reject(err) : resolve()));
      }),
  };
  srv.on("connection", (socket) => {
    state.accepted += 1;
    sockets.add(socket);
    socket.on("data", (d) => {
      state.received += d.length;
    });
    // Resets from the load generator's teardown are expected here.
    socket.on("error", () => socket.destroy());
    socket.on("close", () => sockets.delete(socket));
    behaviour(socket, state);
  });
  await new Promise<void>((resolve, reject) => {
    srv.once("error", reject);
    if (path) srv.listen(path, resolve);
    else srv.listen(0, "127.0.0.1", resolve);
  });
  if (!path) state.port = (srv.address() as net.AddressInfo).port;
  return state;
}

/** Wait until `check()` is true, polling every 10 ms, for at most `ms`. */
export async function waitFor(check: () => boolean, ms = 2000): Promise<boolean> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}
