import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { canPin, pinnedCommand, readCpuMs, readRssBytes } from "../../src/cli/process-stats.js";

const linux = process.platform === "linux";

describe("process stats", () => {
  it("reads this process's CPU time, which grows with work", { skip: !linux && "needs /proc" }, () => {
    const before = readCpuMs(process.pid);
    assert.ok(before !== null && before >= 0);
    // Spin until this process has used 100 ms of CPU by its own account (bounded in wall time).
    const usage = process.cpuUsage();
    const until = performance.now() + 5000;
    let x = 0;
    let usedMs = 0;
    while (usedMs < 100 && performance.now() < until) {
      for (let i = 0; i < 10_000; i++) x += Math.sqrt(x + i);
      const d = process.cpuUsage(usage);
      usedMs = (d.user + d.system) / 1000;
    }
    assert.ok(x > 0 && usedMs >= 100, `only ${usedMs} ms of CPU in 5 s`);
    const after = readCpuMs(process.pid)!;
    // /proc counts in 10 ms ticks: allow two ticks of difference each way.
    assert.ok(
      Math.abs(after - before - usedMs) <= 25,
      `/proc says ${after - before} ms, cpuUsage ${usedMs} ms`,
    );
  });

  it("reads this process's resident memory", { skip: !linux && "needs /proc" }, () => {
    const rss = readRssBytes(process.pid);
    assert.ok(rss !== null && rss > 4 * 1024 * 1024, `rss ${rss}`);
    assert.ok(Math.abs(rss - process.memoryUsage.rss()) < 64 * 1024 * 1024);
  });

  it("returns null for a process that does not exist", () => {
    assert.equal(readCpuMs(2 ** 30), null);
    assert.equal(readRssBytes(2 ** 30), null);
  });

  it("prefixes taskset only when pinning is possible", () => {
    const argv = ["node", "server.js"];
    assert.deepEqual(pinnedCommand(argv, undefined), argv);
    assert.deepEqual(pinnedCommand(argv, 0), canPin() ? ["taskset", "-c", "0", ...argv] : argv);
  });

  it("still pins a server to CPU 0 once this process is pinned to CPU 1", {
    skip: !canPin() && "cannot pin",
  }, async () => {
    // In a child process: pinning this one would slow the tests running beside it.
    const module = new URL("../../src/cli/process-stats.js", import.meta.url).href;
    const script =
      `import { pinProcess, pinnedCommand } from ${JSON.stringify(module)};\n` +
      `console.log(JSON.stringify([pinProcess(process.pid, 1), pinnedCommand(["x"], 0)]));`;
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ["--input-type=module", "-e", script], { timeout: 10_000 }, (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      ),
    );
    assert.deepEqual(JSON.parse(out), [true, ["taskset", "-c", "0", "x"]]);
  });
});
