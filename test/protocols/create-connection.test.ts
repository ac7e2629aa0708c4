/**
 * createConnection / createUnixConnection: when they resolve, how they fail, and aborting.
 */
import assert from "node:assert/strict";
import * as net from "node:net";
import * as path from "node:path";
import { describe, it } from "node:test";
import type { Server } from "../../src/protocols/index.js";
import { createConnection, createServer, createUnixConnection } from "../../src/protocols/index.js";
import {
  collectReports,
  localhostCert,
  Recorder,
  recorders,
  tcpAddress,
  tempDir,
  within,
} from "./helpers.js";

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = await createServer(() => ({}), "127.0.0.1", 0);
  const [, port] = tcpAddress(server.addresses);
  await server[Symbol.asyncDispose]();
  return port;
}

async function dispose(server: Server): Promise<void> {
  await within(server[Symbol.asyncDispose](), 3000, "the server to close");
}

describe("createConnection", () => {
  it("resolves with [transport, protocol] after connectionMade ran", async () => {
    const serverSide = recorders();
    const server = await createServer(serverSide.create, "127.0.0.1", 0);
    const made = new Recorder();
    const [transport, protocol] = await createConnection(() => made, ...tcpAddress(server.addresses));
    assert.equal(protocol, made);
    assert.equal(made.transport, transport);
    assert.deepEqual(made.events, ["connectionMade"]);
    transport.close();
    await within(made.lost.promise);
    await dispose(server);
  });

  it("rejects with ECONNREFUSED and never calls the factory", async () => {
    const port = await closedPort();
    let calls = 0;
    await assert.rejects(
      createConnection(
        () => {
          calls++;
          return {};
        },
        "127.0.0.1",
        port,
      ),
      { code: "ECONNREFUSED" },
    );
    assert.equal(calls, 0);
  });

  it("rejects with signal.reason when the signal is already aborted", async () => {
    const reason = new Error("not today");
    let calls = 0;
    await assert.rejects(
      createConnection(
        () => {
          calls++;
          return {};
        },
        "127.0.0.1",
        1,
        { signal: AbortSignal.abort(reason) },
      ),
      (err) => err === reason,
    );
    assert.equal(calls, 0);
  });

  it("an abort while connecting (a TLS handshake that never ends) rejects with signal.reason", async () => {
    // A plain TCP server that never answers the TLS handshake.
    const accepted: net.Socket[] = [];
    const closed: Promise<void>[] = [];
    const silent = net.createServer((s) => {
      accepted.push(s);
      s.resume(); // read (and drop) the client hello, so the client's close is seen
      closed.push(new Promise((r) => s.on("close", () => r())));
    });
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const { port } = silent.address() as net.AddressInfo;
    try {
      const ac = new AbortController();
      const reason = new Error("took too long");
      const attempt = createConnection(() => new Recorder(), "127.0.0.1", port, {
        tls: { ca: localhostCert().cert },
        signal: ac.signal,
      });
      setTimeout(() => ac.abort(reason), 30);
      await assert.rejects(within(attempt), (err) => err === reason);
      assert.equal(accepted.length, 1);
      await within(closed[0]!, 2000, "the aborted socket to close");
    } finally {
      await new Promise((r) => silent.close(r));
    }
  });

  it("binds to localAddr before connecting", async () => {
    const serverSide = recorders();
    const server = await createServer(serverSide.create, "127.0.0.1", 0);
    const [transport] = await createConnection(() => new Recorder(), ...tcpAddress(server.addresses), {
      localAddr: ["127.0.0.1", 0],
    });
    const [host, port] = transport.getExtraInfo("sockname") as [string, number];
    assert.equal(host, "127.0.0.1");
    assert.ok(port > 0);
    const remote = await serverSide.nth(0);
    assert.deepEqual(remote.transport!.getExtraInfo("peername"), [host, port]);
    transport.close();
    await dispose(server);
  });

  it("rejects with what the factory threw, and closes the socket", async () => {
    const serverSide = recorders();
    const server = await createServer(serverSide.create, "127.0.0.1", 0);
    const err = new Error("no protocol for you");
    await assert.rejects(
      createConnection(
        () => {
          throw err;
        },
        ...tcpAddress(server.addresses),
      ),
      (e) => e === err,
    );
    const remote = await serverSide.nth(0);
    await within(remote.lost.promise);
    await dispose(server);
  });

  it("rejects with what connectionMade threw, which also reaches connectionLost", async () => {
    const { reports } = await collectReports(async () => {
      const server = await createServer(() => new Recorder(), "127.0.0.1", 0);
      const client = new Recorder();
      client.connectionMade = () => {
        client.events.push("connectionMade");
        throw Object.assign(new Error("cannot start"), { code: "ESTART" });
      };
      await assert.rejects(
        createConnection(() => client, ...tcpAddress(server.addresses)),
        { code: "ESTART" },
      );
      const lost = await within(client.lost.promise);
      assert.equal((lost as Error & { code: string }).code, "ESTART");
      assert.deepEqual(client.events, ["connectionMade", "lost:ESTART"]);
      await dispose(server);
    });
    assert.equal(reports.length, 1);
  });

  it("rejects a certificate it cannot verify", async () => {
    const server = await createServer(() => new Recorder(), "127.0.0.1", 0, { tls: localhostCert() });
    const err = await createConnection(() => new Recorder(), ...tcpAddress(server.addresses), {
      tls: true,
    }).then(
      () => assert.fail("connected without verifying the certificate"),
      (e: Error & { code: string }) => e,
    );
    assert.match(err.code, /SELF_SIGNED|UNABLE_TO_VERIFY/);
    await dispose(server);
  });

  it("checks its arguments", async () => {
    await assert.rejects(
      createConnection(() => ({}), "127.0.0.1", 70000),
      { code: "ERR_INVALID_ARG_VALUE" },
    );
    await assert.rejects(
      createConnection(() => ({}), 7 as never, 80),
      { code: "ERR_INVALID_ARG_TYPE" },
    );
    await assert.rejects(createConnection(null as never, "127.0.0.1", 80), { code: "ERR_INVALID_ARG_TYPE" });
    await assert.rejects(
      createUnixConnection(() => ({}), ""),
      { code: "ERR_INVALID_ARG_TYPE" },
    );
  });

  it("createUnixConnection() to a missing path rejects with ENOENT", async () => {
    const tmp = tempDir();
    try {
      await assert.rejects(
        createUnixConnection(() => ({}), path.join(tmp.dir, "nobody.sock")),
        {
          code: "ENOENT",
        },
      );
    } finally {
      tmp.remove();
    }
  });
});
