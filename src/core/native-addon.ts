/**
 * Loading the native readiness addon (`build/Release/asyncore_native.node`, built from
 * `native/socket.cc` by `npm install` where a C++ toolchain is present) and the few helpers its
 * callers share: the handle's typed surface, its event kinds and system errors.
 *
 * The addon is optional: where it was not built, {@link loadAddon} gives `undefined` and the
 * transport core stays on `node:net`.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as util from "node:util";
import type { Address } from "../address.js";
import { formatAddress } from "../address.js";

/** Whoever a handle reports to: its connection, listener or datagram endpoint. */
export interface HandleOwner {
  onNativeEvent(kind: number, a: unknown, b: unknown, c: unknown): void;
}

/**
 * One non-blocking socket of the addon. Methods return a negative errno for system errors
 * (never throw for them); `write`/`writev` return 0 when the kernel takes nothing now.
 */
export interface NativeHandle {
  owner: HandleOwner | undefined;
  /** Its slot in the addon's table, for the addon's hot functions ({@link HotFunctions}). */
  readonly id: number;
  bind(host: string, port?: number): number;
  listen(backlog: number): number;
  connect(host: string, port?: number): number;
  accept(): NativeHandle | number;
  write(data: Buffer, offset?: number): number;
  writev(chunks: readonly Buffer[], offsetInFirst: number): number;
  sendto(data: Buffer, host?: string, port?: number): number;
  shutdown(): number;
  /** Poll `mask` (READABLE | WRITABLE), with NOTIFY: report a readable stream, do not read it. */
  setInterest(mask: number): number;
  /** Read up to `max` bytes into the read area (see {@link receive}): count, 0 at EOF, or -errno. */
  recv(max: number): number;
  /** Read into the start of `target` (at most 256 KiB): count, 0 at EOF, or -errno. */
  recvInto(target: Uint8Array): number;
  /** Bytes the kernel holds for reading now, or -errno. */
  unread(): number;
  close(): void;
  detach(): number;
  soError(): number;
  sockname(): Address | undefined;
  peername(): Address | undefined;
  setOption(name: "nodelay" | "v6only" | "broadcast" | "keepalive" | "linger0", on: boolean): number;
  fd(): number;
}

/**
 * The handle methods that run on every read or write, as the addon exports them: taking the
 * handle's `id` first instead of `this`, since finding a wrapped object's native pointer costs
 * more than the rest of such a call (about 0.15 µs of 0.2). {@link loadAddon} puts them on the
 * handles' prototype.
 */
interface HotFunctions {
  write(id: number, data: Buffer, offset: number): number;
  writev(id: number, chunks: readonly Buffer[], offsetInFirst: number): number;
  sendto(id: number, data: Buffer, host?: string, port?: number): number;
  setInterest(id: number, mask: number): number;
  recv(id: number, max: number): number;
  recvInto(id: number, target: Uint8Array): number;
  unread(id: number): number;
}

/** The addon's exports. */
export interface NativeAddon {
  init(
    dispatch: (this: NativeHandle, kind: number, a: unknown, b: unknown, c: unknown) => void,
    readBuffer: Buffer,
  ): void;
  /**
   * Reads go into `buffer` from `offset` (default 0) on from now on; at least `MIN_READ_SIZE`
   * bytes must be free there.
   */
  setReadBuffer(buffer: Buffer, offset?: number): void;
  open(domain: number, type: number): NativeHandle | number;
  /** The handles' class. */
  readonly Handle: { readonly prototype: NativeHandle };
  /** Descriptors the addon holds open now (for leak checks). */
  openCount(): number;
  readonly AF_INET: number;
  readonly AF_INET6: number;
  readonly AF_UNIX: number;
  readonly SOCK_STREAM: number;
  readonly SOCK_DGRAM: number;
  /** The least room a read area must have (any datagram fits). */
  readonly MIN_READ_SIZE: number;
  readonly READABLE: number;
  readonly WRITABLE: number;
  readonly EV_DATA: number;
  readonly EV_EOF: number;
  readonly EV_ERROR: number;
  readonly EV_WRITABLE: number;
  readonly EV_ACCEPT: number;
  readonly EV_MESSAGE: number;
  readonly EV_READABLE: number;
  readonly NOTIFY: number;
  readonly EAGAIN: number;
  readonly EINPROGRESS: number;
}

const ADDON_FILE = join("build", "Release", "asyncore_native.node");

let loaded: NativeAddon | null | undefined;
let loadError: Error | undefined;

/**
 * Where the addon file is: `ASYNCORE_NATIVE_ADDON` when set, else `build/Release/` in the first
 * directory above this module that has it (the package root for `dist/`, `dist-test/` alike).
 */
export function addonPath(): string | undefined {
  const override = process.env.ASYNCORE_NATIVE_ADDON;
  if (override) return override;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, ADDON_FILE);
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

/** The addon, loaded and initialised once; `undefined` where it is not built or fails to load. */
export function loadAddon(): NativeAddon | undefined {
  if (loaded !== undefined) return loaded ?? undefined;
  loaded = null;
  const file = addonPath();
  if (file === undefined) {
    loadError = new Error(`the addon is not built (no ${ADDON_FILE}; run npm install with a C++ toolchain)`);
    return undefined;
  }
  try {
    const addon = createRequire(import.meta.url)(file) as NativeAddon;
    addHotMethods(addon as NativeAddon & HotFunctions);
    readBuffer = Buffer.allocUnsafeSlow(Math.max(READ_BUFFER_SIZE, addon.MIN_READ_SIZE));
    EV_DATA = addon.EV_DATA;
    addon.init(dispatch, readBuffer);
    loaded = addon;
  } catch (err) {
    loadError = err instanceof Error ? err : new Error(String(err));
  }
  return loaded ?? undefined;
}

/** Make the addon's {@link HotFunctions} methods of every handle. */
function addHotMethods(addon: NativeAddon & HotFunctions): void {
  const { write, writev, sendto, setInterest, recv, recvInto, unread } = addon;
  const methods: Pick<NativeHandle, keyof HotFunctions> & ThisType<NativeHandle> = {
    write(data, offset) {
      return write(this.id, data, offset ?? 0);
    },
    writev(chunks, offsetInFirst) {
      return writev(this.id, chunks, offsetInFirst);
    },
    sendto(data, host, port) {
      return host === undefined ? sendto(this.id, data) : sendto(this.id, data, host, port);
    },
    setInterest(mask) {
      return setInterest(this.id, mask);
    },
    recv(max) {
      return recv(this.id, max);
    },
    recvInto(target) {
      return recvInto(this.id, target);
    },
    unread() {
      return unread(this.id);
    },
  };
  Object.assign(addon.Handle.prototype, methods);
}

/** Why {@link loadAddon} gave `undefined` (after it did). */
export function addonLoadError(): Error | undefined {
  return loadError;
}

/**
 * Where reads land: the addon reads into `readBuffer` from `areaStart` on (a read takes at most
 * the rest of it, and at most 256 KiB), and `EV_DATA` says how many bytes it put there. A read
 * of at most {@link COPY_LIMIT} bytes is copied out into a Buffer of its own (from Node's pool
 * when small) and the area stays. A longer one is handed out as a view, without a copy, and the
 * area moves past it while {@link MIN_AREA} bytes remain, else to a new read buffer. Two 100 KiB
 * messages thus share one allocation; a view kept alive holds at most {@link READ_BUFFER_SIZE}.
 */
const COPY_LIMIT = 32 * 1024;
const READ_BUFFER_SIZE = 256 * 1024;
/** The least room left for the next read (the addon's minimum too: any datagram fits). */
const MIN_AREA = 64 * 1024;

let readBuffer: Buffer;
let areaStart = 0;
/**
 * Views of the area's first n bytes, by n (up to {@link VIEW_CACHE_MAX}): copying a small read
 * out needs one, and making it costs more than the copy. Dropped when the area moves.
 */
const VIEW_CACHE_MAX = 4096;
const areaViews: Array<Buffer | undefined> = new Array(VIEW_CACHE_MAX + 1).fill(undefined);
let areaViewsUsed = false;
let EV_DATA = 0;

/**
 * Called by the addon with the handle as `this`: hand the event to its owner. Stream data is
 * made the owner's own Buffer here, before anything else runs, as the next read reuses the
 * read area.
 */
function dispatch(this: NativeHandle, kind: number, a: unknown, b: unknown, c: unknown): void {
  const owner = this.owner;
  if (owner === undefined) return;
  owner.onNativeEvent(kind, kind === EV_DATA ? takeRead(a as number) : a, b, c);
}

/** The `n` bytes just read, as a Buffer that stays valid after the next read. */
function takeRead(n: number): Buffer {
  if (n <= COPY_LIMIT) {
    const chunk = Buffer.allocUnsafe(n);
    let view = n <= VIEW_CACHE_MAX ? areaViews[n] : undefined;
    if (view === undefined) {
      view = readBuffer.subarray(areaStart, areaStart + n);
      if (n <= VIEW_CACHE_MAX) {
        areaViews[n] = view;
        areaViewsUsed = true;
      }
    }
    chunk.set(view);
    return chunk;
  }
  const chunk = readBuffer.subarray(areaStart, areaStart + n);
  // The next read starts 8-byte aligned, as Node's pool aligns its slices.
  const next = (areaStart + n + 7) & ~7;
  if (readBuffer.length - next >= MIN_AREA) {
    areaStart = next;
  } else {
    readBuffer = Buffer.allocUnsafeSlow(READ_BUFFER_SIZE);
    areaStart = 0;
  }
  loaded!.setReadBuffer(readBuffer, areaStart);
  if (areaViewsUsed) {
    areaViews.fill(undefined);
    areaViewsUsed = false;
  }
  return chunk;
}

/**
 * One `recv()` of up to `max` bytes on a stream in notify mode: the bytes as a Buffer of their
 * own, or the addon's answer when there are none (0 at EOF, a negative errno).
 */
export function receive(h: NativeHandle, max: number): Buffer | number {
  const n = h.recv(max);
  return n > 0 ? takeRead(n) : n;
}

/** Positive errno → its name (`ECONNRESET`), as Node names it. */
export function errnoName(errno: number): string {
  try {
    return util.getSystemErrorName(-Math.abs(errno));
  } catch {
    return `E${Math.abs(errno)}`;
  }
}

/**
 * A system error as Node makes them: `connect ECONNREFUSED 127.0.0.1:9` with `code`, `errno`
 * (negative), `syscall` and, when given, `address`/`port`.
 */
export function systemError(errno: number, syscall: string, addr?: Address): Error & { code: string } {
  const code = errnoName(errno);
  const where = addr === undefined ? "" : ` ${formatAddress(addr)}`;
  const err = new Error(`${syscall} ${code}${where}`) as Error & {
    code: string;
    errno: number;
    syscall: string;
    address?: string;
    port?: number;
  };
  err.code = code;
  err.errno = -Math.abs(errno);
  err.syscall = syscall;
  if (typeof addr === "string") err.address = addr;
  else if (addr !== undefined) {
    err.address = addr[0];
    err.port = addr[1];
  }
  return err;
}
