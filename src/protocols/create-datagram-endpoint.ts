/**
 * `createDatagramEndpoint`: a UDP socket driven by a datagram protocol.
 *
 * @module
 */
import type { Address } from "../address.js";
import { getBackend } from "../core/index.js";
import { codedError, codes, invalidArgValue } from "../errors.js";
import { UdpTransport } from "./datagram-transport.js";
import type { DatagramProtocol, DatagramTransport } from "./protocol.js";

/**
 * Options of {@link createDatagramEndpoint}.
 *
 * @example
 * ```ts
 * // a client "connected" to one peer: sendto(data) without an address
 * await createDatagramEndpoint(() => new Client(), { remoteAddr: ["127.0.0.1", port] });
 * ```
 */
export interface DatagramEndpointOptions {
  /** Bind to this `[host, port]` (port 0: any free port). */
  localAddr?: Address;
  /** Connect to this `[host, port]`: `sendto()` may leave out the address, only its datagrams arrive. */
  remoteAddr?: Address;
  /**
   * `AF_INET` (2) or `4` for IPv4, `AF_INET6` (10) or `6` for IPv6; `0`/left out: taken from
   * the addresses (IPv6 when a host contains `:`), else IPv4.
   */
  family?: number;
  /** Aborting it while binding/connecting rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/**
 * Make a UDP endpoint: bind it to `localAddr` and/or connect it to `remoteAddr`, then run the
 * protocol's `connectionMade`. Resolves with `[transport, protocol]`.
 * Python: `loop.create_datagram_endpoint()`.
 *
 * @throws as a rejection: the system error (`EADDRINUSE`, `EADDRNOTAVAIL`, …);
 *   `ERR_BAD_SOCKET` for a Unix-domain path (not supported on Node);
 *   `ERR_INVALID_ARG_VALUE` for an unknown family; `signal.reason` when aborted; what `factory`
 *   or `connectionMade` threw.
 * @example
 * ```ts
 * const [transport] = await createDatagramEndpoint(() => new EchoUdp(), { localAddr: ["127.0.0.1", 0] });
 * console.log(transport.getExtraInfo("sockname")); // ["127.0.0.1", 51234]
 * ```
 */
export async function createDatagramEndpoint(
  factory: () => DatagramProtocol,
  opts: DatagramEndpointOptions,
): Promise<[DatagramTransport, DatagramProtocol]> {
  const { localAddr, remoteAddr, signal } = opts;
  signal?.throwIfAborted();
  if (typeof localAddr === "string" || typeof remoteAddr === "string") {
    throw codedError(
      codes.BAD_SOCKET,
      "Cannot create datagram endpoint: Unix-domain datagram sockets are not supported",
    );
  }
  const family = familyOf(opts.family, localAddr, remoteAddr);
  const transport = new UdpTransport();
  const endpoint = getBackend().datagram(family, transport.events);
  transport.attach(endpoint);
  let protocol: DatagramProtocol;
  try {
    if (localAddr !== undefined) await endpoint.bind(localAddr);
    if (remoteAddr !== undefined) await endpoint.connect(remoteAddr);
    signal?.throwIfAborted();
    protocol = factory();
  } catch (err) {
    endpoint.close();
    throw err;
  }
  const failure = transport.begin(protocol);
  if (failure) throw failure;
  return [transport, protocol];
}

function familyOf(family: number | undefined, ...addrs: Array<Address | undefined>): 4 | 6 {
  switch (family) {
    case undefined:
    case 0:
      return addrs.some((a) => a?.[0].includes(":")) ? 6 : 4;
    case 2:
    case 4:
      return 4;
    case 6:
    case 10:
      return 6;
    default:
      throw invalidArgValue(
        `Cannot create datagram endpoint: family must be AF_INET or AF_INET6, got ${family}`,
      );
  }
}
