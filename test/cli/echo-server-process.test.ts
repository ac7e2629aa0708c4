import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { probeEcho } from "../../src/cli/connect-target.js";
import { EchoServerProcess, parseListeningLine } from "../../src/cli/echo-server-process.js";

const rawServer = join(dirname(fileURLToPath(import.meta.url)), "../../bench/servers/raw-net-echo.js");

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("parseListeningLine", () => {
  it("reads TCP, IPv6 and Unix addresses", () => {
    assert.deepEqual(parseListeningLine("listening on 127.0.0.1:8080"), { host: "127.0.0.1", port: 8080 });
    assert.deepEqual(parseListeningLine("echo: listening on [::1]:9"), { host: "::1", port: 9 });
    assert.deepEqual(parseListeningLine("listening on /tmp/e.sock"), { path: "/tmp/e.sock" });
    assert.equal(parseListeningLine("listening soon"), undefined);
    assert.equal(parseListeningLine("listening on nothing"), undefined);
  });
});

describe("EchoServerProcess", () => {
  let dir = "";
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "asyncore-servers-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("starts the raw server, finds its port and stops it by PID", async () => {
    const server = await EchoServerProcess.start({ argv: [process.execPath, rawServer] });
    try {
      assert.equal(server.target.host, "127.0.0.1");
      assert.ok(server.target.port! > 0);
      assert.ok((await probeEcho(server.target, 2000)) >= 0);
      assert.ok(server.cpuMs() !== null || process.platform !== "linux");
      assert.ok(server.rssBytes() !== null || process.platform !== "linux");
    } finally {
      await server.stop();
    }
    assert.equal(server.exited, true);
    assert.equal(alive(server.pid), false);
  });

  it("reports a server that exits before listening, with its stderr", async () => {
    const script = join(dir, "dies.mjs");
    await writeFile(script, 'process.stderr.write("cannot bind\\n"); process.exit(3);\n');
    await assert.rejects(EchoServerProcess.start({ argv: [process.execPath, script] }), {
      code: "ERR_SERVER_START",
      message: /code 3.*cannot bind/s,
    });
  });

  it("gives up on a server that never prints its address, and kills it", async () => {
    const script = join(dir, "mute.mjs");
    const pidFile = join(dir, "mute.pid");
    await writeFile(
      script,
      `import { writeFileSync } from "node:fs"; writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setInterval(() => {}, 1000);\n`,
    );
    await assert.rejects(EchoServerProcess.start({ argv: [process.execPath, script], startTimeoutMs: 300 }), {
      code: "ETIMEDOUT",
    });
    const pid = Number(await readFile(pidFile, "utf8"));
    assert.ok(pid > 0);
    const until = Date.now() + 2000;
    while (alive(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    assert.equal(alive(pid), false);
  });

  it("kills a server that ignores SIGTERM", async () => {
    const script = join(dir, "stubborn.mjs");
    await writeFile(
      script,
      'process.on("SIGTERM", () => {}); console.log("listening on 127.0.0.1:1"); setInterval(() => {}, 1000);\n',
    );
    const server = await EchoServerProcess.start({ argv: [process.execPath, script] });
    await server.stop(200);
    assert.equal(alive(server.pid), false);
  });
});
