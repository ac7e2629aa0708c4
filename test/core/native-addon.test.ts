/**
 * The native addon's own safety and the backend's selection: handles used after close
 * (`EBADF`), misuse that throws instead of crashing, handles collected by the garbage collector
 * (idle ones close their descriptor; polled ones stay alive and keep serving), a real `EMFILE`
 * in a child process with a low descriptor limit, and `ASYNCORE_BACKEND`. Skipped when the addon
 * is not built (except the selection cases that need no addon).
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import * as net from "node:net";
import * as readline from "node:readline";
import { after, before, describe, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as v8 from "node:v8";
import * as vm from "node:vm";
import {
  addon,
  assertDescriptors,
  delay,
  native,
  openSockets,
  skipUnlessBuilt,
  until,
} from "./native-helpers.js";

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

/** Collect until `done()` or give up after a few rounds (finalizers run after a turn). */
async function collectUntil(done: () => boolean): Promise<void> {
  for (let i = 0; i < 20 && !done(); i++) {
    gc();
    await delay(10);
  }
}

let socketsAtStart = 0;

describe("native addon: safety", { skip: skipUnlessBuilt }, () => {
  const a = addon!;
  before(() => {
    socketsAtStart = openSockets();
  });
  after(async () => {
    assert.equal(a.openCount(), 0, "the addon still holds descriptors");
    await assertDescriptors(socketsAtStart);
  });

  test("a closed handle answers EBADF and never crashes; misuse throws TypeErrors", () => {
    const h = a.open(a.AF_INET, a.SOCK_STREAM);
    assert.notEqual(typeof h, "number");
    if (typeof h === "number") return;
    assert.ok(h.fd() > 2);
    assert.equal(h.bind("not an address", 1), -22, "EINVAL");
    assert.equal(h.setOption("nodelay", true), 0);
    h.close();
    h.close();
    assert.equal(h.fd(), -1);
    assert.equal(h.write(Buffer.from("x")), -9, "EBADF");
    assert.equal(h.writev([Buffer.from("x")], 0), -9);
    assert.equal(h.setInterest(a.READABLE), -9);
    assert.equal(h.setInterest(0), 0);
    assert.equal(h.accept(), -9);
    assert.equal(h.shutdown(), -9);
    assert.equal(h.connect("127.0.0.1", 1), -9);
    assert.equal(h.soError(), 9);
    assert.equal(h.sockname(), undefined);
    assert.equal(h.detach(), -9);
    const write = Object.getPrototypeOf(h).write as (this: unknown, b: Buffer) => number;
    assert.throws(() => write.call({}, Buffer.alloc(1)), TypeError);
    const other = a.open(a.AF_INET, a.SOCK_STREAM) as typeof h;
    assert.throws(() => other.write("text" as unknown as Buffer), TypeError);
    assert.throws(() => other.writev("text" as unknown as Buffer[], 0), TypeError);
    assert.throws(() => other.setInterest("1" as unknown as number), TypeError);
    // Reads and writes name the socket by the handle's id, which cannot be changed or made up.
    assert.equal(typeof other.id, "number");
    assert.notEqual(other.id, h.id, "two live handles, two ids");
    assert.throws(() => {
      (other as { id: number }).id = h.id;
    }, TypeError);
    const exported = a as unknown as { write(id: number, data: Buffer, offset: number): number };
    assert.throws(() => exported.write(2 ** 31, Buffer.alloc(1), 0), TypeError);
    assert.throws(() => exported.write(-1, Buffer.alloc(1), 0), TypeError);
    assert.equal(exported.write(h.id, Buffer.alloc(1), 0), -9, "the closed handle's own id: EBADF");
    assert.equal(other.bind("/tmp/x", 0), -22, "a path on an IP socket");
    assert.equal(other.listen(8), 0);
    assert.equal(other.accept(), -a.EAGAIN);
    other.close();
  });

  test("a read area that is not a Buffer or has less than MIN_READ_SIZE free is refused", () => {
    const refused = { name: "TypeError", code: "ERR_INVALID_ARG_TYPE" };
    assert.throws(() => a.setReadBuffer("text" as unknown as Buffer), refused);
    assert.throws(() => a.setReadBuffer(Buffer.alloc(a.MIN_READ_SIZE - 1)), refused);
    assert.throws(() => a.setReadBuffer(Buffer.alloc(a.MIN_READ_SIZE), 1), refused);
    assert.throws(() => a.setReadBuffer(Buffer.alloc(a.MIN_READ_SIZE), -1), refused);
  });

  test("unreachable idle handles are collected and their descriptors closed", async () => {
    const before = a.openCount();
    const fds = openSockets();
    (() => {
      for (let i = 0; i < 50; i++) a.open(i % 2 ? a.AF_INET6 : a.AF_UNIX, a.SOCK_STREAM);
    })();
    assert.equal(a.openCount(), before + 50);
    await collectUntil(() => a.openCount() === before);
    assert.equal(a.openCount(), before);
    assert.equal(openSockets(), fds);
  });

  test("dropped unstarted connections are collected (peers see EOF); polled ones keep serving", async () => {
    const backend = native!;
    let accepted = 0;
    const listener = await backend.listen(
      ["127.0.0.1", 0],
      {},
      {
        onConnection(conn) {
          accepted++;
          // The first three are dropped unstarted; the rest echo with no outside reference.
          if (accepted <= 3) return;
          conn.start({
            onData: (c) => conn.write(c),
            onEnd: () => conn.close(),
            onWritePaused() {},
            onWriteResumed() {},
            onClose() {},
          });
        },
        onAcceptError: (err) => assert.fail(err),
        onClose() {},
      },
    );
    const [host, port] = listener.address as [string, number];
    const ends: Promise<string>[] = [];
    const clients: net.Socket[] = [];
    for (let i = 0; i < 4; i++) {
      const s = net.connect(port, host);
      clients.push(s);
      let got = "";
      s.on("data", (d: Buffer) => {
        got += d.toString();
      });
      s.on("error", () => {});
      ends.push(new Promise<string>((r) => s.on("close", () => r(got))));
      await until(() => accepted === i + 1, "accept");
    }
    const held = a.openCount();
    await collectUntil(() => a.openCount() <= held - 3);
    assert.equal(a.openCount(), held - 3, "the dropped connections were not collected");
    for (let i = 0; i < 3; i++) assert.equal(await ends[i], "", "a dropped connection's peer sees EOF");
    clients[3]!.end("still here");
    assert.equal(await ends[3], "still here");
    listener.close();
  });

  test("EMFILE: reported once, clients wait in the backlog, all served once descriptors free", async () => {
    const script = fileURLToPath(new URL("../fixtures/native-emfile-listener.js", import.meta.url));
    const child = spawn("bash", ["-c", `ulimit -n 48 && exec "${process.execPath}" "${script}"`], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const seen: string[] = [];
    readline.createInterface({ input: child.stdout }).on("line", (l) => seen.push(l));
    const line = async (re: RegExp): Promise<string> => {
      await until(() => seen.some((l) => re.test(l)), `a line ${re}`, 10_000);
      return seen.find((l) => re.test(l))!;
    };
    const clients: net.Socket[] = [];
    try {
      const [, host, port] = /^listening on (.+):(\d+)$/.exec(await line(/^listening on /))!;
      for (let i = 0; i < 80 && !seen.some((l) => l.startsWith("accept-error")); i++) {
        const s = net.connect(Number(port), host!);
        s.on("error", () => {});
        clients.push(s);
        await delay(5);
      }
      assert.match(await line(/^accept-error /), /^accept-error (EMFILE|ENFILE)$/);
      // This client waits in the kernel's backlog, not dropped.
      const waiting = net.connect(Number(port), host!, () => waiting.write("waited"));
      let got = "";
      waiting.on("data", (d: Buffer) => {
        got += d.toString();
      });
      waiting.on("error", () => {});
      clients.push(waiting);
      await delay(150);
      assert.equal(got, "", "served while the table was full");
      child.stdin.write("free\n");
      await line(/^freed \d+$/);
      await until(() => got === "waited", "the waiting client's echo", 5000);
      child.stdin.write("quit\n");
      for (const s of clients) s.destroy();
      const code = await new Promise<number | null>((r) =>
        child.exitCode !== null ? r(child.exitCode) : child.on("exit", r),
      );
      assert.equal(code, 0);
    } finally {
      for (const s of clients) s.destroy();
      if (child.exitCode === null) child.kill();
    }
  });
});

describe("backend selection (ASYNCORE_BACKEND)", () => {
  const core = pathToFileURL(fileURLToPath(new URL("../../src/core/index.js", import.meta.url))).href;
  /** What `backendName()` gives in a fresh process with `env`, or the error code it throws. */
  const select = (env: Record<string, string>): string => {
    const code = `import(${JSON.stringify(core)}).then((m) => { try { console.log(m.backendName()); } catch (e) { console.log(e.code); } });`;
    const clean = { ...process.env };
    delete clean.ASYNCORE_BACKEND;
    delete clean.ASYNCORE_NATIVE_ADDON;
    return execFileSync(process.execPath, ["--input-type=module", "-e", code], {
      env: { ...clean, ...env },
      encoding: "utf8",
    }).trim();
  };

  test("net is chosen by name, or by default where the addon is missing", () => {
    assert.equal(select({ ASYNCORE_BACKEND: "net" }), "net");
    assert.equal(select({ ASYNCORE_NATIVE_ADDON: "/nonexistent/addon.node" }), "net");
  });

  test("native asked for but unavailable is ERR_BACKEND_UNAVAILABLE; an unknown name is refused", () => {
    assert.equal(
      select({ ASYNCORE_BACKEND: "native", ASYNCORE_NATIVE_ADDON: "/nonexistent/addon.node" }),
      "ERR_BACKEND_UNAVAILABLE",
    );
    assert.equal(select({ ASYNCORE_BACKEND: "uring" }), "ERR_INVALID_ARG_VALUE");
  });

  test("native is the default where the addon is built", { skip: skipUnlessBuilt }, () => {
    assert.equal(select({}), "native");
    assert.equal(select({ ASYNCORE_BACKEND: "native" }), "native");
  });
});
