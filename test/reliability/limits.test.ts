/**
 * Server limits through each API: maxConnections refuses and counts the extra connections and
 * the server keeps serving; idleTimeout closes silent connections with the API's close
 * callback (protocols/streams: an ERR_LIMIT_REACHED cause) and spares the ones that send;
 * bad limit values fail at once; an accept failing with EMFILE is reported (protocols and
 * streams: through the exception handler) and serving resumes once descriptors free up.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as net from "node:net";
import * as readline from "node:readline";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Dispatcher } from "../../src/asyncore/index.js";
import { serverLimitStats } from "../../src/core/server-limits.js";
import { createServer } from "../../src/protocols/index.js";
import { startServer } from "../../src/streams/index.js";
import {
  collectUntilClose,
  connected,
  delay,
  echoOnce,
  guardEachTest,
  pattern,
  until,
  within,
} from "./helpers.js";
import { APIS, startTestServer, type TestServer } from "./servers.js";

guardEachTest();

/** The end an idle-closed connection reports in each API. */
const IDLE_END = {
  dispatcher: "eof",
  asynchat: "eof",
  protocols: "ERR_LIMIT_REACHED",
  streams: "ERR_LIMIT_REACHED",
} as const;

for (const api of APIS) {
  describe(api, () => {
    test("maxConnections: extra connections are closed at once and counted; serving goes on", async () => {
      const server = await startTestServer(api, { maxConnections: 4 });
      const clients: net.Socket[] = [];
      try {
        for (let i = 0; i < 12; i++) clients.push(await connected(server.port));
        const outputs = clients.map(collectUntilClose);
        await until(() => server.log.served === 4, 3000, "4 connections served");
        // The 8 refused ones are closed by the server with nothing sent: their close arrives.
        const refused = await within(Promise.all(outputs.slice(4)), 3000, "refused connections to close");
        assert.deepEqual(
          refused.map((b) => b.length),
          Array(8).fill(0),
        );
        assert.equal(server.log.served, 4);
        const stats = serverLimitStats();
        assert.equal(stats.length, 1);
        assert.equal(stats[0]!.refused, 8, "every refusal is counted");
        assert.equal(stats[0]!.live, 4);
        const limit = server.log.acceptErrors.filter(
          (e) => (e as Error & { code?: string }).code === "ERR_LIMIT_REACHED",
        );
        assert.ok(limit.length >= 1, "the refusal was reported");
        // The four served ones still echo; once they leave, new connections are served again.
        for (const c of clients.slice(0, 4)) c.end("still here");
        const served = await within(Promise.all(outputs.slice(0, 4)), 3000, "served connections");
        for (const out of served) assert.equal(out.toString(), "still here");
        await until(() => server.live() === 0, 3000, "connections to end");
        const payload = pattern(100_000, 7);
        assert.ok((await echoOnce(server.port, payload)).equals(payload));
      } finally {
        for (const c of clients) c.destroy();
        await server.close();
      }
      if (api === "protocols" || api === "streams") {
        // Reports coalesced within a second are flushed when the listener closes. (A closed
        // dispatcher runs no more handlers, so there a late report is not delivered.)
        await delay(20);
        const counted = server.log.acceptErrors.reduce(
          (n, e) => n + ((e as Error & { refused?: number }).refused ?? 0),
          0,
        );
        assert.equal(counted, 8);
      }
    });

    test("idleTimeout closes a silent connection and spares one that keeps sending", async () => {
      const IDLE = 150;
      const server = await startTestServer(api, { idleTimeout: IDLE });
      try {
        const silent = await connected(server.port);
        const talker = await connected(server.port);
        const t0 = performance.now();
        const silentOut = collectUntilClose(silent);
        const talkerOut = collectUntilClose(talker);
        const silentClosed = silentOut.then(() => performance.now() - t0);
        for (let i = 0; i < 8; i++) {
          talker.write("x");
          await delay(IDLE / 3);
        }
        const took = await within(silentClosed, 2000, "the silent connection to close");
        assert.ok(took >= IDLE - 5, `closed after ${took.toFixed(0)} ms`);
        assert.ok(took <= IDLE * 1.25 + 100, `closed after ${took.toFixed(0)} ms`);
        assert.equal(talker.destroyed, false, "the talking connection stays open");
        talker.end();
        assert.equal((await within(talkerOut, 3000, "the talker's echo")).toString(), "xxxxxxxx");
        await until(() => server.log.ends.length === 2, 3000, "both ends recorded");
        assert.equal(server.log.ends[0], IDLE_END[api], `ends: ${server.log.ends}`);
        assert.deepEqual(server.log.errors, []);
      } finally {
        await server.close();
      }
    });
  });
}

test("bad limits fail at once, in every API", async () => {
  const d = new Dispatcher(undefined, new Map());
  d.createSocket();
  assert.throws(() => d.listen(5, { maxConnections: 0 }), { code: "ERR_INVALID_ARG_VALUE" });
  assert.throws(() => d.listen(5, { idleTimeout: Number.NaN }), { code: "ERR_INVALID_ARG_VALUE" });
  d.close();
  await assert.rejects(
    createServer(() => ({}), "127.0.0.1", 0, { maxConnections: -1 }),
    {
      code: "ERR_INVALID_ARG_VALUE",
    },
  );
  await assert.rejects(
    startServer(() => {}, "127.0.0.1", 0, { idleTimeout: -5 }),
    {
      code: "ERR_INVALID_ARG_VALUE",
    },
  );
});

test("limits of one server do not touch another server's connections", async () => {
  const strict = await startTestServer("protocols", { maxConnections: 1, idleTimeout: 100 });
  const free: TestServer = await startTestServer("protocols");
  try {
    const held = await connected(free.port);
    await delay(300);
    assert.equal(held.destroyed, false, "a server without limits keeps idle connections");
    const a = await Promise.all([
      echoOnce(free.port, pattern(1000, 1)),
      echoOnce(free.port, pattern(1000, 2)),
    ]);
    assert.equal(a.length, 2);
    held.destroy();
  } finally {
    await strict.close();
    await free.close();
  }
});

for (const api of ["protocols", "streams"] as const) {
  test(`${api}: accept failing with EMFILE reaches the exception handler and serving resumes`, async () => {
    const script = fileURLToPath(new URL("../fixtures/emfile-stream-server.js", import.meta.url));
    const child = spawn("bash", ["-c", `ulimit -n 64 && exec "${process.execPath}" "${script}" ${api}`], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const seen: string[] = [];
    const waiting: Array<{ match: RegExp; resolve: (line: string) => void }> = [];
    readline.createInterface({ input: child.stdout }).on("line", (line) => {
      seen.push(line);
      const i = waiting.findIndex((w) => w.match.test(line));
      if (i >= 0) waiting.splice(i, 1)[0]!.resolve(line);
    });
    const next = (match: RegExp, what: string): Promise<string> => {
      const found = seen.find((l) => match.test(l));
      if (found !== undefined) return Promise.resolve(found);
      return within(new Promise((resolve) => waiting.push({ match, resolve })), 10_000, what);
    };
    const clients: net.Socket[] = [];
    try {
      const [, host, port] = /^listening on (.+):(\d+)$/.exec(await next(/^listening on /, "listening"))!;
      let exhausted = false;
      const emfile = next(/^accept-error /, "the accept error");
      void emfile.then(
        () => {
          exhausted = true;
        },
        () => {},
      );
      // Far more connections than 64 descriptors allow: the table fills up.
      for (let i = 0; i < 100 && !exhausted; i++) {
        const s = net.connect(Number(port), host!);
        s.on("error", () => {});
        clients.push(s);
        await delay(10);
      }
      assert.match(await emfile, /^accept-error (EMFILE|ENFILE)$/);
      child.stdin.write("free\n");
      await next(/^freed \d+$/, "the connections to be freed");
      for (const s of clients) s.destroy();
      const payload = pattern(50_000, 3);
      const echo = await within(
        (async () => {
          // Clients the kernel still holds in the backlog may be served first: retry briefly.
          for (let attempt = 0; ; attempt++) {
            try {
              return await echoOnce(Number(port), payload, 3000);
            } catch (err) {
              if (attempt >= 5) throw err;
              await delay(100);
            }
          }
        })(),
        20_000,
        "an echo after the descriptors were freed",
      );
      assert.ok(echo.equals(payload));
      child.stdin.write("quit\n");
      const code = await within(new Promise<number | null>((r) => child.once("exit", r)), 5000, "the exit");
      assert.equal(code, 0);
    } finally {
      for (const s of clients) s.destroy();
      if (child.exitCode === null) child.kill();
    }
  });
}
