/**
 * `asyncore echo` as a real child process (`node dist/cli/main.js echo`): every API over TCP and
 * over a Unix socket, IPv6, backpressure against a client that sends 8 MiB without reading,
 * graceful shutdown with an echo in flight, the grace period running out, `--workers`, and
 * usage errors.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { exitWithin, killAll, listeningAddress, mainJs, parseTcp, runCli, startCli } from "./_cli-process.js";

const APIS = ["dispatcher", "chat", "protocol", "streams", "raw"] as const;
const MiB = 1024 * 1024;

const sockets = new Set<net.Socket>();
afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.clear();
  await killAll();
});

/** Connect to a TCP address or a Unix socket path. */
function connect(to: { host: string; port: number } | string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = typeof to === "string" ? net.connect(to) : net.connect(to.port, to.host);
    sockets.add(sock);
    sock.once("connect", () => {
      sock.off("error", reject);
      resolve(sock);
    });
    sock.once("error", reject);
  });
}

/** Everything `sock` receives until the peer ends, from now on. */
function readToEnd(sock: net.Socket, timeoutMs = 10_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => reject(new Error(`no EOF in ${timeoutMs} ms`)), timeoutMs);
    sock.on("data", (d: Buffer) => chunks.push(d));
    sock.once("end", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    sock.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.resume();
  });
}

/** Send `payload`, half-close, and check the whole echo comes back before the server's EOF. */
async function echoAndHalfClose(to: { host: string; port: number } | string, payload: Buffer): Promise<void> {
  const sock = await connect(to);
  const echoed = readToEnd(sock);
  sock.end(payload);
  const got = await echoed;
  assert.equal(got.length, payload.length, "every byte echoed before the server closed");
  assert.ok(got.equals(payload), "the echo is byte for byte what was sent");
}

/** Send and receive queue of the TCP socket localPort → remotePort, from /proc/net/tcp. */
function tcpQueues(localPort: number, remotePort: number): { tx: number; rx: number } {
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5) continue;
    if (Number.parseInt(f[1]!.split(":")[1]!, 16) !== localPort) continue;
    if (Number.parseInt(f[2]!.split(":")[1]!, 16) !== remotePort) continue;
    const [tx, rx] = f[4]!.split(":").map((x) => Number.parseInt(x, 16));
    return { tx: tx!, rx: rx! };
  }
  throw new Error(`no socket ${localPort} -> ${remotePort} in /proc/net/tcp`);
}

/**
 * Write `payload` in 64 KiB pieces, each after the previous one was taken, without reading;
 * resolve once nothing moves any more (client counters and both sockets' kernel queues stable
 * over 200 ms), with how much the server holds in its own memory at that point.
 */
async function writeWithoutReading(sock: net.Socket, payload: Buffer, serverPort: number) {
  sock.pause();
  let taken = 0;
  const piece = 64 * 1024;
  const next = (): void => {
    if (taken >= payload.length) return;
    sock.write(payload.subarray(taken, taken + piece), (err) => {
      if (err) return;
      taken += Math.min(piece, payload.length - taken);
      next();
    });
  };
  next();
  const snapshot = () => {
    const client = tcpQueues(sock.localPort!, serverPort);
    const server = tcpQueues(serverPort, sock.localPort!);
    return { taken, readable: sock.readableLength, client, server };
  };
  const deadline = Date.now() + 10_000;
  let last = JSON.stringify(snapshot());
  for (;;) {
    await new Promise((r) => setTimeout(r, 200));
    const now = JSON.stringify(snapshot());
    if (now === last) break;
    last = now;
    assert.ok(Date.now() < deadline, "the transfer settles within 10 s");
  }
  const s = snapshot();
  // Bytes the server has read = taken by the client's kernel (up to one piece more than the
  // completed writes) - still in the client's send queue - unread in the server's receive queue.
  const serverRead = s.taken + piece - s.client.tx - s.server.rx;
  // Bytes the server has written = in its send queue + in the client's receive queue + read by
  // the client's Node socket before it paused.
  const serverWrote = s.server.tx + s.client.rx + s.readable;
  return { ...s, held: serverRead - serverWrote };
}

describe("asyncore echo (CLI)", () => {
  let dir = "";
  before(async () => {
    assert.ok(existsSync(mainJs), `${mainJs} is missing: run npm run build`);
    dir = await mkdtemp(join(tmpdir(), "asyncore-echo-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("prints its help, and rejects bad options with status 2", async () => {
    const help = await runCli(["echo", "--help"]);
    assert.equal(help.status, 0);
    assert.match(
      help.stdout,
      /^Usage: asyncore echo \[--host H\] \[--port P\] \[--unix PATH\] \[--api API\]/,
    );
    assert.match(help.stdout, /SO_REUSEPORT/);
    const cases = [
      [
        ["--api", "carrier-pigeon"],
        /Invalid --api: expected one of dispatcher, chat, protocol, streams, raw/,
      ],
      [["--port", "65536"], /Invalid --port/],
      [["--unix", join(dir, "x.sock"), "--port", "1"], /cannot go with --host or --port/],
      [["--workers", "2", "--unix", join(dir, "x.sock")], /--workers is for TCP/],
      [["--grace", "soon"], /Invalid --grace/],
      [["--verbose"], /Unknown option '--verbose'/],
      [["extra"], /Unexpected argument: extra/],
    ] as const;
    const results = await Promise.all(cases.map(([args]) => runCli(["echo", ...args])));
    for (const [i, r] of results.entries()) {
      const [args, message] = cases[i]!;
      assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /Try 'asyncore echo --help'/);
    }
  });

  it("says so and exits 1 when it cannot listen", async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    try {
      const port = (taken.address() as net.AddressInfo).port;
      const r = await runCli(["echo", "--port", String(port)]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  for (const api of APIS) {
    it(`${api}: echoes over TCP, holds back a client that does not read, and finishes its echo on SIGTERM`, async () => {
      const proc = startCli(["echo", "--api", api]);
      const address = await listeningAddress(proc);
      assert.match(address, /^127\.0\.0\.1:\d+$/);
      const target = parseTcp(address);

      // A round trip with a half-close: all of it comes back, then the server closes.
      await echoAndHalfClose(target, randomBytes(300_000));

      // 8 MiB sent by a client that does not read: the server stops reading from it.
      const payload = randomBytes(8 * MiB);
      const sock = await connect(target);
      if (process.platform === "linux") {
        const s = await writeWithoutReading(sock, payload, target.port);
        assert.ok(s.server.rx > 0, `the server left bytes unread in its socket: ${JSON.stringify(s)}`);
        assert.ok(s.held <= 1 * MiB, `the server holds at most 1 MiB of the echo: ${s.held} bytes`);
      } else {
        sock.pause();
        sock.write(payload);
        await new Promise((r) => setTimeout(r, 500));
      }

      // Shut down with that echo in flight: no new connection, the echo completes, exit 0.
      proc.child.kill("SIGTERM");
      const refusedBy = Date.now() + 2000;
      for (;;) {
        const refused = await connect(target).then(
          (s) => {
            s.destroy();
            return false;
          },
          (err: NodeJS.ErrnoException) => err.code === "ECONNREFUSED",
        );
        if (refused) break;
        assert.ok(Date.now() < refusedBy, "new connections are refused after SIGTERM");
        await new Promise((r) => setTimeout(r, 20));
      }
      const echoed = await readToEnd(sock);
      assert.equal(echoed.length, payload.length, "the echo in flight completed");
      assert.ok(echoed.equals(payload));
      assert.deepEqual(await exitWithin(proc, 5000), { code: 0, signal: null });
      assert.match(proc.stderr(), /SIGTERM: closing [12] connection\(s\), grace 2000 ms/);
    });
  }

  for (const api of APIS) {
    it(`${api}: echoes over a Unix socket, and removes it on SIGINT`, async () => {
      const path = join(dir, `${api}.sock`);
      const proc = startCli(["echo", "--api", api, "--unix", path]);
      assert.equal(await listeningAddress(proc), path);
      await echoAndHalfClose(path, randomBytes(200_000));
      proc.child.kill("SIGINT");
      assert.deepEqual(await exitWithin(proc, 5000), { code: 0, signal: null });
      assert.equal(existsSync(path), false, "the socket file is gone");
    });
  }

  it("listens on IPv6 and prints the address in brackets", async (t) => {
    const probe = net.createServer();
    const hasV6 = await new Promise<boolean>((resolve) => {
      probe.once("error", () => resolve(false));
      probe.listen(0, "::1", () => probe.close(() => resolve(true)));
    });
    if (!hasV6) {
      t.skip("no IPv6 loopback here");
      return;
    }
    const proc = startCli(["echo", "--api", "streams", "--host", "::1"]);
    const address = await listeningAddress(proc);
    assert.match(address, /^\[::1\]:\d+$/);
    await echoAndHalfClose(parseTcp(address), Buffer.from("over IPv6\n"));
    proc.child.kill("SIGTERM");
    assert.deepEqual(await exitWithin(proc, 5000), { code: 0, signal: null });
  });

  it("drops a client that never reads once the grace period is over", async () => {
    const proc = startCli(["echo", "--api", "dispatcher", "--grace", "300"]);
    const target = parseTcp(await listeningAddress(proc));
    const sock = await connect(target);
    sock.on("error", () => {}); // the drop may arrive as a reset
    sock.pause();
    sock.write(randomBytes(8 * MiB));
    await new Promise((r) => setTimeout(r, 300));
    const closed = new Promise<void>((resolve) => sock.once("close", () => resolve()));
    const started = Date.now();
    proc.child.kill("SIGTERM");
    assert.deepEqual(await exitWithin(proc, 3000), { code: 0, signal: null });
    const took = Date.now() - started;
    assert.ok(took >= 250, `it waited for the grace period (${took} ms)`);
    sock.resume(); // read what there is, so the close is seen
    await closed;
  });

  it("--workers 2: hands connections to both workers and shuts them all down", async () => {
    const proc = startCli(["echo", "--api", "protocol", "--workers", "2"]);
    const target = parseTcp(await listeningAddress(proc));
    const open: net.Socket[] = [];
    for (let i = 0; i < 4; i++) {
      const sock = await connect(target);
      const line = Buffer.from(`connection ${i}\n`);
      const back = new Promise<Buffer>((resolve) => sock.once("data", resolve));
      sock.write(line);
      assert.deepEqual(await back, line);
      open.push(sock);
    }
    const ends = open.map((s) => readToEnd(s));
    proc.child.kill("SIGTERM");
    for (const got of await Promise.all(ends)) assert.equal(got.length, 0);
    assert.deepEqual(await exitWithin(proc, 8000), { code: 0, signal: null });
    assert.equal(proc.stdout().match(/listening on/g)?.length, 1, "one 'listening on' line for all");
    const perWorker = [
      ...proc.stderr().matchAll(/\[worker (\d+)\]: shutdown requested: closing (\d+) connection/g),
    ];
    assert.equal(perWorker.length, 2, proc.stderr());
    for (const [, id, count] of perWorker) assert.equal(Number(count), 2, `worker ${id} served 2 of 4`);
  });
});
