/**
 * `asyncore chat` as a real child process (`node dist/cli/main.js chat`), driven by several
 * loopback clients: nicknames, broadcast, /who, /nick, /quit, the line limit, and a clean
 * shutdown on SIGTERM and SIGINT.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import * as net from "node:net";
import { dirname, join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

/** The checkout holding this test: the nearest package.json named asyncore-ts above the test or cwd. */
function findRepoRoot(): string {
  for (const start of [here, process.cwd()]) {
    for (let dir = start; ; dir = dirname(dir)) {
      const pkg = join(dir, "package.json");
      if (existsSync(pkg) && JSON.parse(readFileSync(pkg, "utf8")).name === "asyncore-ts") return dir;
      if (dirname(dir) === dir) break;
    }
  }
  throw new Error(`Cannot find the asyncore-ts checkout above ${here} or ${process.cwd()}`);
}

const mainJs = join(findRepoRoot(), "dist/cli/main.js");
const WAIT_MS = 5000;

/** A running `asyncore chat` child. */
interface ChatProcess {
  child: ChildProcess;
  port: number;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running: ChatProcess[] = [];
const clients: ChatClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  for (const p of running.splice(0)) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
    await p.exited;
  }
});

/** Start `asyncore chat --port 0 ...args` and wait for its `listening on` line. */
async function startChat(args: string[] = []): Promise<ChatProcess> {
  const child = spawn(process.execPath, [mainJs, "chat", "--port", "0", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stderr!.on("data", (d) => {
    err += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const proc = { child, port: 0, stderr: () => err, exited };
  running.push(proc);
  proc.port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no 'listening on' line; stderr: ${err}`)), WAIT_MS);
    child.stdout!.on("data", (d) => {
      out += d;
      const m = /^listening on 127\.0\.0\.1:(\d+)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once("exit", () => {
      clearTimeout(timer);
      reject(new Error(`chat exited early; stderr: ${err}`));
    });
  });
  return proc;
}

/** A line-oriented loopback client that records every line it receives. */
class ChatClient {
  readonly lines: string[] = [];
  ended = false;
  #cursor = 0;
  #partial = "";
  #wake: (() => void) | undefined;
  readonly #sock: net.Socket;

  private constructor(sock: net.Socket) {
    this.#sock = sock;
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => {
      const parts = (this.#partial + d).split("\n");
      this.#partial = parts.pop()!;
      this.lines.push(...parts);
      this.#wake?.();
    });
    sock.on("end", () => {
      this.ended = true;
      this.#wake?.();
    });
    sock.on("error", () => {
      this.ended = true;
      this.#wake?.();
    });
  }

  static async connect(port: number, nick?: string): Promise<ChatClient> {
    const sock = net.connect(port, "127.0.0.1");
    await new Promise<void>((resolve, reject) => {
      sock.once("connect", resolve);
      sock.once("error", reject);
    });
    const client = new ChatClient(sock);
    clients.push(client);
    await client.expect(/^\* welcome/);
    if (nick !== undefined) {
      client.send(`${nick}\n`);
      await client.expect(`* you are ${nick}; /who lists users, /nick NAME renames, /quit leaves`);
    }
    return client;
  }

  send(text: string | Buffer): void {
    this.#sock.write(text);
  }

  /** The next line (after those already expected) equal to or matching `what`. */
  async expect(what: string | RegExp): Promise<string> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      for (let i = this.#cursor; i < this.lines.length; i++) {
        const line = this.lines[i]!;
        if (typeof what === "string" ? line === what : what.test(line)) {
          this.#cursor = i + 1;
          return line;
        }
      }
      if (this.ended) break;
      const left = deadline - Date.now();
      if (left <= 0) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    assert.fail(
      `expected a line ${String(what)}; got ${JSON.stringify(this.lines)}${this.ended ? " and EOF" : ""}`,
    );
  }

  /** Wait for the server to close the connection. */
  async expectEnd(): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    while (!this.ended && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.ok(this.ended, "the server closed the connection");
  }

  destroy(): void {
    this.#sock.destroy();
  }
}

function cli(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [mainJs, ...args], { timeout: 10_000 }, (err, stdout, stderr) => {
      const status = err ? (err as { code?: unknown }).code : 0;
      if (typeof status !== "number") reject(err);
      else resolve({ status, stdout, stderr });
    });
  });
}

describe("asyncore chat (CLI)", () => {
  it("is built", () => assert.ok(existsSync(mainJs), `${mainJs} is missing: run npm run build`));

  it("prints its help, and exits 2 on bad usage", async () => {
    const help = await cli(["chat", "--help"]);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage: asyncore chat \[--host H\] \[--port P\] \[--max-line BYTES\]/);
    assert.match(help.stdout, /--max-line BYTES/);
    const bad = await cli(["chat", "--max-line", "0"]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /asyncore chat: Invalid --max-line/);
  });

  it("joins, broadcasts, lists, renames and quits", async () => {
    const chat = await startChat();
    const alice = await ChatClient.connect(chat.port, "alice");
    const bob = await ChatClient.connect(chat.port, "bob");
    await alice.expect("* bob joined");
    const carol = await ChatClient.connect(chat.port);
    carol.send("/nick carol\r\n");
    await carol.expect(/^\* you are carol;/);
    await alice.expect("* carol joined");
    await bob.expect("* carol joined");

    alice.send("hello, everyone\n");
    await bob.expect("<alice> hello, everyone");
    await carol.expect("<alice> hello, everyone");

    bob.send("/who\n");
    await bob.expect("* users: alice, bob, carol");

    carol.send("/nick caroline\n");
    await carol.expect("* carol is now caroline");
    await alice.expect("* carol is now caroline");
    await bob.expect("* carol is now caroline");

    bob.send("/quit\n");
    await bob.expect("* goodbye");
    await bob.expectEnd();
    await alice.expect("* bob left");
    await carol.expect("* bob left");

    alice.send("/who\n");
    await alice.expect("* users: alice, caroline");
    assert.ok(!alice.lines.some((l) => l.startsWith("<alice>")), "no echo of one's own messages");
  });

  it("refuses taken and malformed nicknames, and unknown commands", async () => {
    const chat = await startChat();
    await ChatClient.connect(chat.port, "dave");
    const other = await ChatClient.connect(chat.port);
    other.send("dave\n");
    await other.expect("error: nickname dave is taken");
    other.send("not a nick\n");
    await other.expect(/^error: a nickname is 1-32 letters/);
    other.send("/dance\n");
    await other.expect("error: unknown command /dance (try /who, /nick NAME, /quit)");
    other.send("dave2\n");
    await other.expect(/^\* you are dave2;/);
  });

  it("disconnects a line over --max-line with a message while the others go on", async () => {
    const chat = await startChat(["--max-line", "64"]);
    const alice = await ChatClient.connect(chat.port, "alice");
    const bob = await ChatClient.connect(chat.port, "bob");
    const mallory = await ChatClient.connect(chat.port, "mallory");
    mallory.send(`${"x".repeat(64)}\r\n`); // exactly the limit: accepted
    await alice.expect(`<mallory> ${"x".repeat(64)}`);
    // One megabyte without a line end: cut off after the limit, not buffered to the end.
    mallory.send(Buffer.alloc(1024 * 1024, "y"));
    await mallory.expect("error: line too long (max 64 bytes)");
    await mallory.expectEnd();
    await alice.expect("* mallory left");
    await bob.expect("* mallory left");
    alice.send("still here\n");
    await bob.expect("<alice> still here");
    assert.ok(!bob.lines.some((l) => l.includes("yyy")), "nothing of the long line was relayed");
    assert.match(chat.stderr(), /mallory: line over 64 bytes, disconnecting/);
  });

  it("tells every user on SIGTERM, closes them and exits 0", async () => {
    const chat = await startChat();
    const alice = await ChatClient.connect(chat.port, "alice");
    const bob = await ChatClient.connect(chat.port, "bob");
    const lurker = await ChatClient.connect(chat.port); // connected, no nickname yet
    await alice.expect("* bob joined");
    chat.child.kill("SIGTERM");
    for (const c of [alice, bob, lurker]) {
      await c.expect("* server shutting down");
      await c.expectEnd();
    }
    assert.deepEqual(await chat.exited, { code: 0, signal: null });
    assert.ok(!alice.lines.includes("* bob left"), "no leave notices during shutdown");
  });

  it("exits 0 on SIGINT too", async () => {
    const chat = await startChat();
    const alice = await ChatClient.connect(chat.port, "alice");
    chat.child.kill("SIGINT");
    await alice.expect("* server shutting down");
    await alice.expectEnd();
    assert.deepEqual(await chat.exited, { code: 0, signal: null });
  });
});
