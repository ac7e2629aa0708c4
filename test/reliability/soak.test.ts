/**
 * The soak, CI-sized: 100 connections sending random-size messages (1 B to 256 KiB) for about
 * 3 s through each API's `asyncore echo` server (a child process). Every byte is checked, every
 * connection must keep going to the end, the server must exit on SIGTERM, and its resident
 * memory must not grow after warm-up (`scripts/soak-run.ts` states the criterion).
 * `npm run soak` runs the full-sized version (1,000 connections, 20 s per API).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { memoryVerdict, runSoak, SOAK_APIS } from "../../scripts/soak-run.js";

const MiB = 1024 * 1024;

test("the memory criterion rejects steady growth and accepts a plateau", () => {
  const flat = Array.from(
    { length: 30 },
    (_, i) => 80 * MiB + (i < 10 ? i * MiB : 10 * MiB) + (i % 3) * 100_000,
  );
  assert.equal(memoryVerdict(flat).ok, true);
  const growing = Array.from({ length: 30 }, (_, i) => 80 * MiB + i * 2 * MiB);
  assert.equal(memoryVerdict(growing).ok, false);
  assert.equal(memoryVerdict([1, 2]).ok, false, "too few samples is no evidence");
});

for (const api of SOAK_APIS) {
  test(`${api}: 100 connections for 3 s, every byte checked, memory flat`, { timeout: 30_000 }, async (t) => {
    const r = await runSoak({ api, conns: 100, durationMs: 3000, sampleMs: 100 });
    const mib = (b: number): string => (b / MiB).toFixed(1);
    t.diagnostic(
      `${api}: ${r.messages} messages, ${mib(r.bytes)} MiB echoed and checked; RSS middle ${mib(r.middleMedian)} MiB, last ${mib(r.lastMedian)} MiB, max ${mib(Math.max(...r.rss))} MiB`,
    );
    assert.deepEqual(r.errors, []);
    assert.equal(r.activeConns, 100, "every connection completed messages");
    assert.ok(r.messages >= 1000, `only ${r.messages} messages`);
    assert.ok(r.rss.length >= 15, `only ${r.rss.length} memory samples`);
    assert.ok(
      r.memoryOk,
      `RSS grew: last-third median ${mib(r.lastMedian)} MiB > 1.1 x middle-third median ${mib(r.middleMedian)} MiB + 4 MiB`,
    );
    assert.equal(r.serverExit, "exited");
  });
}
