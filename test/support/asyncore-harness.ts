/**
 * Helpers for dispatcher tests: a fresh map per test, a loop that runs until a condition holds,
 * a client that records how it ends, and a teardown that checks nothing leaked.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import type { Address } from "../../src/address.js";
import { closeAll, Dispatcher, loop, type SocketMap } from "../../src/asyncore/index.js";
import { assertNoLeakedHandles, openSocketHandles } from "./resources.js";

/** Run one-iteration loops (10 ms timeout each) until `done()` or `maxIterations`; fail if never. */
export async function loopUntil(map: SocketMap, done: () => boolean, maxIterations = 500): Promise<void> {
  for (let i = 0; i < maxIterations && !done(); i++) {
    if (map.size === 0) break;
    await loop({ timeout: 10, count: 1, map });
  }
  assert.ok(done(), "condition not reached while looping");
}

/** The families the API tests run over: IPv4, IPv6 and Unix-domain sockets. */
export interface Family {
  name: string;
  family: number;
  /** An address to bind a new listener to. */
  addr(): Address;
}

let unixDir: string | undefined;
let unixCount = 0;

/** A fresh Unix socket path in a temp dir removed at exit. */
export function unixPath(): string {
  if (unixDir === undefined) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "asyncore-test-"));
    unixDir = dir;
    process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return path.join(unixDir, `s${process.pid}-${unixCount++}.sock`);
}

/**
 * A per-test context: a fresh map, the open socket handles at the start, and a teardown that
 * asserts the map was emptied by the test and no handle was left open.
 */
export class MapContext {
  readonly map: SocketMap = new Map();
  readonly #handlesAtStart = openSocketHandles();

  async teardown(expectEmpty = true): Promise<void> {
    const leftovers = [...this.map.values()].map(String);
    closeAll(this.map, true);
    if (expectEmpty) assert.deepEqual(leftovers, [], "dispatchers left in the map");
    await assertNoLeakedHandles(this.#handlesAtStart);
  }
}

/** A raw listening socket and a promise of its first accepted connection. */
export async function rawServer(): Promise<{
  server: net.Server;
  addr: Address;
  accepted: Promise<net.Socket>;
}> {
  const server = net.createServer({ allowHalfOpen: true });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as net.AddressInfo;
  const accepted = new Promise<net.Socket>((r) => server.once("connection", r));
  return { server, addr: ["127.0.0.1", port], accepted };
}

/**
 * A client dispatcher that records how it ends: `closes` counts `handleClose()` calls, `errors`
 * holds what reached `handleError()`; either closes it. Connect events are ignored.
 */
export class RecordingClient extends Dispatcher {
  closes = 0;
  errors: unknown[] = [];
  override handleConnect(): void {}
  override handleClose(): void {
    this.closes++;
    this.close();
  }
  override handleError(err: unknown): void {
    this.errors.push(err);
    this.close();
  }
}
