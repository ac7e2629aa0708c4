import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { EchoServerProcess } from "../../src/cli/echo-server-process.js";

const script = join(dirname(fileURLToPath(import.meta.url)), "../../bench/servers/chat-echo.js");

/** Start chat-echo.js with CHAT_ECHO_FRAME=frame and connect to it. */
async function start(
  frame: string,
): Promise<{ server: EchoServerProcess; sock: net.Socket; got: () => string }> {
  const server = await EchoServerProcess.start({
    argv: [process.execPath, script],
    env: { CHAT_ECHO_FRAME: frame },
  });
  const { host, port } = server.target;
  const sock = net.connect({ host: host!, port: port!, noDelay: true });
  await once(sock, "connect");
  let text = "";
  sock.setEncoding("latin1").on("data", (d: string) => {
    text += d;
  });
  return { server, sock, got: () => text };
}

/** Wait until `check()` holds, for at most 2 s. */
async function until(check: () => boolean): Promise<void> {
  const end = Date.now() + 2000;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check(), "timed out");
}

describe("bench/servers/chat-echo.js", () => {
  it("frames on line ends with CHAT_ECHO_FRAME=lines: whole lines come back, with their \\n", async () => {
    const { server, sock, got } = await start("lines");
    try {
      sock.write("ab");
      sock.write("c\nde");
      await until(() => got() === "abc\n");
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(got(), "abc\n", "a partial line was echoed");
      sock.write("f\n\nlast\n");
      await until(() => got() === "abc\ndef\n\nlast\n");
      // Lines longer than a read, and than Node's buffer pool takes.
      const long = "x".repeat(200_000);
      sock.write(`${long}\n${long.slice(0, 5000)}`);
      sock.write(`\nend\n`);
      await until(() => got() === `abc\ndef\n\nlast\n${long}\n${long.slice(0, 5000)}\nend\n`);
    } finally {
      sock.destroy();
      await server.stop();
    }
  });

  it("echoes every chunk unframed without CHAT_ECHO_FRAME", async () => {
    const { server, sock, got } = await start("");
    try {
      sock.write("no line end");
      await until(() => got() === "no line end");
    } finally {
      sock.destroy();
      await server.stop();
    }
  });
});
