import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { nativeClientBackend } from "../../src/cli/native-load-socket.js";
import { corrupting, echo, lineEcho, startTestServer } from "./_fixtures.js";

const here = dirname(fileURLToPath(import.meta.url));

/** The checkout holding this test: the nearest package.json named asyncore-ts above the test or cwd. */
function findRepoRoot(): string {
  for (const start of [here, process.cwd()]) {
    for (let dir = start; ; dir = dirname(dir)) {
      const pkg = join(dir, "package.json");
      if (existsSync(pkg) && JSON.parse(readFileSync(pkg, "utf8")).name === "asyncore-ts") return dir;
      if (dirname(dir) === dir) break;
    }
  }
  throw new Error(`Cannot find the asyncore-ts checkout above ${here} or ${process.cwd()}`);
}

const mainJs = join(findRepoRoot(), "dist/cli/main.js");
/** The compiled bench servers next to this compiled test (dist-test/bench/servers). */
const serversDir = join(here, "../../bench/servers");

interface Outcome {
  status: number;
  stdout: string;
  stderr: string;
}

/** Run `node dist/cli/main.js ...args` to completion (at most 20 s). */
function cli(args: string[]): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [mainJs, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      const status = err ? (err as { code?: unknown }).code : 0;
      if (typeof status !== "number") reject(err);
      else resolve({ status, stdout, stderr });
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("asyncore bench (CLI)", () => {
  it("is built", () => assert.ok(existsSync(mainJs), `${mainJs} is missing: run npm run build`));

  it("prints one JSON object with --json", async () => {
    const server = await startTestServer(echo);
    try {
      const out = await cli([
        "bench",
        "--port",
        String(server.port),
        "--duration",
        "300",
        "-c",
        "2",
        "-s",
        "512",
        "--json",
      ]);
      assert.equal(out.status, 0, out.stderr);
      const lines = out.stdout.trim().split("\n");
      assert.equal(lines.length, 1);
      const r = JSON.parse(lines[0]!);
      assert.equal(r.target, `127.0.0.1:${server.port}`);
      assert.ok(r.requests > 0);
      assert.equal(r.bytes, r.requests * 512);
      assert.equal(r.conns, 2);
      assert.equal(r.errors, 0);
      assert.equal(r.mismatches, 0);
      for (const k of ["reqPerSec", "mbPerSec", "seconds"]) assert.equal(typeof r[k], "number");
      for (const k of ["p50", "p99", "p999"]) assert.ok(r.latency[k] > 0);
      assert.equal(r.server, undefined);
    } finally {
      await server.close();
    }
  });

  it("runs on the client --client names and reports it, with its CPU use", async () => {
    const server = await startTestServer(echo);
    try {
      const clients = nativeClientBackend() === undefined ? ["net"] : ["net", "native"];
      for (const client of clients) {
        const args = ["bench", "--port", String(server.port), "--duration", "200", "-c", "2", "-s", "2000"];
        const out = await cli([...args, "--client", client, "--json"]);
        assert.equal(out.status, 0, out.stderr);
        const r = JSON.parse(out.stdout);
        assert.equal(r.client, client);
        assert.ok(r.requests > 0);
        assert.equal(r.mismatches, 0);
        assert.equal(typeof r.clientCpuPercent, "number");
        const plain = await cli([...args, "--client", client]);
        assert.equal(plain.status, 0, plain.stderr);
        assert.match(plain.stdout, new RegExp(`, ${client} client\n`));
        assert.match(plain.stdout, new RegExp(`client {6}${client}: CPU [\\d,]+ ms = \\d+ % of one core`));
      }
    } finally {
      await server.close();
    }
  });

  it("prints a plain summary when stdout is not a terminal", async () => {
    const server = await startTestServer(echo);
    try {
      const out = await cli(["bench", "--port", String(server.port), "--duration", "200", "--conns", "1"]);
      assert.equal(out.status, 0, out.stderr);
      assert.match(out.stdout, /requests\s+[\d,]+ {2}\([\d,]+ req\/s\)/);
      assert.match(out.stdout, /latency\s+p50 [\d.]+ ms {2}p99 [\d.]+ ms {2}p99\.9 [\d.]+ ms/);
      assert.ok(
        !out.stdout.includes("\r") && !out.stdout.includes("\u001b"),
        "terminal control in plain output",
      );
    } finally {
      await server.close();
    }
  });

  it("exits 1 and reports mismatches against a corrupting server", async () => {
    const server = await startTestServer(corrupting);
    try {
      const out = await cli(["bench", "--port", String(server.port), "--duration", "200", "--json"]);
      assert.equal(out.status, 1);
      const r = JSON.parse(out.stdout);
      assert.ok(r.mismatches > 0);
    } finally {
      await server.close();
    }
  });

  it("starts the raw server with --spawn, measures it and kills it", async () => {
    const out = await cli([
      "bench",
      "--spawn",
      "raw",
      "--servers",
      serversDir,
      "--duration",
      "300",
      "--conns",
      "2",
      "--idle",
      "20",
      "--json",
    ]);
    assert.equal(out.status, 0, out.stderr);
    const r = JSON.parse(out.stdout);
    assert.equal(r.spawn, "raw");
    assert.ok(r.requests > 0);
    assert.equal(r.idle, 20);
    const s = r.server;
    assert.ok(s.pid > 0);
    if (process.platform === "linux") {
      assert.equal(typeof s.cpuMs, "number");
      assert.equal(typeof s.cpuUsPerRequest, "number");
      assert.equal(typeof s.bytesPerIdleConn, "number");
    }
    assert.equal(alive(s.pid), false, "the spawned server is still running");
  });

  it("sends lines with --lines, which a line-framed server echoes", async () => {
    const lines: Buffer[] = [];
    const server = await startTestServer(lineEcho(lines));
    try {
      const args = ["bench", "--port", String(server.port), "--duration", "200", "-c", "2", "-s", "300"];
      const out = await cli([...args, "--lines", "--json"]);
      assert.equal(out.status, 0, out.stderr);
      const r = JSON.parse(out.stdout);
      assert.equal(r.lines, true);
      assert.ok(r.requests > 0);
      assert.equal(r.mismatches, 0);
      assert.ok(lines.length >= r.requests && lines.every((l) => l.length === 300));
      const plain = await cli([...args, "--lines"]);
      assert.equal(plain.status, 0, plain.stderr);
      assert.match(plain.stdout, /2 connections x 300 B lines, /);
    } finally {
      await server.close();
    }
  });

  it("starts the chat server framing on line ends with --spawn chat --lines", async () => {
    const out = await cli([
      "bench",
      "--spawn",
      "chat",
      "--lines",
      "--servers",
      serversDir,
      "--duration",
      "300",
      "--conns",
      "2",
      "--size",
      "2000",
      "--idle",
      "5",
      "--no-pin",
      "--json",
    ]);
    assert.equal(out.status, 0, out.stderr);
    const r = JSON.parse(out.stdout);
    assert.equal(r.spawn, "chat");
    assert.equal(r.lines, true);
    assert.ok(r.requests > 0);
    assert.equal(r.mismatches, 0);
    assert.equal(r.errors, 0);
    assert.equal(alive(r.server.pid), false, "the spawned server is still running");
  });

  it("tells the spawned server about --lines through CHAT_ECHO_FRAME", async () => {
    const dir = await mkdtemp(join(tmpdir(), "asyncore-bench-"));
    try {
      // Echoes only when told the load is lines, else closes every connection at once.
      const script = join(dir, "lines-only.mjs");
      await writeFile(
        script,
        `import net from "node:net";
const lines = process.env.CHAT_ECHO_FRAME === "lines";
const server = net.createServer({ noDelay: true }, (s) => {
  s.on("error", () => {});
  if (lines) s.on("data", (d) => s.write(d));
  else s.destroy();
});
server.listen(0, "127.0.0.1", () => console.log("listening on 127.0.0.1:" + server.address().port));
process.once("SIGTERM", () => process.exit(0));
`,
      );
      const args = ["bench", "--spawn", script, "--duration", "200", "--conns", "1", "--no-pin", "--json"];
      const withLines = await cli([...args, "--lines"]);
      assert.equal(withLines.status, 0, withLines.stderr);
      assert.ok(JSON.parse(withLines.stdout).requests > 0);
      const without = await cli(args);
      assert.equal(without.status, 1, "the server echoed without CHAT_ECHO_FRAME=lines");
      assert.match(without.stderr, /^asyncore bench: /);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("prints help", async () => {
    const out = await cli(["bench", "--help"]);
    assert.equal(out.status, 0);
    assert.match(out.stdout, /^Usage: asyncore bench /);
    for (const opt of [
      "--host",
      "--port",
      "--unix",
      "--conns",
      "--size",
      "--lines",
      "--duration",
      "--idle",
      "--client",
      "--json",
      "--spawn",
    ]) {
      assert.ok(out.stdout.includes(opt), `help lacks ${opt}`);
    }
  });

  it("rejects bad options with a message and status 2", async () => {
    const cases: [string[], RegExp][] = [
      [["--port", "1", "--conns", "0"], /Invalid --conns: expected an integer from 1 to 10000, got "0"/],
      [["--port", "1", "--size", "1k"], /Invalid --size/],
      [["--port", "99999"], /Invalid --port/],
      [["--bogus"], /Unknown option '--bogus'/],
      [[], /Missing target/],
      [["--spawn", "raw", "--port", "1"], /cannot be combined/],
      [["--spawn", "nope"], /Invalid --spawn: expected one of raw, dispatcher/],
      [["--port", "1", "extra"], /Unexpected argument: extra/],
      [["--port", "1", "--client", "uring"], /Invalid --client: expected one of net, native, got "uring"/],
    ];
    const outs = await Promise.all(cases.map(([args]) => cli(["bench", ...args])));
    for (const [i, [args, message]] of cases.entries()) {
      const out = outs[i]!;
      assert.equal(out.status, 2, `${args.join(" ")}: status ${out.status}`);
      assert.match(out.stderr, message);
      assert.match(out.stderr, /Try 'asyncore bench --help'/);
      assert.equal(out.stdout, "");
    }
  });

  it("fails with status 1 and the reason when nothing listens", async () => {
    const server = await startTestServer(echo);
    const port = server.port;
    await server.close();
    const out = await cli(["bench", "--port", String(port), "--duration", "100"]);
    assert.equal(out.status, 1);
    assert.match(out.stderr, /ECONNREFUSED/);
  });
});
