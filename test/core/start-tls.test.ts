/**
 * The transport core's TLS paths, straight on the backend interface: upgrading a plain
 * connection in place (`startTls`), and a TLS listener dropping a client that closes
 * before its handshake is done.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as tls from "node:tls";
import type { StreamConnection, StreamEvents } from "../../src/core/index.js";
import { getBackend } from "../../src/core/index.js";
import { localhostCert, within } from "../protocols/helpers.js";

/** Events that collect bytes and report EOF/close. */
function collector() {
  const chunks: Buffer[] = [];
  let wake: (() => void) | undefined;
  let onEnded!: (ended: boolean) => void;
  const ended = new Promise<boolean>((r) => {
    onEnded = r;
  });
  let onClosed!: (err: Error | null) => void;
  const closed = new Promise<Error | null>((r) => {
    onClosed = r;
  });
  const events: StreamEvents = {
    onData: (c) => {
      chunks.push(c);
      wake?.();
    },
    onEnd: () => onEnded(true),
    onWritePaused: () => {},
    onWriteResumed: () => {},
    onClose: (err) => onClosed(err),
  };
  return {
    events,
    ended,
    closed,
    text: () => Buffer.concat(chunks).toString(),
    async bytes(n: number): Promise<string> {
      while (Buffer.concat(chunks).length < n) {
        await within(
          new Promise<void>((r) => {
            wake = r;
          }),
          3000,
          `${n} bytes`,
        );
      }
      return Buffer.concat(chunks).toString();
    },
  };
}

describe("core: TLS", () => {
  it("startTls() upgrades an accepted and a dialled connection in place", async () => {
    const backend = getBackend();
    const serverSide = collector();
    let accepted!: (c: StreamConnection) => void;
    const acceptedConn = new Promise<StreamConnection>((r) => {
      accepted = r;
    });
    const listener = await backend.listen(
      ["127.0.0.1", 0],
      {},
      {
        onConnection: (conn) => {
          conn.start(serverSide.events);
          accepted(conn);
        },
        onAcceptError: (err) => assert.fail(err),
        onClose: () => {},
      },
    );
    const clientSide = collector();
    let connected!: () => void;
    const up = new Promise<void>((r) => {
      connected = r;
    });
    const client = backend.connect(
      listener.address,
      {},
      { ...clientSide.events, onConnect: () => connected() },
    );
    await within(up);
    const server = await within(acceptedConn);
    client.write(Buffer.from("hello "));
    assert.equal(await serverSide.bytes(6), "hello ");
    assert.equal(client.canEnd, true);
    await within(
      Promise.all([
        server.startTls({ ...localhostCert(), isServer: true }),
        client.startTls({ ca: localhostCert().cert, servername: "localhost" }),
      ]),
      3000,
      "both handshakes",
    );
    assert.equal(client.canEnd, false);
    if (client.backend === "net") assert.ok(client.raw instanceof tls.TLSSocket);
    assert.equal((client.getExtraInfo("peercert") as { subject: { CN: string } }).subject.CN, "localhost");
    client.write(Buffer.from("secret"));
    assert.equal(await serverSide.bytes(12), "hello secret");
    server.write(Buffer.from("ok"));
    assert.equal(await clientSide.bytes(2), "ok");
    client.close();
    // The upgraded server side stays half-open after the client's EOF until it closes too.
    assert.ok(await within(serverSide.ended, 3000, "EOF"));
    server.close();
    assert.equal(await within(serverSide.closed, 3000, "close"), null);
    listener.close();
  });

  it("a TLS listener drops a client that closes before its handshake is done", async () => {
    const backend = getBackend();
    let connections = 0;
    let listenerClosed!: () => void;
    const closed = new Promise<void>((r) => {
      listenerClosed = r;
    });
    const listener = await backend.listen(
      ["127.0.0.1", 0],
      { tls: localhostCert() },
      {
        onConnection: (conn) => {
          connections++;
          conn.abort();
        },
        onAcceptError: () => {},
        onClose: () => listenerClosed(),
      },
    );
    // Without `ca`, the client rejects the certificate and closes mid-handshake.
    const rejected = new Promise<string>((resolve) => {
      const sock = tls.connect({ host: "127.0.0.1", port: (listener.address as [string, number])[1] });
      sock.on("error", (err: Error & { code?: string }) => resolve(err.code ?? "?"));
    });
    assert.match(await within(rejected), /SELF_SIGNED|UNABLE_TO_VERIFY/);
    listener.close();
    // Node reports the listener closed only once every socket it accepted is gone.
    await within(closed, 3000, "the listener to close");
    assert.equal(connections, 0);
  });
});
