/**
 * `asyncore connect` as a real child process (`node dist/cli/main.js connect`): stdin to the
 * socket and the socket to stdout, half-close at the end of stdin, exit when the peer closes,
 * Unix sockets, and clear errors.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { exitWithin, killAll, mainJs, runCli, startCli } from "./_cli-process.js";

/** A loopback server (TCP port 0 or a Unix path) running `onConnection`; closed after each test. */
async function serve(
  onConnection: (s: net.Socket) => void,
  path?: string,
): Promise<{ port: number; server: net.Server }> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    accepted.add(s);
    s.on("close", () => accepted.delete(s));
    s.on("error", () => {}); // resets are part of some tests
    onConnection(s);
  });
  servers.push(server);
  await new Promise<void>((resolve) =>
    path ? server.listen(path, resolve) : server.listen(0, "127.0.0.1", resolve),
  );
  return { port: path ? 0 : (server.address() as net.AddressInfo).port, server };
}

const servers: net.Server[] = [];
const accepted = new Set<net.Socket>();
afterEach(async () => {
  await killAll();
  for (const s of accepted) s.destroy();
  for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve));
});

describe("asyncore connect (CLI)", () => {
  let dir = "";
  before(async () => {
    assert.ok(existsSync(mainJs), `${mainJs} is missing: run npm run build`);
    dir = await mkdtemp(join(tmpdir(), "asyncore-connect-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("prints its help, and rejects bad usage with status 2", async () => {
    const [help, none, onlyHost, badPort, both] = await Promise.all([
      runCli(["connect", "--help"]),
      runCli(["connect"]),
      runCli(["connect", "127.0.0.1"]),
      runCli(["connect", "127.0.0.1", "http"]),
      runCli(["connect", "127.0.0.1", "80", "--unix", "/tmp/x.sock"]),
    ]);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage: asyncore connect HOST PORT \| --unix PATH/);
    for (const r of [none, onlyHost, badPort, both]) {
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /Try 'asyncore connect --help'/);
    }
    assert.match(none.stderr, /Missing HOST and PORT/);
    assert.match(badPort.stderr, /Invalid PORT: expected an integer from 1 to 65535, got "http"/);
    assert.match(both.stderr, /either HOST PORT or --unix PATH/);
  });

  it("says the connection was refused and exits 1", async () => {
    const { server, port } = await serve(() => {});
    await new Promise((resolve) => server.close(resolve));
    servers.pop();
    const r = await runCli(["connect", "127.0.0.1", String(port)]);
    assert.equal(r.status, 1);
    assert.equal(
      r.stderr,
      `asyncore connect: cannot connect to 127.0.0.1:${port}: connection refused (ECONNREFUSED)\n`,
    );
    assert.equal(r.stdout, "");
  });

  it("copies stdin to an echo server and the echo to stdout, byte for byte", async () => {
    const { port } = await serve((s) => s.pipe(s));
    const payload = randomBytes(2 * 1024 * 1024);
    const proc = startCli(["connect", "127.0.0.1", String(port)], { stdin: "pipe" });
    proc.child.stdin!.end(payload);
    assert.deepEqual(await exitWithin(proc, 10_000), { code: 0, signal: null });
    const out = proc.stdoutBytes();
    assert.ok(out.equals(payload), `stdout is the echo (${out.length} of ${payload.length} bytes)`);
    assert.equal(proc.stderr(), "");
  });

  it("half-closes at the end of stdin and prints what the peer sends afterwards", async () => {
    const { port } = await serve((s) => {
      let n = 0;
      s.on("data", (d: Buffer) => {
        n += d.length;
      });
      s.on("end", () => s.end(`got ${n} bytes, then your EOF\n`));
    });
    const proc = startCli(["connect", "127.0.0.1", String(port)], { stdin: "pipe" });
    proc.child.stdin!.end("x".repeat(1000));
    assert.deepEqual(await exitWithin(proc, 5000), { code: 0, signal: null });
    assert.equal(proc.stdout(), "got 1000 bytes, then your EOF\n");
  });

  it("exits when the peer closes, even while stdin stays open", async () => {
    const { port } = await serve((s) => s.end("bye\n"));
    const proc = startCli(["connect", "127.0.0.1", String(port)], { stdin: "pipe" });
    assert.deepEqual(await exitWithin(proc, 5000), { code: 0, signal: null });
    assert.equal(proc.stdout(), "bye\n");
    proc.child.stdin!.destroy();
  });

  it("reports a reset by the peer and exits 1", async () => {
    const { port } = await serve((s) => s.once("data", () => s.resetAndDestroy()));
    const proc = startCli(["connect", "127.0.0.1", String(port)], { stdin: "pipe" });
    proc.child.stdin!.write("hello\n");
    assert.deepEqual(await exitWithin(proc, 5000), { code: 1, signal: null });
    assert.match(
      proc.stderr(),
      /asyncore connect: 127\.0\.0\.1:\d+: connection reset by peer \(ECONNRESET\)/,
    );
    proc.child.stdin!.destroy();
  });

  it("connects to a Unix socket with --unix, and says when there is none", async () => {
    const path = join(dir, "upper.sock");
    await serve((s) => {
      s.setEncoding("utf8");
      s.on("data", (d: string) => s.write(d.toUpperCase()));
      s.on("end", () => s.end());
    }, path);
    const r = await runCli(["connect", "--unix", path], { input: "shout\n" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "SHOUT\n");
    const missing = await runCli(["connect", "--unix", join(dir, "nobody.sock")]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /cannot connect to .*nobody\.sock: no such socket file \(ENOENT\)/);
  });
});
