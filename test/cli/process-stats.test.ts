import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { canPin, pinnedCommand, readCpuMs, readRssBytes } from "../../src/cli/process-stats.js";

const linux = process.platform === "linux";

describe("process stats", () => {
  it("reads this process's CPU time, which grows with work", { skip: !linux && "needs /proc" }, () => {
    const before = readCpuMs(process.pid);
    assert.ok(before !== null && before >= 0);
    const until = performance.now() + 60;
    let x = 0;
    while (performance.now() < until) x += Math.sqrt(x + 1);
    assert.ok(x > 0);
    const after = readCpuMs(process.pid)!;
    assert.ok(after >= before, `${after} < ${before}`);
    assert.ok(after - before >= 20, `only ${after - before} ms of CPU for 60 ms of spinning`);
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
});
