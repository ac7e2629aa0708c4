/**
 * The far end of the complexity benchmark's connections, as a separate process so that the
 * measured process holds one descriptor per dispatcher and its CPU time is its own. Both sides
 * of the benchmark (asyncore-ts and CPython's asyncore) drive this same program.
 *
 * Commands arrive on stdin, one JSON object per line; each gets one JSON reply line on stdout
 * (`{"ok":true,…}` or `{"ok":false,"error":"…"}`), in order:
 *
 * - `{"op":"open","port":P,"count":N,"active":A}`: connect N sockets to 127.0.0.1:P (at most
 *   200 connects pending at once), the first A of them for ping-pong, the rest idle.
 * - `{"op":"pingpong","requests":R,"size":S}`: closed-loop ping-pong on the active sockets,
 *   one message of S bytes outstanding per socket, until R echoes of S bytes have come back.
 * - `{"op":"close"}`: destroy every connection opened by `open`.
 * - `{"op":"listen"}`: listen on 127.0.0.1:0 (for connect measurements); replies with `port`.
 *   Accepted sockets are kept until their peer closes them.
 * - `{"op":"unlisten"}`: stop listening and destroy what was accepted.
 *
 * The process exits when stdin ends, destroying everything.
 *
 *   node dist-test/bench/complexity-peer.js
 *
 * @module
 */
import * as net from "node:net";
import { createInterface } from "node:readline";

const BATCH = 200;
const CONNECT_TIMEOUT_MS = 10_000;

let conns: net.Socket[] = [];
let active: net.Socket[] = [];
let listener: net.Server | undefined;
const accepted = new Set<net.Socket>();

function reply(value: object): void {
  process.stdout.write(`${JSON.stringify({ ok: true, ...value })}\n`);
}

function connectOne(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: "127.0.0.1", noDelay: true });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`connect to port ${port} timed out`));
    }, CONNECT_TIMEOUT_MS);
    sock.once("connect", () => {
      clearTimeout(timer);
      sock.removeAllListeners("error");
      // Idle sockets must stay quiet; a failure after connecting is reported at the next command.
      sock.on("error", () => {});
      resolve(sock);
    });
    sock.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

async function open(port: number, count: number, activeCount: number): Promise<void> {
  const opened: net.Socket[] = [];
  try {
    for (let done = 0; done < count; ) {
      const n = Math.min(BATCH, count - done);
      opened.push(...(await Promise.all(Array.from({ length: n }, () => connectOne(port)))));
      done += n;
    }
  } catch (err) {
    for (const s of opened) s.destroy();
    throw err;
  }
  conns.push(...opened);
  active = conns.slice(0, activeCount);
}

function pingpong(requests: number, size: number): Promise<number> {
  const message = Buffer.alloc(size, 0x61);
  const start = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    let sent = 0;
    let echoed = 0;
    const cleanups: Array<() => void> = [];
    const finish = (err?: Error): void => {
      for (const c of cleanups) c();
      if (err) reject(err);
      else resolve(Number(process.hrtime.bigint() - start) / 1e6);
    };
    for (const sock of active) {
      let pending = 0;
      const onData = (chunk: Buffer): void => {
        pending -= chunk.length;
        if (pending > 0) return;
        if (pending < 0) {
          finish(new Error("the server sent more bytes than were asked for"));
        } else if (++echoed === requests) {
          finish();
        } else if (sent < requests) {
          sent++;
          pending = size;
          sock.write(message);
        }
      };
      const onEnd = (): void => finish(new Error("the server closed an active connection"));
      sock.on("data", onData);
      sock.on("end", onEnd);
      cleanups.push(() => {
        sock.off("data", onData);
        sock.off("end", onEnd);
      });
      if (sent < requests) {
        sent++;
        pending = size;
        sock.write(message);
      }
    }
    if (active.length === 0 || requests <= 0) finish(new Error("no active connection or no request"));
  });
}

async function destroyAll(sockets: Iterable<net.Socket>): Promise<void> {
  const waits: Promise<void>[] = [];
  for (const s of sockets) {
    if (!s.closed) waits.push(new Promise((resolve) => s.once("close", () => resolve())));
    s.destroy();
  }
  await Promise.all(waits);
}

async function listen(): Promise<number> {
  if (listener !== undefined) throw new Error("already listening");
  const server = net.createServer((sock) => {
    accepted.add(sock);
    sock.on("error", () => {});
    sock.on("end", () => sock.end());
    sock.on("close", () => accepted.delete(sock));
    sock.resume();
  });
  listener = server;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port: 0, host: "127.0.0.1", backlog: 1024 }, resolve);
  });
  return (server.address() as net.AddressInfo).port;
}

async function unlisten(): Promise<void> {
  const server = listener;
  listener = undefined;
  await destroyAll([...accepted]);
  if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
}

async function handle(line: string): Promise<void> {
  const cmd = JSON.parse(line) as { op: string; port?: number; count?: number; active?: number } & {
    requests?: number;
    size?: number;
  };
  switch (cmd.op) {
    case "open":
      await open(cmd.port!, cmd.count!, cmd.active ?? 0);
      return reply({ opened: conns.length });
    case "pingpong":
      return reply({ ms: await pingpong(cmd.requests!, cmd.size!) });
    case "close":
      await destroyAll(conns);
      conns = [];
      active = [];
      return reply({});
    case "listen":
      return reply({ port: await listen() });
    case "unlisten":
      await unlisten();
      return reply({});
    default:
      throw new Error(`unknown op ${JSON.stringify(cmd.op)}`);
  }
}

// Commands run one at a time, in order.
let queue = Promise.resolve();
const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  queue = queue.then(() =>
    handle(line).catch((err: Error) => {
      process.stdout.write(`${JSON.stringify({ ok: false, error: `${err.name}: ${err.message}` })}\n`);
    }),
  );
});
lines.on("close", () => {
  void queue.then(async () => {
    await destroyAll(conns);
    await unlisten();
    process.exit(0);
  });
});
