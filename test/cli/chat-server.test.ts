/**
 * ChatServer in process: what the CLI test cannot easily reach — a user that stops reading is
 * dropped once its unsent output passes `maxPending`, while the sender is unaffected; and bad
 * options are refused.
 */
import assert from "node:assert/strict";
import * as net from "node:net";
import { describe, it } from "node:test";
import { loop } from "../../src/asyncore/index.js";
import { ChatServer } from "../../src/cli/chat-server.js";
import { assertNoLeakedHandles, openSocketHandles } from "../support/resources.js";

/** Connect, join as `nick`, and collect everything received as text. */
async function join(
  port: number,
  nick: string,
): Promise<{ sock: net.Socket; text: () => string; ended: Promise<void> }> {
  const sock = net.connect(port, "127.0.0.1");
  let text = "";
  sock.setEncoding("utf8");
  sock.on("data", (d: string) => {
    text += d;
  });
  const ended = new Promise<void>((resolve) => {
    sock.on("close", () => resolve());
  });
  sock.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    sock.once("connect", resolve);
    sock.once("error", reject);
  });
  sock.write(`${nick}\n`);
  return { sock, text: () => text, ended };
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.ok(check(), "condition not reached in time");
}

describe("ChatServer", () => {
  it("drops a user that does not read once its output passes maxPending", { timeout: 20_000 }, async () => {
    const handles = openSocketHandles();
    const logs: string[] = [];
    const server = await ChatServer.listen(["127.0.0.1", 0], {
      maxPending: 64 * 1024,
      log: (l) => logs.push(l),
    });
    const running = loop({ map: server.map, timeout: 50 });
    const port = (server.addr as [string, number])[1];
    const alice = await join(port, "alice");
    const bob = await join(port, "bob");
    await until(() => alice.text().includes("* bob joined"));
    bob.sock.pause(); // bob stops reading
    const line = `${"z".repeat(4000)}\n`;
    let sent = 0;
    // Bounded: at most 64 MiB; stops as soon as bob is dropped.
    while (sent < 64 * 1024 * 1024 && !alice.text().includes("* bob left")) {
      for (let i = 0; i < 64; i++) alice.sock.write(line);
      sent += 64 * line.length;
      await new Promise((r) => setTimeout(r, 1));
    }
    await until(() => alice.text().includes("* bob left"));
    assert.ok(
      logs.some((l) => l === "dropping bob: output not read"),
      logs.join("\n"),
    );
    assert.deepEqual(server.users(), ["alice"]);
    server.shutdown();
    await running;
    await alice.ended;
    bob.sock.destroy();
    await bob.ended;
    assert.ok(alice.text().endsWith("* server shutting down\n"));
    await assertNoLeakedHandles(handles);
  });

  it("refuses a maxLine or maxPending that is not a positive integer", async () => {
    await assert.rejects(ChatServer.listen(["127.0.0.1", 0], { maxLine: 0 }), {
      code: "ERR_INVALID_ARG_VALUE",
    });
    await assert.rejects(ChatServer.listen(["127.0.0.1", 0], { maxPending: 1.5 }), {
      code: "ERR_INVALID_ARG_VALUE",
    });
  });

  it("rejects with EADDRINUSE when the port is taken, leaving nothing open", async () => {
    const handles = openSocketHandles();
    const first = await ChatServer.listen(["127.0.0.1", 0]);
    const port = (first.addr as [string, number])[1];
    await assert.rejects(ChatServer.listen(["127.0.0.1", port]), { code: "EADDRINUSE" });
    first.shutdown();
    await loop({ map: first.map, timeout: 10 });
    await assertNoLeakedHandles(handles);
  });
});
