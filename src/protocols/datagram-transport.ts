/**
 * {@link DatagramTransport} over a core {@link DatagramEndpoint}.
 *
 * @module
 */
import { type Address, type BytesLike, formatAddress, toBuffer } from "../address.js";
import type { DatagramEndpoint, DatagramEvents } from "../core/index.js";
import { codedError, codes, invalidArgValue, socketClosed, toCodedError } from "../errors.js";
import { callExceptionHandler } from "./exception-handler.js";
import type { DatagramProtocol, DatagramTransport } from "./protocol.js";

/** Datagrams that arrive between binding and `connectionMade` wait here (a few at most). */
const MAX_EARLY = 64;

/**
 * A UDP transport. Python: `asyncio.selector_events._SelectorDatagramTransport`.
 *
 * Made by {@link createDatagramEndpoint}: first the transport (its `events` go to the
 * backend), then the endpoint is bound/connected, then {@link UdpTransport.begin} runs
 * `connectionMade` and delivers what arrived meanwhile.
 *
 * @example
 * ```ts
 * const [transport] = await createDatagramEndpoint(() => ({}), { remoteAddr: ["127.0.0.1", port] });
 * transport.sendto("ping");
 * ```
 */
export class UdpTransport implements DatagramTransport {
  #endpoint: DatagramEndpoint | undefined;
  #protocol: DatagramProtocol | undefined;
  #early: Array<[Buffer, Address]> = [];
  #closing = false;
  #lost = false;
  #failure: Error | null = null;

  /** Internal: what the backend reports to. */
  readonly events: DatagramEvents = {
    onMessage: (data, from) => {
      if (this.#closing) return;
      if (this.#protocol === undefined) {
        if (this.#early.length < MAX_EARLY) this.#early.push([data, from]);
        return;
      }
      this.#deliver(data, from);
    },
    onError: (err) => {
      if (this.#closing || this.#protocol === undefined) return;
      try {
        this.#protocol.errorReceived?.(err);
      } catch (thrown) {
        this.#fail(thrown, "errorReceived");
      }
    },
    onClose: () => this.#connectionLost(),
  };

  /** Internal: the endpoint made with {@link UdpTransport.events}. */
  attach(endpoint: DatagramEndpoint): void {
    this.#endpoint = endpoint;
  }

  /** Internal: run `connectionMade`, then deliver early datagrams. Returns what it threw, or `null`. */
  begin(protocol: DatagramProtocol): Error | null {
    this.#protocol = protocol;
    try {
      protocol.connectionMade?.(this);
    } catch (err) {
      this.#fail(err, "connectionMade");
    }
    const remote = this.#endpoint?.remoteAddress;
    for (const [data, from] of this.#early.splice(0)) {
      if (this.#closing) break;
      // A connected socket only hears its peer; drop what came before connect() filtered.
      if (remote === undefined || sameAddress(from, remote)) this.#deliver(data, from);
    }
    return this.#failure;
  }

  sendto(data: BytesLike, addr?: Address): void {
    const endpoint = this.#endpoint;
    if (this.#closing || endpoint === undefined) throw socketClosed("the datagram transport");
    const remote = endpoint.remoteAddress;
    if (remote !== undefined) {
      if (addr !== undefined && !sameAddress(addr, remote)) {
        throw invalidArgValue(
          `Cannot send: the endpoint is connected to ${formatAddress(remote)}, got ${formatAddress(addr)}`,
        );
      }
      endpoint.send(toBuffer(data));
      return;
    }
    if (addr === undefined) {
      throw codedError(
        codes.NOT_CONNECTED,
        "Cannot send: no address given and the endpoint is not connected",
      );
    }
    endpoint.send(toBuffer(data), addr);
  }

  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#endpoint?.close();
  }

  abort(): void {
    this.close();
  }

  /** `true` once `close()`/`abort()` was called. Python: `BaseTransport.is_closing()`. */
  isClosing(): boolean {
    return this.#closing;
  }

  getExtraInfo(name: string, fallback?: unknown): unknown {
    const endpoint = this.#endpoint;
    let value: unknown;
    if (endpoint !== undefined) {
      if (name === "peername") value = endpoint.remoteAddress;
      else if (name === "sockname") value = endpoint.localAddress;
      else if (name === "socket") value = endpoint.raw;
    }
    return value ?? fallback;
  }

  #deliver(data: Buffer, from: Address): void {
    try {
      this.#protocol!.datagramReceived?.(data, from);
    } catch (err) {
      this.#fail(err, "datagramReceived");
    }
  }

  #connectionLost(): void {
    if (this.#lost) return;
    this.#lost = true;
    this.#closing = true;
    const protocol = this.#protocol;
    if (protocol === undefined) return; // closed before connectionMade: nobody to tell.
    try {
      protocol.connectionLost?.(this.#failure);
    } catch (thrown) {
      this.#report(thrown, "connectionLost");
    }
  }

  #fail(thrown: unknown, where: string): void {
    const err = this.#report(thrown, where);
    if (this.#lost) return;
    this.#failure ??= err;
    this.close();
  }

  #report(thrown: unknown, where: string): Error {
    const err = toCodedError(thrown);
    callExceptionHandler({
      message: `Exception in DatagramProtocol.${where}()`,
      exception: err,
      transport: this,
      protocol: this.#protocol,
    });
    return err;
  }
}

function sameAddress(a: Address, b: Address): boolean {
  if (typeof a === "string" || typeof b === "string") return a === b;
  return a[1] === b[1] && normalHost(a[0]) === normalHost(b[0]);
}

/** `::ffff:127.0.0.1` and `127.0.0.1` name the same IPv4 peer. */
function normalHost(host: string): string {
  const lower = host.toLowerCase();
  return lower.startsWith("::ffff:") && lower.includes(".") ? lower.slice(7) : lower;
}
