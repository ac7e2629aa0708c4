import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { connectionLimitError } from "../../src/cli/connect-target.js";
import {
  type LoadOptions,
  type LoadProgress,
  type LoadResult,
  runLoad,
} from "../../src/cli/load-generator.js";
import { defaultLoadClient, LOAD_CLIENTS, type LoadClient } from "../../src/cli/load-socket.js";
import { nativeClientBackend } from "../../src/cli/native-load-socket.js";
import {
  chatty,
  corrupting,
  corruptingAt,
  echo,
  lineEcho,
  resetting,
  silent,
  startTestServer,
  waitFor,
} from "./_fixtures.js";
import { childPids, noChildList, pidExists } from "./_processes.js";

/** Why a client cannot run here, or false. */
function skipClient(client: LoadClient): string | false {
  return client === "native" && nativeClientBackend() === undefined
    ? "the native backend is not in use (addon not built, or ASYNCORE_BACKEND=net)"
    : false;
}

for (const client of LOAD_CLIENTS) {
  describe(`runLoad on the ${client} client`, { skip: skipClient(client) }, () => {
    const load = (opts: LoadOptions): Promise<LoadResult> => runLoad({ client, ...opts });

    it("reports the client and its own CPU use", async () => {
      const server = await startTestServer(echo);
      try {
        const r = await load({ port: server.port, conns: 2, size: 4096, durationMs: 200 });
        assert.equal(r.client, client);
        assert.ok(r.clientCpuMs > 0, `${r.clientCpuMs} ms`);
        assert.equal(r.clientCpuPercent, (r.clientCpuMs / (r.seconds * 1000)) * 100);
        assert.ok(r.clientCpuPercent <= 100 * availableParallelism() + 10, `${r.clientCpuPercent} %`);
      } finally {
        await server.close();
      }
    });

    it("counts one corrupted byte in the middle of a read as one mismatch", async () => {
      // Byte 150,000 of the connection: the middle of the second 100,000-byte message.
      const server = await startTestServer(corruptingAt(150_000));
      try {
        const r = await load({ port: server.port, conns: 1, size: 100_000, durationMs: 300 });
        assert.ok(r.requests > 2, `only ${r.requests} requests`);
        assert.equal(r.mismatches, 1);
        assert.equal(r.errors, 0);
      } finally {
        await server.close();
      }
    });

    it("counts verified round trips against an echo server", async () => {
      const server = await startTestServer(echo);
      try {
        const progress: LoadProgress[] = [];
        const r = await load({
          port: server.port,
          conns: 3,
          size: 1000,
          durationMs: 300,
          progressIntervalMs: 50,
          onProgress: (p) => progress.push(p),
        });
        assert.ok(r.requests > 10, `only ${r.requests} requests`);
        assert.equal(r.bytes, r.requests * 1000);
        assert.equal(r.errors, 0);
        assert.equal(r.mismatches, 0);
        assert.deepEqual(r.errorCodes, {});
        assert.ok(r.seconds >= 0.29 && r.seconds < 1, `window of ${r.seconds} s`);
        assert.equal(r.reqPerSec, r.requests / r.seconds);
        assert.equal(r.mbPerSec, r.bytes / r.seconds / 1e6);
        assert.ok(server.received >= r.bytes);
        const l = r.latency;
        assert.ok(
          l.min > 0 && l.min <= l.p50 && l.p50 <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.max,
          JSON.stringify(l),
        );
        assert.deepEqual([r.conns, r.size, r.lines, r.idle], [3, 1000, false, 0]);
        assert.ok(progress.length >= 2 && progress.every((p) => p.phase === "run"));
        assert.ok(progress.at(-1)!.requests > 0);
        assert.equal(await waitFor(() => server.open === 0), true, "connections left open");
      } finally {
        await server.close();
      }
    });

    it("sends different content in consecutive messages", async () => {
      const messages: Buffer[] = [];
      let pending = Buffer.alloc(0);
      const server = await startTestServer((socket) =>
        socket.on("data", (d) => {
          pending = Buffer.concat([pending, d]);
          while (pending.length >= 64) {
            messages.push(pending.subarray(0, 64));
            pending = pending.subarray(64);
          }
          socket.write(d);
        }),
      );
      try {
        const r = await load({ port: server.port, conns: 1, size: 64, durationMs: 100 });
        assert.equal(r.mismatches, 0);
        assert.ok(messages.length >= 3);
        for (let i = 1; i < messages.length; i++) assert.notDeepEqual(messages[i], messages[i - 1]);
      } finally {
        await server.close();
      }
    });

    it("sends lines that a line-framed echo server answers, the probe included", async () => {
      const lines: Buffer[] = [];
      const server = await startTestServer(lineEcho(lines));
      try {
        const r = await load({
          port: server.port,
          conns: 2,
          size: 700,
          durationMs: 200,
          idle: 3,
          lines: true,
        });
        assert.equal(r.lines, true);
        assert.ok(r.requests > 10, `only ${r.requests} requests`);
        assert.equal(r.mismatches, 0);
        assert.equal(r.errors, 0);
        // The probe's line is "\n" alone; every message is one line of the full size.
        assert.deepEqual(lines[0], Buffer.from("\n"));
        const messages = lines.slice(1);
        assert.ok(messages.length >= r.requests);
        for (const line of messages) assert.equal(line.length, 700);
      } finally {
        await server.close();
      }
    });

    it("sends bytes of any value without lines, which a line-framed server cannot echo whole", async () => {
      const server = await startTestServer(lineEcho());
      try {
        const r = await load({ port: server.port, conns: 1, size: 5000, durationMs: 200 });
        assert.equal(r.lines, false);
        assert.ok(r.requests === 0 || r.mismatches > 0, `${r.requests} requests, ${r.mismatches} mismatches`);
      } finally {
        await server.close();
      }
    });

    it("reassembles line messages larger than one read", async () => {
      const server = await startTestServer(lineEcho());
      try {
        const r = await load({ port: server.port, conns: 2, size: 300_000, durationMs: 300, lines: true });
        assert.ok(r.requests > 0);
        assert.equal(r.mismatches, 0);
        assert.equal(r.errors, 0);
      } finally {
        await server.close();
      }
    });

    it("reassembles messages larger than one read", async () => {
      const server = await startTestServer(echo);
      try {
        const r = await load({ port: server.port, conns: 2, size: 300_000, durationMs: 300 });
        assert.ok(r.requests > 0);
        assert.equal(r.mismatches, 0);
        assert.equal(r.errors, 0);
      } finally {
        await server.close();
      }
    });

    it("detects a server that corrupts bytes", async () => {
      const server = await startTestServer(corrupting);
      try {
        const r = await load({ port: server.port, conns: 2, size: 500, durationMs: 200 });
        assert.ok(r.requests > 0);
        assert.equal(r.mismatches, r.requests);
      } finally {
        await server.close();
      }
    });

    it("detects a server that sends more than it received", async () => {
      const server = await startTestServer(chatty);
      try {
        const r = await load({ port: server.port, conns: 1, size: 100, durationMs: 200 });
        assert.ok(r.mismatches > 0);
      } finally {
        await server.close();
      }
    });

    it("counts resets as errors and reconnects", async () => {
      const server = await startTestServer(resetting);
      try {
        const r = await load({ port: server.port, conns: 2, size: 100, durationMs: 300 });
        assert.equal(r.requests, 0);
        assert.ok(r.errors >= 4, `only ${r.errors} errors`);
        assert.ok((r.errorCodes.ECONNRESET ?? 0) > 0, JSON.stringify(r.errorCodes));
        assert.ok(server.accepted > 2, "no reconnect happened");
      } finally {
        await server.close();
      }
    });

    it("counts a server closing the connection as an error", async () => {
      const server = await startTestServer((socket) => socket.on("data", (d) => socket.end(d)));
      try {
        const r = await load({ port: server.port, conns: 1, size: 100, durationMs: 200 });
        assert.ok(r.errorCodes.ERR_UNEXPECTED_EOF! > 0, JSON.stringify(r.errorCodes));
        assert.ok(r.requests > 0);
      } finally {
        await server.close();
      }
    });

    it("ends on time when the server never answers", async () => {
      const server = await startTestServer(silent);
      try {
        const started = performance.now();
        const r = await load({ port: server.port, conns: 2, size: 100, durationMs: 200 });
        assert.ok(performance.now() - started < 1500);
        assert.equal(r.requests, 0);
        assert.equal(r.reqPerSec, 0);
        assert.equal(r.latency.p99, 0);
      } finally {
        await server.close();
      }
    });

    it("works over a Unix-domain socket", async () => {
      const dir = await mkdtemp(join(tmpdir(), "asyncore-bench-"));
      const path = join(dir, "echo.sock");
      const server = await startTestServer(echo, path);
      try {
        const r = await load({ path, conns: 2, size: 2048, durationMs: 200 });
        assert.ok(r.requests > 0);
        assert.equal(r.mismatches, 0);
      } finally {
        await server.close();
        await rm(dir, { recursive: true, force: true });
      }
    });

    it("opens idle connections first and keeps them open during the window", async () => {
      const server = await startTestServer(echo);
      try {
        let openAtReady = -1;
        let openAtStart = -1;
        let holders: number[] = [];
        const r = await load({
          port: server.port,
          conns: 2,
          size: 100,
          durationMs: 150,
          idle: 60,
          idleBatchSize: 16,
          onIdleReady: (n) => {
            assert.equal(n, 60);
            openAtReady = server.open;
            if (!noChildList) holders = childPids();
          },
          onWindowStart: () => {
            openAtStart = server.open;
          },
        });
        assert.equal(r.idle, 60);
        assert.ok(openAtReady >= 60, `${openAtReady} open when idle were ready`);
        assert.ok(openAtStart >= 62, `${openAtStart} open at window start`);
        assert.ok(r.requests > 0);
        assert.equal(r.errors, 0);
        assert.equal(await waitFor(() => server.open === 0), true, "idle connections left open");
        if (!noChildList) {
          assert.equal(holders.length, 1, `children when idle were ready: ${holders}`);
          assert.equal(pidExists(holders[0]!), false, "the idle holder outlived the run");
        }
      } finally {
        await server.close();
      }
    });

    it("counts idle connections the server closes as errors", async () => {
      let n = 0;
      const server = await startTestServer((socket) => {
        n += 1;
        if (n <= 5) setTimeout(() => socket.end(), 50);
        else socket.on("data", (d) => socket.write(d));
      });
      try {
        const r = await load({ port: server.port, conns: 1, size: 10, durationMs: 200, idle: 5 });
        assert.equal(r.errorCodes.ERR_UNEXPECTED_EOF, 5);
      } finally {
        await server.close();
      }
    });

    it("rejects when it cannot connect", async () => {
      const closed = net.createServer();
      await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
      const port = (closed.address() as net.AddressInfo).port;
      await new Promise((resolve) => closed.close(resolve));
      await assert.rejects(load({ port, conns: 2, size: 10, durationMs: 100 }), {
        code: "ECONNREFUSED",
        message: /Cannot open connection 1 of 2/,
      });
      await assert.rejects(load({ port, conns: 1, size: 10, durationMs: 100, idle: 3 }), {
        code: "ECONNREFUSED",
      });
    });

    it("rejects bad options", async () => {
      const bad = [
        { port: 1, conns: 0, size: 10, durationMs: 100 },
        { port: 1, conns: 1, size: 0, durationMs: 100 },
        { port: 1, conns: 1, size: 10, durationMs: 0 },
        { port: 1, conns: 1, size: 10, durationMs: 100, idle: -1 },
        { port: 1, path: "/tmp/x", conns: 1, size: 10, durationMs: 100 },
        { conns: 1, size: 10, durationMs: 100 },
        { port: 70000, conns: 1, size: 10, durationMs: 100 },
      ];
      for (const opts of bad) await assert.rejects(load(opts), { code: "ERR_INVALID_ARG_VALUE" });
    });

    it("stops and rejects with the reason when aborted", async () => {
      const server = await startTestServer(echo);
      try {
        const controller = new AbortController();
        const reason = new Error("stop now");
        setTimeout(() => controller.abort(reason), 100);
        const started = performance.now();
        await assert.rejects(
          load({ port: server.port, conns: 2, size: 100, durationMs: 5000, signal: controller.signal }),
          (err) => err === reason,
        );
        assert.ok(performance.now() - started < 1000);
        assert.equal(await waitFor(() => server.open === 0), true);
      } finally {
        await server.close();
      }
    });

    it("closes the idle connections and ends their holder when aborted", { skip: noChildList }, async () => {
      const server = await startTestServer(echo);
      try {
        for (const phase of ["idle", "run"] as const) {
          const controller = new AbortController();
          const reason = new Error(`stop in the ${phase} phase`);
          let holders: number[] = [];
          await assert.rejects(
            load({
              port: server.port,
              conns: 2,
              size: 100,
              durationMs: 5000,
              idle: phase === "idle" ? 3000 : 40,
              idleBatchSize: 20,
              progressIntervalMs: 20,
              signal: controller.signal,
              onProgress: (p) => {
                if (p.phase !== phase || controller.signal.aborted) return;
                holders = childPids();
                controller.abort(reason);
              },
            }),
            (err) => err === reason,
          );
          assert.equal(holders.length, 1, `children in the ${phase} phase: ${holders}`);
          assert.equal(
            pidExists(holders[0]!),
            false,
            `the idle holder outlived an abort in the ${phase} phase`,
          );
          assert.equal(await waitFor(() => server.open === 0), true, `${server.open} left open`);
        }
      } finally {
        await server.close();
      }
    });
  });
}

describe("connectionLimitError", () => {
  it("tells how to raise the open-file limit on EMFILE", () => {
    const cause = Object.assign(new Error("connect EMFILE"), { code: "EMFILE" });
    const err = connectionLimitError(cause, 999, 10_000);
    assert.equal(err.code, "EMFILE");
    assert.equal(err.cause, cause);
    assert.match(err.message, /^Cannot open connection 1000 of 10000: too many open files/);
    assert.match(err.message, /ulimit -n/);
  });

  it("explains EADDRNOTAVAIL and keeps other codes", () => {
    const ports = connectionLimitError(Object.assign(new Error("x"), { code: "EADDRNOTAVAIL" }), 0, 1);
    assert.match(ports.message, /ip_local_port_range/);
    const other = connectionLimitError(
      Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }),
      0,
      1,
    );
    assert.equal(other.code, "ECONNREFUSED");
    assert.match(other.message, /connect ECONNREFUSED/);
  });
});

describe("runLoad's client", () => {
  it("defaults to net, the cheaper client, on either backend", async () => {
    const server = await startTestServer(echo);
    try {
      const r = await runLoad({ port: server.port, conns: 1, size: 10, durationMs: 50 });
      assert.equal(r.client, "net");
      assert.equal(r.client, defaultLoadClient());
    } finally {
      await server.close();
    }
  });

  it("rejects an unknown client", async () => {
    await assert.rejects(
      runLoad({ port: 1, conns: 1, size: 10, durationMs: 100, client: "uring" as LoadClient }),
      { code: "ERR_INVALID_ARG_VALUE", message: /client must be one of net, native, got uring/ },
    );
  });
});
