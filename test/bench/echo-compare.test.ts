import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { markdownTable, median, type RunRecord, summarize } from "../../bench/compare-report.js";
import type { MeasuredResult } from "../../src/cli/measured-run.js";

const harness = join(dirname(fileURLToPath(import.meta.url)), "../../bench/echo-compare.js");

function fakeResult(reqPerSec: number, cpuUs: number, perIdle: number | null): MeasuredResult {
  return {
    requests: reqPerSec,
    bytes: reqPerSec * 10,
    seconds: 1,
    reqPerSec,
    mbPerSec: (reqPerSec * 10) / 1e6,
    latency: { p50: 0.1, p99: 0.5, p999: 1, min: 0.05, max: 2, mean: 0.2 },
    errors: 0,
    mismatches: 0,
    errorCodes: {},
    conns: 10,
    size: 10,
    lines: true,
    idle: perIdle === null ? 0 : 100,
    client: "net",
    clientCpuMs: 500,
    clientCpuPercent: 50,
    server: {
      pid: 1,
      cpuMs: (cpuUs * reqPerSec) / 1000,
      cpuUsPerRequest: cpuUs,
      rssBaseBytes: 1,
      rssIdleBytes: 1,
      bytesPerIdleConn: perIdle,
      rssAfterBytes: 1,
    },
  };
}

describe("compare-report", () => {
  it("takes medians, ignoring missing values", () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([null, 5, undefined]), 5);
    assert.equal(median([]), null);
  });

  it("summarizes runs and writes ratios against raw", () => {
    const config = { size: 10, idle: 100 };
    const records: RunRecord[] = [
      { server: "raw", config, run: 1, result: fakeResult(1000, 10, 2048) },
      { server: "protocol", config, run: 1, result: fakeResult(500, 30, 4096) },
      { server: "raw", config, run: 2, result: fakeResult(3000, 10, 2048) },
      { server: "protocol", config, run: 2, error: "server crashed" },
    ];
    const [raw, protocol] = summarize(records);
    assert.equal(raw!.reqPerSec, 2000);
    assert.equal(raw!.runs, 2);
    assert.equal(protocol!.runs, 1);
    assert.equal(protocol!.failed, 1);
    const table = markdownTable([raw!, protocol!]);
    const row = table.split("\n").find((l) => l.includes("| protocol |"))!;
    assert.match(row, /\| 500 \| 0\.25× \|/);
    assert.match(row, /\| 30\.0 \| 3\.00× \|/);
    assert.match(row, /\| 4\.00 \| 2\.00× \|/);
    assert.match(row, /1 \(\+1 failed\)/);
  });
});

describe("echo-compare", () => {
  it("runs raw against raw and prints a table with the command", async () => {
    const { status, stdout, stderr } = await new Promise<{ status: number; stdout: string; stderr: string }>(
      (resolve, reject) =>
        execFile(
          process.execPath,
          [harness, "--apis", "raw", "--sizes", "256", "--runs", "1", "--duration", "150", "--conns", "2"],
          { timeout: 30_000 },
          (err, out, errOut) => {
            const code = err ? (err as { code?: unknown }).code : 0;
            if (typeof code === "number") resolve({ status: code, stdout: out, stderr: errOut });
            else reject(err);
          },
        ),
    );
    assert.equal(status, 0, stderr);
    assert.match(
      stdout,
      /Command: `node .*echo-compare\.js --apis raw --sizes 256 --runs 1 --duration 150 --conns 2 --idle 0 --client (net|native)`/,
    );
    assert.match(stdout, /\| 256 \| 0 \| raw \| 1 \| [\d,]+ \| 1\.00× \|/);
    assert.match(stdout, /\| 256 \| 0 \| raw \(repeat\) \| 1 \|/);
    assert.match(stderr, /\[2\/2\] size 256, idle 0, raw \(repeat\), run 1: [\d,]+ req\/s/);
  });

  it("sends lines by default, which the chat server frames; --unframed sends any bytes", async () => {
    const run = (extra: string[]) =>
      new Promise<{ status: number; stdout: string; stderr: string }>((resolve, reject) =>
        execFile(
          process.execPath,
          [
            harness,
            "--apis",
            "chat",
            "--sizes",
            "300",
            "--runs",
            "1",
            "--duration",
            "150",
            "--conns",
            "2",
            ...extra,
          ],
          { timeout: 30_000 },
          (err, out, errOut) => {
            const code = err ? (err as { code?: unknown }).code : 0;
            if (typeof code === "number") resolve({ status: code, stdout: out, stderr: errOut });
            else reject(err);
          },
        ),
      );
    const [lines, unframed] = await Promise.all([run(["--json"]), run(["--unframed", "--json"])]);
    for (const [out, wanted] of [
      [lines, true],
      [unframed, false],
    ] as const) {
      assert.equal(out.status, 0, out.stderr);
      const r = JSON.parse(out.stdout);
      assert.equal(r.lines, wanted);
      assert.equal(r.command.includes("--unframed"), !wanted);
      assert.equal(r.runs.length, 2);
      for (const run of r.runs) {
        assert.equal(run.result.lines, wanted);
        assert.ok(run.result.requests > 0, JSON.stringify(run));
        assert.equal(run.result.mismatches, 0);
      }
    }
  });

  it("rejects unknown APIs", async () => {
    const status = await new Promise<number>((resolve) =>
      execFile(process.execPath, [harness, "--apis", "bogus"], { timeout: 10_000 }, (err) =>
        resolve(err ? Number((err as { code?: unknown }).code) : 0),
      ),
    );
    assert.equal(status, 2);
  });
});
