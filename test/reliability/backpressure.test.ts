/**
 * Backpressure end to end, through the echo servers of `asyncore echo` (one per API): a peer
 * that sends fast and never reads must make the server stop reading from it, so that the
 * connection costs at most about 1 MiB of userland buffering. Measured in the server by the
 * core's accounting: bytes delivered to the API minus bytes the kernel took of what it wrote,
 * at each arrival (`peakBuffered`), and the bytes read in total (`bytesIn`), which must stop
 * growing. Then the peer reads, and every byte comes back in order.
 */
import assert from "node:assert/strict";
import * as net from "node:net";
import { test } from "node:test";
import { ECHO_SERVER_APIS, type RunningEchoServer, startEchoServer } from "../../src/cli/echo/index.js";
import { serverLimitStats, setServerAccounting } from "../../src/core/server-limits.js";
import { delay, guardEachTest, pattern, within } from "./helpers.js";

/** What one connection may cost the server. */
const BOUND = 1024 * 1024;
/** What the peer sends without reading: far more than every buffer on the way. */
const TOTAL = 24 * 1024 * 1024;

guardEachTest();

function stats() {
  const all = serverLimitStats();
  assert.equal(all.length, 1, "one accounted listener");
  return all[0]!;
}

/** Resolve once `value()` has not changed for `quietMs` (sampled every 25 ms). */
async function plateau(value: () => number, quietMs: number, what: string): Promise<number> {
  return within(
    (async () => {
      let last = value();
      let since = performance.now();
      for (;;) {
        await delay(25);
        const now = value();
        if (now !== last) {
          last = now;
          since = performance.now();
        } else if (performance.now() - since >= quietMs) {
          return now;
        }
      }
    })(),
    15_000,
    what,
  );
}

for (const api of ECHO_SERVER_APIS) {
  test(`${api}: a peer that sends and never reads is stopped at about 1 MiB, then gets every byte`, async (t) => {
    setServerAccounting(true);
    let server: RunningEchoServer;
    try {
      server = await startEchoServer(api, { host: "127.0.0.1", port: 0, log: () => {} });
    } finally {
      setServerAccounting(false);
    }
    const [host, port] = server.address as [string, number];
    const sock = net.connect(port, host);
    try {
      sock.on("error", () => {});
      await new Promise<void>((resolve) => sock.once("connect", () => resolve()));
      sock.pause(); // never read, for now
      const payload = pattern(TOTAL, 11);
      for (let off = 0; off < TOTAL; off += 1 << 20) sock.write(payload.subarray(off, off + (1 << 20)));

      const stalledAt = await plateau(() => stats().bytesIn, 400, "the server to stop reading");
      const s = stats();
      t.diagnostic(
        `${api}: server stopped reading after ${stalledAt} bytes; peak held by the connection ${s.peakBuffered} bytes; peer still holds ${sock.writableLength} unsent`,
      );
      assert.ok(stalledAt < TOTAL, "the server stopped reading before the end");
      assert.ok(sock.writableLength > 0, "the peer could not send everything");
      assert.ok(s.peakBuffered <= BOUND, `peak ${s.peakBuffered} bytes held by one connection`);

      // Now read: everything comes back, in order, and the server's cost stays bounded.
      let got = 0;
      const echoed = new Promise<void>((resolve, reject) => {
        sock.on("data", (d: Buffer) => {
          if (!d.equals(payload.subarray(got, got + d.length))) {
            reject(new Error(`echo differs at byte ${got}`));
            sock.destroy();
            return;
          }
          got += d.length;
          if (got === TOTAL) resolve();
        });
        sock.on("close", () => reject(new Error(`closed after ${got} bytes`)));
      });
      sock.resume();
      await within(echoed, 20_000, "the echo");
      assert.ok(stats().peakBuffered <= BOUND, `peak ${stats().peakBuffered}`);
      sock.end();
    } finally {
      sock.destroy();
      await server.close(1000);
    }
  });
}
