/**
 * Dispatchers under load and at the descriptor limit: many concurrent echoes with every byte
 * checked, and accept() failing with EMFILE without taking the server down.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as net from "node:net";
import * as readline from "node:readline";
import { afterEach, beforeEach, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Dispatcher, DispatcherWithSend, loop } from "../../src/asyncore/index.js";
import { MapContext } from "../support/asyncore-harness.js";

let ctx: MapContext;
beforeEach(() => {
  ctx = new MapContext();
});
afterEach(() => ctx.teardown());

test("2,000 concurrent connections each echo 64 KiB through a DispatcherWithSend server", async () => {
  const CONNS = 2000;
  const SIZE = 64 * 1024;
  class Echo extends DispatcherWithSend {
    override handleRead(): void {
      const data = this.recv(65536);
      if (data.length > 0) this.send(data);
    }
    override handleClose(): void {
      this.close();
    }
  }
  class Server extends Dispatcher {
    override handleAccepted(sock: net.Socket): void {
      new Echo(sock, ctx.map);
    }
  }
  const server = new Server(undefined, ctx.map);
  server.createSocket();
  void server.bind(["127.0.0.1", 0]);
  const [host, port] = (await server.listen(1024)) as [string, number];
  let stop = false;
  const serving = (async () => {
    while (!stop) await loop({ timeout: 50, count: 1, map: ctx.map });
  })();

  /** One client: send a pattern unique to it, check every echoed byte, then close. */
  const client = (id: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const payload = Buffer.alloc(SIZE);
      for (let i = 0; i < SIZE; i++) payload[i] = (i * 31 + id * 7) & 0xff;
      const received = Buffer.alloc(SIZE);
      let got = 0;
      const s = net.connect(port, host, () => s.write(payload));
      s.on("data", (chunk: Buffer) => {
        if (got + chunk.length > SIZE) return reject(new Error(`client ${id}: too many bytes`));
        chunk.copy(received, got);
        got += chunk.length;
        if (got === SIZE) {
          s.end();
          if (!received.equals(payload)) reject(new Error(`client ${id}: echoed bytes differ`));
        }
      });
      s.on("error", reject);
      s.on("close", () =>
        got === SIZE ? resolve() : reject(new Error(`client ${id}: closed after ${got} bytes`)),
      );
    });

  const all: Promise<void>[] = [];
  for (let i = 0; i < CONNS; i += 250) {
    for (let j = i; j < Math.min(CONNS, i + 250); j++) all.push(client(j));
    await new Promise((r) => setTimeout(r, 5));
  }
  try {
    await Promise.all(all);
  } finally {
    stop = true;
    await serving;
  }
  // Every handler closed itself at EOF; only the listener is left.
  for (let i = 0; i < 200 && ctx.map.size > 1; i++) await loop({ timeout: 10, count: 1, map: ctx.map });
  assert.equal(ctx.map.size, 1);
  server.close();
});

test("accept() failing with EMFILE is reported and the server serves again once descriptors free up", async () => {
  const script = fileURLToPath(new URL("../fixtures/emfile-server.js", import.meta.url));
  const child = spawn("bash", ["-c", `ulimit -n 64 && exec "${process.execPath}" "${script}"`], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = readline.createInterface({ input: child.stdout });
  const waiting: Array<{ match: RegExp; resolve: (line: string) => void }> = [];
  const seen: string[] = [];
  lines.on("line", (line) => {
    seen.push(line);
    const i = waiting.findIndex((w) => w.match.test(line));
    if (i >= 0) waiting.splice(i, 1)[0]!.resolve(line);
  });
  const next = (match: RegExp): Promise<string> => {
    const found = seen.find((l) => match.test(l));
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => waiting.push({ match, resolve }));
  };
  const clients: net.Socket[] = [];
  try {
    const listening = await next(/^listening on /);
    const [, host, port] = /^listening on (.+):(\d+)$/.exec(listening)!;
    const emfile = next(/^accept-error /);
    let exhausted = false;
    void emfile.then(() => {
      exhausted = true;
    });
    for (let i = 0; i < 100 && !exhausted; i++) {
      const s = net.connect(Number(port), host!);
      s.on("error", () => {});
      clients.push(s);
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.match(await emfile, /^accept-error (EMFILE|ENFILE)$/);
    child.stdin.write("free\n");
    await next(/^freed \d+$/);
    for (const s of clients) s.destroy();
    const echoed = await new Promise<string>((resolve, reject) => {
      const s = net.connect(Number(port), host!, () => s.write("still serving"));
      let got = "";
      s.on("data", (d: Buffer) => {
        got += d.toString();
        if (got.length >= 13) {
          s.destroy();
          resolve(got);
        }
      });
      s.on("error", reject);
    });
    assert.equal(echoed, "still serving");
    child.stdin.write("quit\n");
    const code = await new Promise<number | null>((r) => child.on("exit", r));
    assert.equal(code, 0);
  } finally {
    for (const s of clients) s.destroy();
    if (child.exitCode === null) child.kill();
  }
});
