/**
 * Peers and guards for the reliability tests: plain `node:net` clients that check every echoed
 * byte, deadlines that fail a stuck test instead of hanging it, and a watch on unhandled
 * rejections. No side effects at import time (the test runner may load this file as a test).
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import * as net from "node:net";
import { afterEach, beforeEach } from "node:test";
import { assertNoLeakedHandles, openSocketHandles } from "../support/resources.js";

/** Reject when `promise` does not settle within `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Wait until `check()` holds, polling every 5 ms; fail after `ms`. */
export async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A deterministic pseudo-random generator (mulberry32) in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` pseudo-random bytes from `seed`. */
export function pattern(n: number, seed: number): Buffer {
  const next = rng(seed);
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) out[i] = (next() * 256) | 0;
  return out;
}

/**
 * Watch for unhandled rejections and uncaught exceptions while a test runs; `check()` asserts
 * there were none and stops watching.
 */
export function watchProcess(): { check(): void } {
  const seen: unknown[] = [];
  const onRejection = (reason: unknown): void => {
    seen.push(reason);
  };
  process.on("unhandledRejection", onRejection);
  return {
    check() {
      process.off("unhandledRejection", onRejection);
      assert.deepEqual(seen.map(String), [], "unhandled rejections");
    },
  };
}

/**
 * Connect, send `payload` (in one write), half-close, and check that exactly `payload` comes
 * back before the server closes. Resolves with the echo; rejects on any difference or error.
 */
export function echoOnce(port: number, payload: Buffer, ms = 10_000): Promise<Buffer> {
  const done = new Promise<Buffer>((resolve, reject) => {
    const sock = net.connect({ port, host: "127.0.0.1" });
    const parts: Buffer[] = [];
    let got = 0;
    sock.on("connect", () => sock.end(payload));
    sock.on("data", (d: Buffer) => {
      if (got + d.length > payload.length || !d.equals(payload.subarray(got, got + d.length))) {
        sock.destroy();
        reject(new Error(`echo differs at byte ${got}`));
        return;
      }
      parts.push(d);
      got += d.length;
    });
    sock.on("error", reject);
    sock.on("close", () => {
      if (got === payload.length) resolve(Buffer.concat(parts));
      else reject(new Error(`closed after ${got} of ${payload.length} echoed bytes`));
    });
  });
  return within(done, ms, "an echo");
}

const outputs = new WeakMap<net.Socket, Promise<Buffer>>();

/**
 * Connect and resolve once connected. What the socket receives is collected from the start
 * (see {@link collectUntilClose}); errors after connecting are ignored (tests watch `close`).
 */
export function connected(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: "127.0.0.1" });
    collectUntilClose(sock);
    sock.once("error", reject);
    sock.once("connect", () => {
      sock.off("error", reject);
      sock.on("error", () => {});
      resolve(sock);
    });
  });
}

/** Resolves with what the socket received once it closes (collected since the first call). */
export function collectUntilClose(sock: net.Socket): Promise<Buffer> {
  let out = outputs.get(sock);
  if (out === undefined) {
    const parts: Buffer[] = [];
    sock.on("data", (d: Buffer) => parts.push(d));
    out = new Promise((resolve) => sock.once("close", () => resolve(Buffer.concat(parts))));
    outputs.set(sock, out);
  }
  return out;
}

/** Open file descriptors of this process (Linux), or -1 where /proc is missing. */
export function openDescriptors(): number {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return -1;
  }
}

/**
 * Wait until this process has no more descriptors open than at `start` (plus `slack` for ones
 * Node opens lazily, such as the first DNS lookup's), or fail: catches sockets left open on
 * any backend, not only Node's own handles.
 */
export async function assertNoLeakedDescriptors(start: number, slack = 3, withinMs = 3000): Promise<void> {
  if (start < 0) return;
  const deadline = Date.now() + withinMs;
  while (openDescriptors() > start + slack && Date.now() < deadline) await delay(10);
  const now = openDescriptors();
  assert.ok(now <= start + slack, `descriptors left open: ${now}, ${start} at the start`);
}

/**
 * Check around every test of the calling file: no unhandled rejection or uncaught exception,
 * no socket handle and no descriptor left open.
 */
export function guardEachTest(): void {
  let handlesAtStart = 0;
  let descriptorsAtStart = 0;
  let guard: ReturnType<typeof watchProcess>;
  beforeEach(() => {
    handlesAtStart = openSocketHandles();
    descriptorsAtStart = openDescriptors();
    guard = watchProcess();
  });
  afterEach(async () => {
    guard.check();
    await assertNoLeakedHandles(handlesAtStart);
    await assertNoLeakedDescriptors(descriptorsAtStart);
  });
}
