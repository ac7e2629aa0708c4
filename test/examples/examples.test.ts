/**
 * Every example runs as a real process and does what its comment says.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import * as net from "node:net";
import * as readline from "node:readline";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const example = (name: string): string =>
  fileURLToPath(new URL(`../../examples/${name}.js`, import.meta.url));

/** Start a server example and resolve with its port once it prints `listening on`. */
async function startServer(name: string): Promise<[ChildProcess, number, string[]]> {
  const child = spawn(process.execPath, [example(name)], { stdio: ["ignore", "pipe", "inherit"] });
  const lines: string[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).on("line", (line) => {
      lines.push(line);
      const m = /^listening on 127\.0\.0\.1:(\d+)$/.exec(line);
      if (m) resolve(Number(m[1]));
    });
    child.once("exit", (code) => reject(new Error(`${name} exited early with ${code}`)));
  });
  return [child, port, lines];
}

async function stop(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  child.kill("SIGINT");
  return exited;
}

function run(args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.on("exit", (code) => resolve({ code, stdout }));
  });
}

test("echo-server echoes and hello-client prints the reply", async () => {
  const [server, port, lines] = await startServer("echo-server");
  try {
    const client = await run([example("hello-client"), String(port)]);
    assert.equal(client.code, 0);
    assert.deepEqual(client.stdout.trim().split("\n"), ["connected", 'received: "Hello\\r\\n"']);
    assert.ok(lines.some((l) => /^incoming connection from 127\.0\.0\.1:\d+$/.test(l)));
  } finally {
    assert.equal(await stop(server), 0);
  }
});

test("buffered-handler answers each line with its length and closes on bye", async () => {
  const [server, port] = await startServer("buffered-handler");
  try {
    const reply = await new Promise<string>((resolve, reject) => {
      const s = net.connect(port, "127.0.0.1", () => s.write("spam\r\neggs and ham\nbye\n"));
      let got = "";
      s.on("data", (d: Buffer) => {
        got += d.toString();
      });
      s.on("end", () => resolve(got));
      s.on("error", reject);
    });
    assert.equal(reply, "4\r\n12\r\ngoodbye\r\n");
  } finally {
    assert.equal(await stop(server), 0);
  }
});
