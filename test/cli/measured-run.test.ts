import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runMeasured } from "../../src/cli/measured-run.js";
import { readCpuMs, readRssBytes } from "../../src/cli/process-stats.js";
import { echo, silent, startTestServer } from "./_fixtures.js";

// The echo server runs in this process, so this process is the server being measured.
const self = {
  pid: process.pid,
  cpuMs: () => readCpuMs(process.pid),
  rssBytes: () => readRssBytes(process.pid),
};

describe("runMeasured", () => {
  it("measures the server's CPU over the window and its memory per idle connection", async () => {
    const server = await startTestServer(echo);
    const seen: string[] = [];
    try {
      const r = await runMeasured(
        {
          port: server.port,
          conns: 2,
          size: 512,
          durationMs: 300,
          idle: 40,
          onIdleReady: () => void seen.push("idle"),
          onWindowStart: () => void seen.push("start"),
          onWindowEnd: () => void seen.push("end"),
        },
        self,
      );
      assert.deepEqual(seen, ["idle", "start", "end"]);
      const s = r.server!;
      assert.equal(s.pid, process.pid);
      assert.ok(r.requests > 0);
      assert.ok(s.cpuMs !== null && s.cpuMs >= 0 && s.cpuMs < 2000, `cpuMs ${s.cpuMs}`);
      assert.equal(s.cpuUsPerRequest, (s.cpuMs * 1000) / r.requests);
      assert.ok(s.rssBaseBytes! > 1024 * 1024);
      assert.ok(s.rssIdleBytes! > 1024 * 1024);
      assert.equal(s.bytesPerIdleConn, (s.rssIdleBytes! - s.rssBaseBytes!) / 40);
      assert.ok(s.rssAfterBytes! > 0);
    } finally {
      await server.close();
    }
  });

  it("leaves idle fields empty without idle connections and passes through without a server", async () => {
    const server = await startTestServer(echo);
    try {
      const r = await runMeasured({ port: server.port, conns: 1, size: 10, durationMs: 100 }, self);
      assert.equal(r.server!.rssIdleBytes, null);
      assert.equal(r.server!.bytesPerIdleConn, null);
      const plain = await runMeasured({ port: server.port, conns: 1, size: 10, durationMs: 100 });
      assert.equal(plain.server, undefined);
      assert.ok(plain.requests > 0);
    } finally {
      await server.close();
    }
  });

  it("fails fast when the server does not echo the probe", async () => {
    const server = await startTestServer(silent);
    try {
      await assert.rejects(
        runMeasured({ port: server.port, conns: 1, size: 10, durationMs: 100, connectTimeoutMs: 200 }, self),
        { code: "ETIMEDOUT", message: /Echo probe/ },
      );
    } finally {
      await server.close();
    }
  });
});
