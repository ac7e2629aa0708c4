/**
 * createDatagramEndpoint and UDP transports over IPv4 and IPv6 loopback.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { UdpTransport } from "../../src/protocols/datagram-transport.js";
import type { Address, DatagramProtocol, DatagramTransport } from "../../src/protocols/index.js";
import { createDatagramEndpoint } from "../../src/protocols/index.js";
import { collectReports, deferred, hasIPv6Loopback, within } from "./helpers.js";

/** Records datagram callbacks; `echo` sends each datagram back where it came from. */
class UdpRecorder implements DatagramProtocol {
  readonly events: string[] = [];
  readonly received: Array<[string, Address]> = [];
  readonly errors: Error[] = [];
  transport: DatagramTransport | undefined;
  readonly lost = deferred<Error | null>();
  #waiters: Array<() => void> = [];
  constructor(readonly echo = false) {}
  connectionMade(t: DatagramTransport): void {
    this.events.push("connectionMade");
    this.transport = t;
  }
  datagramReceived(data: Buffer, addr: Address): void {
    this.events.push("datagram");
    this.received.push([data.toString(), addr]);
    if (this.echo) this.transport!.sendto(data, addr);
    this.#wake();
  }
  errorReceived(err: Error): void {
    this.events.push(`error:${(err as Error & { code?: string }).code}`);
    this.errors.push(err);
    this.#wake();
  }
  connectionLost(err: Error | null): void {
    this.events.push(err ? `lost:${(err as Error & { code?: string }).code}` : "lost");
    this.lost.resolve(err);
  }
  /** Resolves once `check()` holds (checked after each datagram or error). */
  until(check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve();
    return within(
      new Promise<void>((resolve) => {
        const wait = () => (check() ? resolve() : this.#waiters.push(wait));
        this.#waiters.push(wait);
      }),
      3000,
      "a datagram",
    );
  }
  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
}

const families = [
  { name: "IPv4", host: "127.0.0.1", skip: false as string | false },
  { name: "IPv6", host: "::1", skip: hasIPv6Loopback() ? false : "no ::1 on this machine" },
];

for (const { name, host, skip } of families) {
  describe(`datagram endpoints over ${name}`, { skip }, () => {
    it("exchange datagrams; callbacks run in order; close() ends with connectionLost(null)", async () => {
      const [server, sp] = await createDatagramEndpoint(() => new UdpRecorder(true), {
        localAddr: [host, 0],
      });
      const serverAddr = server.getExtraInfo("sockname") as [string, number];
      assert.equal(serverAddr[0], host);
      const [client, cp] = await createDatagramEndpoint(() => new UdpRecorder(), { remoteAddr: serverAddr });
      const c = cp as UdpRecorder;
      assert.deepEqual(client.getExtraInfo("peername"), serverAddr);
      client.sendto("one");
      client.sendto(Buffer.from("two"), serverAddr);
      await c.until(() => c.received.length === 2);
      assert.deepEqual(
        c.received.map(([d]) => d),
        ["one", "two"],
      );
      assert.deepEqual(c.received[0]![1], serverAddr);
      const s = sp as UdpRecorder;
      assert.deepEqual(s.received[0]![1], client.getExtraInfo("sockname"));
      client.close();
      server.close();
      assert.equal(await within(c.lost.promise), null);
      assert.equal(await within(s.lost.promise), null);
      assert.deepEqual(c.events, ["connectionMade", "datagram", "datagram", "lost"]);
      assert.deepEqual(s.events, ["connectionMade", "datagram", "datagram", "lost"]);
    });

    it("a connected endpoint reports ECONNREFUSED from a closed port through errorReceived", async () => {
      const [gone] = await createDatagramEndpoint(() => ({}), { localAddr: [host, 0] });
      const port = (gone.getExtraInfo("sockname") as [string, number])[1];
      gone.close();
      const [client, cp] = await createDatagramEndpoint(() => new UdpRecorder(), {
        remoteAddr: [host, port],
      });
      const c = cp as UdpRecorder;
      for (let i = 0; i < 20 && c.errors.length === 0; i++) {
        client.sendto("anyone?");
        await new Promise((r) => setTimeout(r, 10));
      }
      await c.until(() => c.errors.length > 0);
      assert.equal((c.errors[0] as Error & { code: string }).code, "ECONNREFUSED");
      assert.equal((client as UdpTransport).isClosing(), false);
      client.close();
      await within(c.lost.promise);
      assert.equal(c.events[0], "connectionMade");
      assert.equal(c.events.at(-1), "lost");
    });
  });
}

describe("datagram transport", () => {
  it("an unbound, unconnected endpoint sends with an address and binds implicitly", async () => {
    const [server, sp] = await createDatagramEndpoint(() => new UdpRecorder(true), {
      localAddr: ["127.0.0.1", 0],
    });
    const [client, cp] = await createDatagramEndpoint(() => new UdpRecorder(), {});
    assert.equal(client.getExtraInfo("sockname", "unbound"), "unbound");
    assert.throws(() => client.sendto("where to?"), { code: "ENOTCONN" });
    client.sendto("hi", server.getExtraInfo("sockname") as Address);
    const c = cp as UdpRecorder;
    await c.until(() => c.received.length === 1);
    assert.equal(c.received[0]![0], "hi");
    assert.equal((sp as UdpRecorder).received.length, 1);
    client.abort();
    server.close();
    await within(c.lost.promise);
    await within((sp as UdpRecorder).lost.promise);
  });

  it("a connected endpoint refuses another address; a closed one refuses to send", async () => {
    const [server] = await createDatagramEndpoint(() => ({}), { localAddr: ["127.0.0.1", 0] });
    const addr = server.getExtraInfo("sockname") as [string, number];
    const [client, cp] = await createDatagramEndpoint(() => new UdpRecorder(), { remoteAddr: addr });
    assert.throws(() => client.sendto("x", ["127.0.0.1", addr[1] + 1]), { code: "ERR_INVALID_ARG_VALUE" });
    client.close();
    client.close();
    assert.equal((client as UdpTransport).isClosing(), true);
    assert.throws(() => client.sendto("x"), { code: "ERR_SOCKET_CLOSED" });
    await within((cp as UdpRecorder).lost.promise);
    server.close();
  });

  it("a throwing datagramReceived closes that endpoint only, with the error", async () => {
    const { reports } = await collectReports(async () => {
      const bad = new UdpRecorder();
      bad.datagramReceived = () => {
        throw Object.assign(new Error("cannot parse"), { code: "EPARSE" });
      };
      const [server] = await createDatagramEndpoint(() => bad, { localAddr: ["127.0.0.1", 0] });
      const addr = server.getExtraInfo("sockname") as [string, number];
      const [client, cp] = await createDatagramEndpoint(() => new UdpRecorder(), {
        localAddr: ["127.0.0.1", 0],
      });
      client.sendto("x", addr);
      const err = await within(bad.lost.promise);
      assert.equal((err as Error & { code: string }).code, "EPARSE");
      assert.deepEqual(bad.events, ["connectionMade", "lost:EPARSE"]);
      // The other endpoint is untouched.
      client.sendto("self", client.getExtraInfo("sockname") as Address);
      const c = cp as UdpRecorder;
      await c.until(() => c.received.length === 1);
      client.close();
      await within(c.lost.promise);
    });
    assert.deepEqual(
      reports.map((r) => r.message),
      ["Exception in DatagramProtocol.datagramReceived()"],
    );
  });

  it("fails to bind a port in use with EADDRINUSE, and rejects what Node cannot do", async () => {
    const [first] = await createDatagramEndpoint(() => ({}), { localAddr: ["127.0.0.1", 0] });
    const addr = first.getExtraInfo("sockname") as Address;
    let made = 0;
    await assert.rejects(
      createDatagramEndpoint(
        () => {
          made++;
          return {};
        },
        { localAddr: addr },
      ),
      { code: "EADDRINUSE" },
    );
    assert.equal(made, 0);
    first.close();
    await assert.rejects(
      createDatagramEndpoint(() => ({}), { localAddr: "/tmp/x.sock" }),
      { code: "ERR_BAD_SOCKET" },
    );
    await assert.rejects(
      createDatagramEndpoint(() => ({}), { family: 99 }),
      { code: "ERR_INVALID_ARG_VALUE" },
    );
    const reason = new Error("stop");
    await assert.rejects(
      createDatagramEndpoint(() => ({}), { localAddr: ["127.0.0.1", 0], signal: AbortSignal.abort(reason) }),
      (e) => e === reason,
    );
  });

  it("family AF_INET6 (10) with no address makes an IPv6 endpoint", {
    skip: !hasIPv6Loopback(),
  }, async () => {
    const [server, sp] = await createDatagramEndpoint(() => new UdpRecorder(), { localAddr: ["::1", 0] });
    const [client, cp] = await createDatagramEndpoint(() => new UdpRecorder(), { family: 10 });
    client.sendto("v6", server.getExtraInfo("sockname") as Address);
    const s = sp as UdpRecorder;
    await s.until(() => s.received.length === 1);
    assert.equal(s.received[0]![1][0], "::1");
    client.close();
    server.close();
    await within((cp as UdpRecorder).lost.promise);
  });
});
