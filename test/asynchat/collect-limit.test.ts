/**
 * AsyncChat's `collectLimit`: the default collectIncomingData keeps at most that many bytes
 * while a bytes terminator is set; byte counts and `null` are not limited.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { AsyncChat } from "../../src/asynchat/index.js";
import { LimitOverrunError } from "../../src/errors.js";

function chat(): AsyncChat {
  return new AsyncChat(undefined, new Map());
}

test("the default limit is 1 MiB", () => {
  assert.equal(chat().collectLimit, 1024 * 1024);
});

test("more than collectLimit bytes without the terminator throws LimitOverrunError and drops them", () => {
  const c = chat();
  c.setTerminator("\r\n");
  c.collectLimit = 10;
  c.collectIncomingData(Buffer.alloc(6, "a"));
  c.collectIncomingData(Buffer.alloc(4, "b"));
  assert.throws(
    () => c.collectIncomingData(Buffer.alloc(1, "c")),
    (err: unknown) => {
      assert.ok(err instanceof LimitOverrunError);
      assert.equal(err.code, "ERR_LIMIT_OVERRUN");
      assert.equal(err.consumed, 11);
      assert.match(err.message, /collectLimit \(10 bytes\)/);
      return true;
    },
  );
  assert.equal(c.getData().length, 0, "what was kept is dropped");
  c.collectIncomingData(Buffer.alloc(10, "d"));
  assert.equal(c.getData().toString(), "d".repeat(10), "the count starts again");
});

test("getData() and discardBuffers() reset the count", () => {
  const c = chat();
  c.setTerminator("\n");
  c.collectLimit = 8;
  for (let i = 0; i < 5; i++) {
    c.collectIncomingData(Buffer.alloc(8, "x"));
    assert.equal(c.getData().length, 8);
  }
  c.collectIncomingData(Buffer.alloc(8, "y"));
  c.discardBuffers();
  c.collectIncomingData(Buffer.alloc(8, "z"));
  assert.equal(c.getData().toString(), "z".repeat(8));
});

test("byte counts and null terminators are not limited", () => {
  for (const term of [null, 100, 0]) {
    const c = chat();
    c.setTerminator(term);
    c.collectLimit = 4;
    c.collectIncomingData(Buffer.alloc(50, "n"));
    assert.equal(c.getData().length, 50, `terminator ${term}`);
  }
  const c = chat();
  c.setTerminator("");
  c.collectLimit = 4;
  c.collectIncomingData(Buffer.alloc(50, "e"));
  assert.equal(c.getData().length, 50, "empty bytes collect everything too");
});
