import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { commands, main } from "../../src/cli/main.js";

/** A CommandIO whose output is collected into strings. */
function capture() {
  const out = { stdout: "", stderr: "" };
  const sink = (key: "stdout" | "stderr") =>
    new Writable({
      write(chunk, _enc, done) {
        out[key] += String(chunk);
        done();
      },
    });
  return { out, io: { stdout: sink("stdout"), stderr: sink("stderr") } };
}

describe("asyncore main", () => {
  it("lists every command of the CLI", async () => {
    assert.deepEqual(Object.keys(commands).sort(), ["bench", "chat", "connect", "demo", "echo"]);
    const { out, io } = capture();
    assert.equal(await main(["--help"], io), 0);
    for (const name of Object.keys(commands)) assert.match(out.stdout, new RegExp(`^  ${name} `, "m"));
  });

  it("shows usage on stderr with status 2 without a command", async () => {
    const { out, io } = capture();
    assert.equal(await main([], io), 2);
    assert.match(out.stderr, /^Usage: asyncore <command>/);
  });

  it("rejects an unknown command", async () => {
    const { out, io } = capture();
    assert.equal(await main(["toString"], io), 2);
    assert.match(out.stderr, /unknown command "toString"/);
  });

  it("says which commands are not available yet", async () => {
    for (const [name, entry] of Object.entries(commands)) {
      if (entry.run !== undefined) continue;
      const { out, io } = capture();
      assert.equal(await main([name], io), 1);
      assert.equal(out.stderr, `asyncore ${name}: not available yet\n`);
    }
  });

  it("dispatches bench with the remaining arguments", async () => {
    const { out, io } = capture();
    assert.equal(await main(["bench", "--help"], io), 0);
    assert.match(out.stdout, /^Usage: asyncore bench/);
    const bad = capture();
    assert.equal(await main(["bench", "--duration", "-5"], bad.io), 2);
    assert.match(bad.out.stderr, /asyncore bench: /);
  });
});
