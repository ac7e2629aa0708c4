/**
 * Addresses, as every module of asyncore-ts takes and gives them.
 *
 * A TCP or UDP address is a `[host, port]` pair; a string is the path of a Unix-domain socket.
 *
 * @example
 * ```ts
 * const tcp: Address = ["127.0.0.1", 8080];
 * const unix: Address = "/tmp/echo.sock";
 * ```
 * @module
 */
import { Buffer } from "node:buffer";
import type { AddressInfo } from "node:net";
import { invalidArgType } from "./errors.js";

/**
 * `[host, port]` for TCP/UDP, or a Unix-domain socket path.
 *
 * @example
 * ```ts
 * const tcp: Address = ["::1", 8080];
 * const unix: Address = "/run/app.sock";
 * ```
 */
export type Address = readonly [host: string, port: number] | string;

/**
 * Byte input everywhere: a string is UTF-8 encoded.
 *
 * @example
 * ```ts
 * transport.write("héllo");                    // 6 bytes of UTF-8
 * transport.write(new Uint8Array([104, 105])); // "hi"
 * ```
 */
export type BytesLike = Uint8Array | string;

/**
 * Turn byte input into a Buffer without copying a Uint8Array. (`Buffer` is imported: the global
 * one is a getter, paid on every access, and this runs on every send and receive.)
 */
export function toBuffer(data: BytesLike): Buffer {
  if (typeof data === "string") return Buffer.from(data, "utf8");
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  throw invalidArgType(`Expected a Uint8Array or string: got ${typeof data}`);
}

/** The Address of what `server.address()` / `socket.address()` return. */
export function fromAddressInfo(info: AddressInfo | string | null | undefined | {}): Address | undefined {
  if (info == null) return undefined;
  if (typeof info === "string") return info;
  const a = info as Partial<AddressInfo>;
  if (a.address === undefined || a.port === undefined) return undefined;
  return [a.address, a.port];
}

/** Format an address for messages: `127.0.0.1:80`, `[::1]:80`, or the socket path. */
export function formatAddress(addr: Address | undefined): string {
  if (addr === undefined) return "?";
  if (typeof addr === "string") return addr;
  const [host, port] = addr;
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
