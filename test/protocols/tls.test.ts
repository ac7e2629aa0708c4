/**
 * What is particular to TLS transports: no half-close, failed handshakes stay with their
 * client, and upgrading a plain connection in place.
 */
import assert from "node:assert/strict";
import * as net from "node:net";
import { describe, it } from "node:test";
import type { Server } from "../../src/protocols/index.js";
import { createConnection, createServer } from "../../src/protocols/index.js";
import type { StreamTransport } from "../../src/protocols/stream-transport.js";
import { localhostCert, Recorder, recorders, tcpAddress, within } from "./helpers.js";

async function dispose(server: Server): Promise<void> {
  await within(server[Symbol.asyncDispose](), 3000, "the server to close");
}

describe("TLS transports", () => {
  it("ignore eofReceived() returning true: a TLS transport closes on EOF", async () => {
    const serverSide = recorders();
    const server = await createServer(serverSide.create, "127.0.0.1", 0, { tls: localhostCert() });
    const [transport, client] = await createConnection(
      () => new Recorder(),
      ...tcpAddress(server.addresses),
      {
        tls: { ca: localhostCert().cert },
      },
    );
    const remote = await serverSide.nth(0);
    remote.keepOpen = true;
    transport.write("bye");
    await remote.bytes(3);
    transport.close();
    assert.equal(await within(remote.lost.promise), null);
    assert.deepEqual(remote.events, ["connectionMade", "data", "eof", "lost"]);
    await within((client as Recorder).lost.promise);
    await dispose(server);
  });

  it("a failed handshake never reaches the factory and does not disturb other clients", async () => {
    const serverSide = recorders();
    const server = await createServer(serverSide.create, "127.0.0.1", 0, { tls: localhostCert() });
    const [host, port] = tcpAddress(server.addresses);
    const garbage = net.connect(port, host);
    const garbageClosed = new Promise<void>((r) => garbage.on("close", () => r()));
    garbage.on("error", () => {}); // the server may reset it: expected here
    garbage.end("this is not a TLS client hello\r\n\r\n");
    await within(garbageClosed, 3000, "the server to drop the bad client");
    const [transport] = await createConnection(() => new Recorder(), host, port, {
      tls: { ca: localhostCert().cert },
    });
    transport.write("fine");
    assert.equal((await (await serverSide.nth(0)).bytes(4)).toString(), "fine");
    assert.equal(serverSide.made.length, 1);
    transport.close();
    await dispose(server);
  });

  it("startTls() upgrades a plain connection in place, on both ends", async () => {
    const serverSide = recorders();
    const server = await createServer(serverSide.create, "127.0.0.1", 0);
    const [transport, client] = await createConnection(() => new Recorder(), ...tcpAddress(server.addresses));
    const remote = await serverSide.nth(0);
    transport.write("STARTTLS\n");
    await remote.bytes(9);
    assert.equal(transport.canWriteEof(), true);
    const serverUp = (remote.transport as StreamTransport).startTls({ ...localhostCert(), isServer: true });
    const clientUp = (transport as StreamTransport).startTls({
      ca: localhostCert().cert,
      servername: "localhost",
    });
    await within(Promise.all([serverUp, clientUp]), 3000, "both handshakes");
    assert.equal(transport.canWriteEof(), false);
    const cert = transport.getExtraInfo("peercert") as { subject: { CN: string } };
    assert.equal(cert.subject.CN, "localhost");
    transport.write("secret");
    assert.equal((await remote.bytes(15)).toString(), "STARTTLS\nsecret");
    remote.transport!.write("ack");
    assert.equal((await (client as Recorder).bytes(3)).toString(), "ack");
    remote.keepOpen = true; // ignored now that the connection is TLS
    transport.close();
    await within(remote.lost.promise);
    assert.deepEqual(remote.events, ["connectionMade", "data", "eof", "lost"]);
    await assert.rejects((transport as StreamTransport).startTls({}), { code: "ERR_SOCKET_CLOSED" });
    await dispose(server);
  });
});
