/**
 * `asyncore demo --quick` as a real child process: it finishes in a few seconds and prints a
 * header saying what was measured and where, and one table row per API plus raw node:net.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { describe, it } from "node:test";
import { mainJs, runCli } from "./_cli-process.js";

const ROWS = ["raw node:net", "dispatcher", "chat", "protocol", "streams"];

/** The table's rows as cells (columns are separated by two or more spaces). */
function tableRows(stdout: string): Map<string, string[]> {
  const lines = stdout.split("\n");
  const head = lines.findIndex((l) => l.startsWith("API "));
  assert.ok(head >= 0, `a table header in:\n${stdout}`);
  assert.deepEqual(lines[head]!.split(/ {2,}/), [
    "API",
    "req/s",
    "MB/s",
    "p50 ms",
    "p99 ms",
    "vs raw",
    "CPU us/req",
    "errors",
  ]);
  const rows = new Map<string, string[]>();
  for (const line of lines.slice(head + 2)) {
    if (line.trim() === "") break;
    const cells = line.split(/ {2,}/).map((c) => c.trim());
    rows.set(cells[0]!, cells);
  }
  return rows;
}

describe("asyncore demo (CLI)", () => {
  it("is built", () => assert.ok(existsSync(mainJs), `${mainJs} is missing: run npm run build`));

  it("prints its help, and rejects bad options with status 2", async () => {
    const [help, bad, extra] = await Promise.all([
      runCli(["demo", "--help"]),
      runCli(["demo", "--conns", "0"]),
      runCli(["demo", "now"]),
    ]);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage: asyncore demo \[--quick\]/);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /asyncore demo: Invalid --conns/);
    assert.equal(extra.status, 2);
    assert.match(extra.stderr, /Unexpected argument: now/);
  });

  it("--quick: compares every API with raw node:net in one table, within seconds", async () => {
    const started = Date.now();
    const r = await runCli(["demo", "--quick"], { timeoutMs: 30_000 });
    const took = Date.now() - started;
    assert.equal(r.status, 0, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    assert.ok(took < 20_000, `bounded: took ${took} ms`);

    assert.match(
      r.stdout,
      /^asyncore demo: echo round trips on loopback, 10 connections x 1,024-byte messages/,
    );
    assert.match(r.stdout, /One run of 0\.6 s per server\./);
    assert.match(r.stdout, /^Machine: .+ x \d+, .+, Node\.js v\d+.*\.$/m);
    assert.match(r.stdout, /^Socket backend of the asyncore-ts servers: (net|native) /m);
    assert.match(r.stdout, /Figures vary from run to run/);

    const rows = tableRows(r.stdout);
    assert.deepEqual([...rows.keys()], ROWS);
    for (const [label, cells] of rows) {
      assert.equal(cells.length, 8, `${label}: ${cells.join(" | ")}`);
      const reqPerSec = Number(cells[1]!.replaceAll(",", ""));
      assert.ok(reqPerSec > 0, `${label} completed requests: ${cells[1]}`);
      assert.ok(Number(cells[3]) > 0 && Number(cells[4]) >= Number(cells[3]), `${label}: p50 <= p99`);
      assert.match(cells[5]!, /^\d+\.\d\dx$/);
      assert.equal(cells[7], "0", `${label}: no errors`);
    }
    assert.equal(rows.get("raw node:net")![5], "1.00x");
  });
});
