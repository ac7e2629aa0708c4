/**
 * The native backend's UDP endpoints on loopback (IPv4 and IPv6): datagrams with their senders,
 * connected sends, an ICMP refusal reported without closing, close reported once, and no
 * descriptor left open. Skipped when the addon is not built.
 */
import assert from "node:assert/strict";
import * as dgram from "node:dgram";
import { after, before, describe, test } from "node:test";
import type { Address } from "../../src/address.js";
import type { DatagramEvents } from "../../src/core/backend.js";
import { addon, assertDescriptors, native, openSockets, skipUnlessBuilt, until } from "./native-helpers.js";

class DatagramLog implements DatagramEvents {
  readonly messages: Array<[string, Address]> = [];
  readonly errors: Error[] = [];
  closes = 0;
  onMessage(data: Buffer, from: Address): void {
    this.messages.push([data.toString(), from]);
  }
  onError(err: Error): void {
    this.errors.push(err);
  }
  onClose(): void {
    this.closes++;
  }
}

let socketsAtStart = 0;

describe("native backend: datagrams", { skip: skipUnlessBuilt }, () => {
  const backend = native!;
  before(() => {
    socketsAtStart = openSockets();
  });
  after(async () => {
    assert.equal(addon!.openCount(), 0, "the addon still holds descriptors");
    await assertDescriptors(socketsAtStart);
  });

  for (const [family, host] of [
    [4, "127.0.0.1"],
    [6, "::1"],
  ] as const) {
    test(`IPv${family}: sendto/receive with senders, connect and send, close once`, async () => {
      const aLog = new DatagramLog();
      const bLog = new DatagramLog();
      const a = backend.datagram(family, aLog);
      const b = backend.datagram(family, bLog);
      assert.equal(a.backend, "native");
      assert.equal(a.raw, a);
      assert.equal(a.localAddress, undefined, "not bound yet");
      const aAddr = (await a.bind([host, 0])) as [string, number];
      const bAddr = (await b.bind([host, 0])) as [string, number];
      assert.equal(aAddr[0], host);
      assert.ok(aAddr[1] > 0);
      b.send(Buffer.from("one"), aAddr);
      b.send(Buffer.from("two"), aAddr);
      await until(() => aLog.messages.length === 2, "two datagrams");
      assert.deepEqual(aLog.messages, [
        ["one", bAddr],
        ["two", bAddr],
      ]);
      await a.connect(bAddr);
      assert.deepEqual(a.remoteAddress, bAddr);
      a.send(Buffer.from("back"));
      await until(() => bLog.messages.length === 1, "the reply");
      assert.deepEqual(bLog.messages[0], ["back", aAddr]);
      a.close();
      a.close();
      assert.equal(a.closed, true);
      assert.throws(() => a.send(Buffer.from("late"), bAddr), { code: "ERR_SOCKET_CLOSED" });
      b.close();
      await until(() => aLog.closes === 1 && bLog.closes === 1, "closes");
      assert.deepEqual(aLog.errors, []);
    });
  }

  test("a connected endpoint whose peer is gone reports ECONNREFUSED and stays open", async () => {
    const gone = dgram.createSocket("udp4");
    await new Promise<void>((r) => gone.bind(0, "127.0.0.1", r));
    const port = gone.address().port;
    await new Promise<void>((r) => gone.close(() => r()));
    const log = new DatagramLog();
    const ep = backend.datagram(4, log);
    await ep.connect(["127.0.0.1", port]);
    ep.send(Buffer.from("anyone?"));
    await until(() => log.errors.length > 0, "the refusal");
    assert.equal((log.errors[0] as Error & { code?: string }).code, "ECONNREFUSED");
    assert.equal(ep.closed, false);
    // Still usable: a listener at that port now gets the next datagram.
    const back = dgram.createSocket("udp4");
    const got = new Promise<string>((r) => back.once("message", (m) => r(m.toString())));
    await new Promise<void>((r) => back.bind(port, "127.0.0.1", r));
    ep.send(Buffer.from("now?"));
    assert.equal(await got, "now?");
    back.close();
    ep.close();
    await until(() => log.closes === 1, "close");
  });

  test("bind errors reject with the system error; a path is refused", async () => {
    const log = new DatagramLog();
    const a = backend.datagram(4, log);
    const taken = (await a.bind(["127.0.0.1", 0])) as [string, number];
    const b = backend.datagram(4, log);
    await assert.rejects(b.bind(taken), { code: "EADDRINUSE" });
    await assert.rejects(b.bind("/tmp/x.sock"), { code: "ERR_BAD_SOCKET" });
    a.close();
    b.close();
    await until(() => log.closes === 2, "closes");
  });
});
