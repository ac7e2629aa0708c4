// A small workout of every path of the native addon, straight on its handles, for memory
// checking (docs/benchmarks/native.md has the command):
//
//   valgrind --leak-check=full --error-exitcode=1 node native/valgrind-smoke.mjs
//
// TCP and Unix echo with writev, partial writes and EOF both ways, closing from inside a read
// callback, a refused connect, a reset, notify mode (recv, recvInto, EOF, reset), UDP, handles used
// after close, and idle handles left to the garbage collector (their ids then name nothing). The
// hot functions are called as the addon exports them, with the handle's id first. Prints `ok`
// and exits 0 when every check held.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc");
const require = createRequire(import.meta.url);
const a = require(process.env.ASYNCORE_NATIVE_ADDON ?? "../build/Release/asyncore_native.node");
// Reads land in a read area of ours; every few reads it moves, to a new buffer or further on.
let area = Buffer.alloc(a.MIN_READ_SIZE * 2);
let areaAt = 0;
let reads = 0;
a.init(function dispatch(kind, x, y, z) {
  if (kind === a.EV_DATA) {
    x = Buffer.from(area.subarray(areaAt, areaAt + x));
    if (++reads % 7 === 0) {
      if (areaAt === 0) areaAt = 8;
      else [area, areaAt] = [Buffer.alloc(a.MIN_READ_SIZE + 16), 16];
      a.setReadBuffer(area, areaAt);
    }
  }
  this.owner?.(kind, x, y, z);
}, area);
const tick = () => new Promise((r) => setTimeout(r, 5));
async function until(check, what) {
  for (let i = 0; i < 2000; i++) {
    if (check()) return;
    await tick();
  }
  assert.fail(`timed out: ${what}`);
}

/** A TCP listener on a free loopback port and a client dialling it: [listener, client, host, port]. */
function listenerAndClient() {
  const listener = a.open(a.AF_INET, a.SOCK_STREAM);
  listener.bind("127.0.0.1", 0);
  listener.listen(4);
  const [host, port] = listener.sockname();
  const client = a.open(a.AF_INET, a.SOCK_STREAM);
  client.connect(host, port);
  return [listener, client, host, port];
}

/** Listen, accept one connection, echo it until EOF; resolves with the client handle's log. */
async function echo(domain, host, port) {
  const l = a.open(domain, a.SOCK_STREAM);
  assert.equal(port === undefined ? l.bind(host) : l.bind(host, port), 0);
  assert.equal(l.listen(16), 0);
  const addr = l.sockname();
  let server;
  l.owner = (kind) => {
    if (kind !== a.EV_ACCEPT) return;
    server = l.accept();
    assert.equal(typeof server, "object");
    server.owner = (k, data) => {
      if (k === a.EV_DATA) assert.equal(a.write(server.id, data), data.length);
      if (k === a.EV_EOF) assert.equal(server.shutdown(), 0);
    };
    a.setInterest(server.id, a.READABLE);
    assert.equal(l.accept(), -a.EAGAIN);
  };
  a.setInterest(l.id, a.READABLE);
  const c = a.open(domain, a.SOCK_STREAM);
  const r = typeof addr === "string" ? c.connect(addr) : c.connect(addr[0], addr[1]);
  assert.ok(r === 0 || r === -a.EINPROGRESS);
  const log = { bytes: 0, eof: false };
  const big = Buffer.alloc(3 * 1024 * 1024, 7);
  let sent = 0;
  c.owner = (kind, data) => {
    if (kind === a.EV_WRITABLE) {
      if (sent === 0) {
        assert.equal(c.soError(), 0);
        assert.ok(c.peername() !== undefined);
      }
      sent += Math.max(0, a.writev(c.id, [big.subarray(sent, sent + 1000), big.subarray(sent + 1000)], 0));
      if (sent === big.length) {
        assert.equal(c.shutdown(), 0);
        a.setInterest(c.id, a.READABLE);
      }
    } else if (kind === a.EV_DATA) log.bytes += data.length;
    else if (kind === a.EV_EOF) log.eof = true;
  };
  a.setInterest(c.id, a.READABLE | a.WRITABLE);
  await until(() => log.eof, "echo EOF");
  assert.equal(log.bytes, big.length);
  c.close();
  server.close();
  l.close();
}

const dir = mkdtempSync(join(tmpdir(), "asyncore-vg-"));
try {
  await echo(a.AF_INET, "127.0.0.1", 0);
  await echo(a.AF_INET6, "::1", 0);
  await echo(a.AF_UNIX, join(dir, "s.sock"));

  // A refused connect reports through the poll error path.
  const refused = a.open(a.AF_INET, a.SOCK_STREAM);
  let refusedErr = 0;
  refused.owner = (kind, x) => {
    if (kind === a.EV_ERROR) refusedErr = x;
    else if (kind === a.EV_WRITABLE) refusedErr = refused.soError();
    refused.close();
  };
  refused.connect("127.0.0.1", 1);
  a.setInterest(refused.id, a.WRITABLE);
  await until(() => refusedErr !== 0, "refusal");

  // A reset while reading, closing from inside the callback.
  const [l, c] = listenerAndClient();
  let reset = false;
  c.owner = (kind) => {
    if (kind === a.EV_WRITABLE) {
      a.write(c.id, Buffer.from("unread"));
      a.setInterest(c.id, a.READABLE);
    } else if (kind === a.EV_ERROR || kind === a.EV_EOF) {
      reset = true;
      c.close();
    }
  };
  a.setInterest(c.id, a.WRITABLE);
  let s;
  await until(() => typeof (s = l.accept()) === "object", "accept");
  await tick();
  s.close(); // unread bytes: RST
  await until(() => reset, "reset");
  l.close();

  // Notify mode: readiness reported, the owner reads with recv() and recvInto() by turns (into
  // a plain Uint8Array and into a Buffer's middle), then EOF and a reset.
  {
    const [nl, nc, nh, np] = listenerAndClient();
    let ns;
    await until(() => typeof (ns = nl.accept()) === "object", "accept in notify mode");
    let received = 0;
    let eof = false;
    let turn = 0;
    const plain = new Uint8Array(700);
    const middle = Buffer.alloc(3000).subarray(1000, 1900);
    ns.owner = (kind) => {
      assert.equal(kind, a.EV_READABLE);
      assert.ok(a.unread(ns.id) >= 0);
      const way = turn++ % 3;
      const n = way === 0 ? a.recv(ns.id, 1000) : a.recvInto(ns.id, way === 1 ? plain : middle);
      if (n > 0) {
        const got = way === 0 ? area.subarray(areaAt, areaAt + n) : (way === 1 ? plain : middle).subarray(0, n);
        assert.ok(got.every((b) => b === 1));
        received += n;
      } else if (n === 0) eof = true;
      else assert.equal(n, -a.EAGAIN);
    };
    assert.throws(() => a.recvInto(ns.id, "not memory"), TypeError);
    a.setInterest(ns.id, a.READABLE | a.NOTIFY);
    await tick();
    assert.equal(a.write(nc.id, Buffer.alloc(5000, 1)), 5000);
    assert.equal(nc.shutdown(), 0);
    await until(() => eof, "EOF in notify mode");
    assert.equal(received, 5000);
    ns.close();
    assert.equal(a.recvInto(ns.id, plain), -9); // EBADF once closed
    // A reset: the recv() after the readiness report meets ECONNRESET.
    const rc = a.open(a.AF_INET, a.SOCK_STREAM);
    rc.connect(nh, np);
    let rs;
    await until(() => typeof (rs = nl.accept()) === "object", "second accept");
    let resetErr = 0;
    rs.owner = () => {
      const n = a.recv(rs.id, 100);
      if (n < 0 && n !== -a.EAGAIN) {
        resetErr = n;
        rs.close();
      }
    };
    a.setInterest(rs.id, a.READABLE | a.WRITABLE | a.NOTIFY);
    rc.setOption("linger0", true);
    rc.close();
    await until(() => resetErr !== 0, "reset in notify mode");
    nc.close();
    nl.close();
  }

  // UDP both ways.
  const u1 = a.open(a.AF_INET, a.SOCK_DGRAM);
  const u2 = a.open(a.AF_INET, a.SOCK_DGRAM);
  u1.bind("127.0.0.1", 0);
  u2.bind("127.0.0.1", 0);
  const [, p1] = u1.sockname();
  let got = "";
  u1.owner = (kind, data, host, port) => {
    if (kind === a.EV_MESSAGE) got = `${data}:${host}:${typeof port}`;
  };
  a.setInterest(u1.id, a.READABLE);
  assert.equal(a.sendto(u2.id, Buffer.from("dgram"), "127.0.0.1", p1), 5);
  await until(() => got !== "", "datagram");
  assert.equal(got, "dgram:127.0.0.1:number");
  u1.close();
  u2.close();

  // Used after close; detached; and idle handles left to the collector.
  const dead = a.open(a.AF_INET, a.SOCK_STREAM);
  dead.close();
  assert.equal(a.write(dead.id, Buffer.from("x")), -9);
  const d = a.open(a.AF_INET, a.SOCK_STREAM);
  a.setInterest(d.id, a.READABLE);
  const fd = d.detach();
  assert.ok(fd > 2);
  const ids = (() => {
    const made = [];
    for (let i = 0; i < 20; i++) made.push(a.open(a.AF_INET, a.SOCK_STREAM).id);
    for (const id of made) a.setInterest(id, 0);
    return made;
  })();
  for (let i = 0; i < 10 && a.openCount() > 0; i++) {
    gc();
    await tick();
  }
  assert.equal(a.openCount(), 0);
  // A collected handle's id names no socket any more, nor does a made-up one.
  for (const id of ids) assert.throws(() => a.unread(id), TypeError);
  assert.throws(() => a.write(1e6, Buffer.from("x")), TypeError);
  assert.throws(() => a.write(-1, Buffer.from("x")), TypeError);
  // The detached descriptor is ours to close.
  const { closeSync } = await import("node:fs");
  closeSync(fd);
  console.log("ok");
} finally {
  rmSync(dir, { recursive: true, force: true });
}
