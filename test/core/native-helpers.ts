/**
 * Shared pieces of the native backend's tests: the backend (or why it is skipped), a stream
 * event recorder, waits with deadlines, and descriptor counting for leak checks.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { SocketBackend, StreamConnection, StreamEvents } from "../../src/core/backend.js";
import { addonLoadError, loadAddon, type NativeAddon } from "../../src/core/native-addon.js";
import { nativeBackend } from "../../src/core/native-backend.js";

/** The native backend and its addon, when built. */
export const native: SocketBackend | undefined = nativeBackend();
export const addon: NativeAddon | undefined = loadAddon();

/** `skip` option for `describe`: a clear reason when the addon is not built. */
export const skipUnlessBuilt: string | false =
  native === undefined ? `native addon not built: ${addonLoadError()?.message ?? "unknown"}` : false;

/**
 * Socket descriptors open in this process now (from /proc/self/fd). Only sockets count: the
 * runtime and tools such as valgrind open other files when they like.
 */
export function openSockets(): number {
  let n = 0;
  for (const fd of fs.readdirSync("/proc/self/fd")) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith("socket:")) n++;
    } catch {
      // Closed between the listing and the look (the listing's own descriptor, for one).
    }
  }
  return n;
}

/** Wait until this process has at most `expected` descriptors (closing takes a turn or two), or fail. */
export async function assertDescriptors(expected: number, withinMs = 2000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (openSockets() > expected && Date.now() < deadline) await delay(5);
  if (openSockets() !== expected) assert.fail(`sockets leaked: ${describeDescriptors().join(", ")}`);
}

/** What each open descriptor is (`3 -> socket:[123]`), for failure messages. */
export function describeDescriptors(): string[] {
  return fs.readdirSync("/proc/self/fd").map((fd) => {
    try {
      return `${fd} -> ${fs.readlinkSync(`/proc/self/fd/${fd}`)}`;
    } catch {
      return `${fd} -> ?`;
    }
  });
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolve when `check()` holds, polling every 2 ms; fail after `ms`. */
export async function until(check: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await delay(2);
  }
}

/** A temp dir for Unix socket paths, removed by `remove()`. */
export function tempDir(): { dir: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "asyncore-native-"));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Everything a stream connection reported, in order. */
export class StreamLog implements StreamEvents {
  readonly events: string[] = [];
  readonly chunks: Buffer[] = [];
  received = 0;
  connected = false;
  ended = false;
  closed = false;
  error: Error | null = null;
  /** Called after each chunk is recorded. */
  onChunk: ((chunk: Buffer) => void) | undefined;

  onConnect(): void {
    this.connected = true;
    this.events.push("connect");
  }
  onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.received += chunk.length;
    this.onChunk?.(chunk);
  }
  onEnd(): void {
    this.ended = true;
    this.events.push("end");
  }
  onWritePaused(): void {
    this.events.push("paused");
  }
  onWriteResumed(): void {
    this.events.push("resumed");
  }
  onClose(err: Error | null): void {
    assert.equal(this.closed, false, "onClose reported twice");
    this.closed = true;
    this.error = err;
    this.events.push(err ? `close:${(err as Error & { code?: string }).code}` : "close");
  }
  text(): string {
    return Buffer.concat(this.chunks).toString();
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** Listen on `addr` with `backend`; each accepted connection is started with a new StreamLog. */
export async function listenLogged(
  backend: SocketBackend,
  addr: Parameters<SocketBackend["listen"]>[0],
  onAccept?: (conn: StreamConnection, log: StreamLog) => void,
) {
  const accepted: Array<{ conn: StreamConnection; log: StreamLog }> = [];
  const acceptErrors: Error[] = [];
  let listenerClosed = false;
  const listener = await backend.listen(
    addr,
    {},
    {
      onConnection(conn) {
        const log = new StreamLog();
        conn.start(log);
        accepted.push({ conn, log });
        onAccept?.(conn, log);
      },
      onAcceptError(err) {
        acceptErrors.push(err);
      },
      onClose() {
        listenerClosed = true;
      },
    },
  );
  return { listener, accepted, acceptErrors, isClosed: () => listenerClosed };
}

/** Connect with `backend` and wait for `onConnect`. */
export async function connectLogged(
  backend: SocketBackend,
  addr: Parameters<SocketBackend["connect"]>[0],
): Promise<{ conn: StreamConnection; log: StreamLog }> {
  const log = new StreamLog();
  const conn = backend.connect(addr, {}, log);
  await until(() => log.connected || log.closed, "connect");
  assert.equal(log.error, null, `connect failed: ${log.error?.message}`);
  return { conn, log };
}
