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
  bind(host: string, port?: number): number;
  listen(backlog: number): number;
  connect(host: string, port?: number): number;
  accept(): NativeHandle | number;
  write(data: Buffer, offset?: number): number;
  writev(chunks: readonly Buffer[], offsetInFirst: number): number;
  sendto(data: Buffer, host?: string, port?: number): number;
  shutdown(): number;
  setInterest(mask: number): number;
  close(): void;
  detach(): number;
  soError(): number;
  sockname(): Address | undefined;
  peername(): Address | undefined;
  setOption(name: "nodelay" | "v6only" | "broadcast" | "keepalive" | "linger0", on: boolean): number;
  fd(): number;
}

/** The addon's exports. */
export interface NativeAddon {
  init(dispatch: (this: NativeHandle, kind: number, a: unknown, b: unknown, c: unknown) => void): void;
  open(domain: number, type: number): NativeHandle | number;
  /** Descriptors the addon holds open now (for leak checks). */
  openCount(): number;
  readonly AF_INET: number;
  readonly AF_INET6: number;
  readonly AF_UNIX: number;
  readonly SOCK_STREAM: number;
  readonly SOCK_DGRAM: number;
  readonly READABLE: number;
  readonly WRITABLE: number;
  readonly EV_DATA: number;
  readonly EV_EOF: number;
  readonly EV_ERROR: number;
  readonly EV_WRITABLE: number;
  readonly EV_ACCEPT: number;
  readonly EV_MESSAGE: number;
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
    addon.init(dispatch);
    loaded = addon;
  } catch (err) {
    loadError = err instanceof Error ? err : new Error(String(err));
  }
  return loaded ?? undefined;
}

/** Why {@link loadAddon} gave `undefined` (after it did). */
export function addonLoadError(): Error | undefined {
  return loadError;
}

/** Called by the addon with the handle as `this`: hand the event to its owner. */
function dispatch(this: NativeHandle, kind: number, a: unknown, b: unknown, c: unknown): void {
  this.owner?.onNativeEvent(kind, a, b, c);
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
