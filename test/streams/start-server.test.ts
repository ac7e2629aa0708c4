/**
 * startServer / startUnixServer: CPython 3.11's test_streams.py server cases
 * (test_start_server, test_start_unix_server, test_unhandled_exceptions), test_server.py's
 * serve-forever cases written with streams, client callbacks that throw or reject, and the
 * options (limit, TLS, host undefined, signal) and argument checks.
 */
import assert from "node:assert/strict";
import * as net from "node:net";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import type { Server } from "../../src/protocols/index.js";
import {
  openConnection,
  openUnixConnection,
  type StreamReader,
  type StreamWriter,
  startServer,
  startUnixServer,
} from "../../src/streams/index.js";
import {
  collectReports,
  deferred,
  localhostCert,
  rejectsWithCode,
  tcpAddress,
  tempDir,
  turn,
  until,
  watchUnhandled,
  within,
} from "./helpers.js";

const dir = tempDir();
after(() => dir.remove());
let socketCount = 0;
const unixPath = (): string => path.join(dir.dir, `s${socketCount++}.sock`);

async function dispose(server: Server): Promise<void> {
  await within(server[Symbol.asyncDispose](), 3000, "the server to close");
}

/** CPython's handle_client: echo one line, drain, close, wait until closed. */
async function handleClient(reader: StreamReader, writer: StreamWriter): Promise<void> {
  const data = await reader.readLine();
  writer.write(data);
  await writer.drain();
  writer.close();
  await writer.waitClosed();
}

/** CPython's client: send a line, read it back, close. */
async function client(open: () => Promise<[StreamReader, StreamWriter]>): Promise<string> {
  const [reader, writer] = await open();
  writer.write("hello world!\n");
  const back = await within(reader.readLine());
  writer.close();
  await within(writer.waitClosed());
  return String(back);
}

/** A `node:net` client that sends 5 KiB and a newline, then waits for one byte (test_server.py). */
function helloClient(connect: () => net.Socket): Promise<string> {
  return within(
    new Promise<string>((resolve, reject) => {
      const sock = connect();
      let got = "";
      sock.on("error", reject);
      sock.on("data", (d: Buffer) => (got += d));
      sock.on("close", () => resolve(got));
      sock.write(`${"1".repeat(5 * 1024)}\n`);
    }),
    3000,
    "the hello client",
  );
}

describe("startServer: CPython test_streams cases", () => {
  for (const variant of ["an async handler", "a plain callback that starts the handler"] as const) {
    const onClient =
      variant === "an async handler"
        ? handleClient
        : (r: StreamReader, w: StreamWriter): void => {
            handleClient(r, w).catch((err: unknown) => assert.fail(String(err)));
          };

    it(`test_start_server, with ${variant}`, async () => {
      const { reports } = await collectReports(async () => {
        const server = await startServer(onClient, "127.0.0.1", 0);
        const msg = await client(() => openConnection(...tcpAddress(server.addresses)));
        server.close();
        await within(server.waitClosed());
        assert.equal(msg, "hello world!\n");
      });
      assert.deepEqual(reports, []);
    });

    it(`test_start_unix_server, with ${variant}`, async () => {
      const { reports } = await collectReports(async () => {
        const where = unixPath();
        const server = await startUnixServer(onClient, where);
        const msg = await client(() => openUnixConnection(where));
        server.close();
        await within(server.waitClosed());
        assert.equal(msg, "hello world!\n");
      });
      assert.deepEqual(reports, []);
    });
  }

  it("test_unhandled_exceptions: a handler that throws is reported as such", async () => {
    const unhandled = watchUnhandled();
    const { reports } = await collectReports(async () => {
      const server = await startServer(
        async () => {
          throw new Error("test");
        },
        "127.0.0.1",
        0,
      );
      await server.startServing();
      const [, writer] = await openConnection(...tcpAddress(server.addresses));
      writer.write("test msg");
      await writer.drain();
      writer.close();
      await within(writer.waitClosed());
      server.close();
      await within(server.waitClosed());
    });
    assert.deepEqual(unhandled.stop(), []);
    assert.equal(reports.length, 1);
    assert.equal(reports[0]!.message, "Unhandled exception in client callback");
    assert.equal(reports[0]!.exception.message, "test");
    assert.equal((reports[0]!.exception as Error & { code?: string }).code, "ERR_UNKNOWN");
  });
});

describe("startServer: CPython test_server cases, with streams", () => {
  it("test_start_server_1: serveForever() until the handler closes the server", async () => {
    let srv: Server | undefined;
    srv = await startServer(
      async (reader, writer) => {
        await reader.readLine();
        srv!.close();
        writer.write("1");
        writer.close();
        await writer.waitClosed();
      },
      "127.0.0.1",
      0,
      { startServing: false },
    );
    assert.equal(srv.isServing(), false);
    const [host, port] = tcpAddress(srv.addresses);
    const main = (async () => {
      await using s = srv;
      await s.serveForever();
    })();
    await until(() => srv!.isServing(), 2000, "isServing()");
    assert.equal(await helloClient(() => net.connect(port, host)), "1");
    await within(main);
    assert.deepEqual(srv.addresses, []);
    assert.equal(srv.isServing(), false);
    await rejectsWithCode(srv.serveForever(), "ERR_SERVER_CLOSED");
  });

  it("test_start_unix_server_1: startServing(), then serveForever()", async () => {
    const where = unixPath();
    let srv: Server | undefined;
    srv = await startUnixServer(
      async (reader, writer) => {
        await reader.readLine();
        srv!.close();
        writer.write("1");
        writer.close();
        await writer.waitClosed();
      },
      where,
      { startServing: false },
    );
    const started = deferred();
    const main = (async () => {
      await using s = srv;
      assert.equal(s.isServing(), false);
      await s.startServing();
      assert.equal(s.isServing(), true);
      started.resolve();
      await s.serveForever();
    })();
    await within(started.promise);
    assert.equal(await helloClient(() => net.connect(where)), "1");
    await within(main);
    assert.deepEqual(srv.addresses, []);
    assert.equal(srv.isServing(), false);
    await rejectsWithCode(srv.serveForever(), "ERR_SERVER_CLOSED");
  });
});

describe("startServer: client callbacks", () => {
  it("a callback that throws synchronously is reported and closes its connection", async () => {
    const unhandled = watchUnhandled();
    const boom = new TypeError("sync failure");
    const { reports } = await collectReports(async () => {
      const server = await startServer(
        (_r, w) => {
          w.write("partial answer\n");
          throw boom;
        },
        "127.0.0.1",
        0,
      );
      const [reader, writer] = await openConnection(...tcpAddress(server.addresses));
      // close() flushes: what the callback wrote before throwing still arrives.
      assert.equal(String(await within(reader.read())), "partial answer\n");
      assert.deepEqual(await within(reader.read()), Buffer.alloc(0));
      writer.close();
      await dispose(server);
    });
    assert.deepEqual(unhandled.stop(), []);
    assert.equal(reports.length, 1);
    assert.equal(reports[0]!.exception, boom);
    assert.equal(reports[0]!.message, "Unhandled exception in client callback");
    assert.ok(reports[0]!.transport, "the report names the transport");
  });

  it("a rejection after the connection is gone is still reported, never unhandled", async () => {
    const unhandled = watchUnhandled();
    const { reports } = await collectReports(async (reports) => {
      const server = await startServer(
        async (reader) => {
          await reader.readExactly(100); // the client leaves after 5 bytes
        },
        "127.0.0.1",
        0,
      );
      const [, writer] = await openConnection(...tcpAddress(server.addresses));
      writer.write("short");
      writer.close();
      await within(writer.waitClosed());
      await until(() => reports.length === 1, 3000, "the report");
      await dispose(server);
    });
    await turn(10);
    assert.deepEqual(unhandled.stop(), []);
    assert.equal(reports.length, 1);
    assert.equal((reports[0]!.exception as Error & { code?: string }).code, "ERR_INCOMPLETE_READ");
  });

  it("a callback that returns normally leaves its connection open", async () => {
    const remote = deferred<[StreamReader, StreamWriter]>();
    const server = await startServer(
      (r, w) => {
        w.write("hi\n");
        remote.resolve([r, w]);
      },
      "127.0.0.1",
      0,
    );
    const [reader, writer] = await openConnection(...tcpAddress(server.addresses));
    assert.equal(String(await within(reader.readLine())), "hi\n");
    await turn(30);
    assert.equal(reader.atEof(), false);
    writer.write("still here\n");
    writer.close();
    await within(writer.waitClosed());
    const [peerReader, peerWriter] = await remote.promise;
    assert.equal(String(await within(peerReader.readLine())), "still here\n");
    assert.equal(peerWriter.isClosing(), false, "the server's end stays half-open after EOF");
    peerWriter.close();
    await dispose(server);
  });

  it("runs once the TLS handshake is done, with server-side TLS details", async () => {
    const seen = deferred<unknown>();
    const server = await startServer(
      (_r, w) => {
        seen.resolve(w.getExtraInfo("cipher"));
        w.close();
      },
      "127.0.0.1",
      0,
      { tls: localhostCert() },
    );
    const [reader, writer] = await openConnection(...tcpAddress(server.addresses), {
      tls: { ca: localhostCert().cert },
    });
    assert.equal(typeof ((await within(seen.promise)) as { name?: string }).name, "string");
    assert.deepEqual(await within(reader.read()), Buffer.alloc(0));
    writer.close();
    await dispose(server);
  });
});

describe("startServer: options and arguments", () => {
  it("limit sets every reader's limit", async () => {
    const result = deferred<string>();
    const server = await startServer(
      async (reader, writer) => {
        try {
          await reader.readLine();
          result.resolve("no error");
        } catch (err) {
          result.resolve((err as { code: string }).code);
        }
        writer.close();
      },
      "127.0.0.1",
      0,
      { limit: 4 },
    );
    const [, writer] = await openConnection(...tcpAddress(server.addresses));
    writer.write("too long for four\n");
    assert.equal(await within(result.promise), "ERR_LIMIT_OVERRUN");
    writer.close();
    await dispose(server);
  });

  it("host undefined listens on every interface", async () => {
    const server = await startServer(handleClient, undefined, 0);
    const address = server.addresses[0] as [string, number];
    assert.ok(["::", "0.0.0.0"].includes(address[0]), String(address[0]));
    assert.equal(await client(() => openConnection("127.0.0.1", address[1])), "hello world!\n");
    await dispose(server);
  });

  it("the signal of the options closes the server", async () => {
    const ac = new AbortController();
    const server = await startServer(handleClient, "127.0.0.1", 0, { signal: ac.signal });
    assert.equal(server.isServing(), true);
    ac.abort();
    await within(server.waitClosed());
    assert.equal(server.isServing(), false);
  });

  it("Server.waitClosed() waits for the stream connections it accepted", async () => {
    const server = await startServer(
      async (r, w) => {
        await r.read(); // to EOF
        w.close();
      },
      "127.0.0.1",
      0,
    );
    const [reader, writer] = await openConnection(...tcpAddress(server.addresses));
    server.close();
    let closed = false;
    const waiting = server.waitClosed().then(() => {
      closed = true;
    });
    await turn(40);
    assert.equal(closed, false);
    writer.close();
    await within(waiting);
    await within(writer.waitClosed());
    assert.equal(reader.atEof(), true);
  });

  it("checks its arguments before listening", async () => {
    await rejectsWithCode(startServer("nope" as never, "127.0.0.1", 0), "ERR_INVALID_ARG_TYPE");
    await rejectsWithCode(startServer(handleClient, "127.0.0.1", 0, { limit: 0 }), "ERR_INVALID_ARG_VALUE");
    await rejectsWithCode(
      startServer(handleClient, "127.0.0.1", 0, { limit: Number.NaN }),
      "ERR_INVALID_ARG_VALUE",
    );
    await rejectsWithCode(
      startServer(handleClient, "127.0.0.1", 0, { limit: "1" as unknown as number }),
      "ERR_INVALID_ARG_TYPE",
    );
    await rejectsWithCode(startUnixServer(handleClient, unixPath(), { limit: -1 }), "ERR_INVALID_ARG_VALUE");
  });

  it("rejects with EADDRINUSE when the port is taken", async () => {
    const first = await startServer(handleClient, "127.0.0.1", 0);
    await rejectsWithCode(startServer(handleClient, ...tcpAddress(first.addresses)), "EADDRINUSE");
    await dispose(first);
  });
});
