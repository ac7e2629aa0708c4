/**
 * Turning an {@link Address} into what the native addon takes: a socket domain and a numeric
 * host (host names are looked up with `dns.lookup`, as `node:net` does).
 *
 * @module
 */
import * as dns from "node:dns";
import * as net from "node:net";
import type { Address } from "../address.js";
import type { NativeAddon } from "./native-addon.js";

/** One place to bind or connect to. `port` is absent for a Unix-domain path. */
export interface NativeTarget {
  readonly domain: number;
  readonly host: string;
  readonly port?: number;
}

/**
 * The targets of `addr`: at once for a path or an IP literal, through `dns.lookup` (all
 * addresses, in the resolver's order) for a host name. `family` restricts the lookup (4 or 6).
 */
export function resolveTargets(
  addon: NativeAddon,
  addr: Address,
  family?: 4 | 6,
): NativeTarget[] | Promise<NativeTarget[]> {
  if (typeof addr === "string") return [{ domain: addon.AF_UNIX, host: addr }];
  const [host, port] = addr;
  const literal = literalTarget(addon, host === "" ? (family === 6 ? "::" : "0.0.0.0") : host, port);
  if (literal !== undefined) return [literal];
  return new Promise<NativeTarget[]>((resolve, reject) => {
    dns.lookup(host, { all: true, family: family ?? 0 }, (err, found) => {
      if (err) return reject(err);
      resolve(
        found.map((a) => ({
          domain: a.family === 6 ? addon.AF_INET6 : addon.AF_INET,
          host: a.address,
          port,
        })),
      );
    });
  });
}

/** The target of an IP literal, or `undefined` for a host name. */
export function literalTarget(addon: NativeAddon, host: string, port: number): NativeTarget | undefined {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  const kind = net.isIP(bare.split("%")[0]!);
  if (kind === 0) return undefined;
  return { domain: kind === 6 ? addon.AF_INET6 : addon.AF_INET, host: bare, port };
}

/** The Address form of a target. */
export function targetAddress(t: NativeTarget): Address {
  return t.port === undefined ? t.host : [t.host, t.port];
}
