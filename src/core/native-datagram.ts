/**
 * {@link DatagramEndpoint} over a native UDP socket.
 *
 * Reading is polled once the socket has an address (after `bind()`, `connect()` or a first
 * `send()`, which binds implicitly); up to 32 datagrams are received per readiness event. A
 * send the kernel cannot take now (`EAGAIN`) waits in a queue sent when the socket polls
 * writable; any other send failure goes to `onError`, as do receive errors (`ECONNREFUSED`
 * from an ICMP port-unreachable on a connected socket).
 *
 * @module
 */
import type { Address } from "../address.js";
import { codedError, codes, socketClosed } from "../errors.js";
import type { DatagramEndpoint, DatagramEvents } from "./backend.js";
import { type HandleOwner, type NativeAddon, type NativeHandle, systemError } from "./native-addon.js";
import { type NativeTarget, resolveTargets, targetAddress } from "./native-resolve.js";

/**
 * A UDP endpoint of the native backend; it is also its own `raw` object.
 *
 * @example
 * ```ts
 * const udp = getBackend().datagram(4, events);
 * await udp.bind(["127.0.0.1", 0]);
 * udp.send(Buffer.from("ping"), ["127.0.0.1", 9999]);
 * udp.close();
 * ```
 */
export class NativeDatagramEndpoint implements DatagramEndpoint, HandleOwner {
  readonly backend = "native";
  readonly #addon: NativeAddon;
  readonly #family: 4 | 6;
  #h: NativeHandle | null;
  #events: DatagramEvents;
  #bound = false;
  #connected = false;
  #mask = 0;
  #pending: Array<[data: Buffer, target: NativeTarget | undefined]> = [];

  /** @internal @throws the system error when no socket can be made (`EMFILE`, …). */
  constructor(addon: NativeAddon, family: 4 | 6, events: DatagramEvents) {
    this.#addon = addon;
    this.#family = family;
    this.#events = events;
    const h = addon.open(family === 6 ? addon.AF_INET6 : addon.AF_INET, addon.SOCK_DGRAM);
    if (typeof h === "number") throw systemError(-h, "socket");
    h.owner = this;
    this.#h = h;
  }

  get raw(): NativeDatagramEndpoint {
    return this;
  }
  get closed(): boolean {
    return this.#h === null;
  }
  get localAddress(): Address | undefined {
    return this.#bound ? this.#h?.sockname() : undefined;
  }
  get remoteAddress(): Address | undefined {
    return this.#connected ? this.#h?.peername() : undefined;
  }

  /** @internal Give the endpoint a new owner (the backend's `adoptDatagram`). */
  retarget(events: DatagramEvents): void {
    this.#events = events;
  }

  async bind(addr: Address): Promise<Address> {
    const target = await this.#target(addr, "bind");
    const h = this.#open();
    const r = h.bind(target.host, target.port);
    if (r < 0) throw systemError(-r, "bind", addr);
    this.#bound = true;
    this.#update();
    return this.localAddress ?? addr;
  }

  async connect(addr: Address): Promise<void> {
    const target = await this.#target(addr, "connect");
    const h = this.#open();
    const r = h.connect(target.host, target.port);
    if (r < 0) throw systemError(-r, "connect", addr);
    this.#bound = true;
    this.#connected = true;
    this.#update();
  }

  send(data: Buffer, addr?: Address): void {
    if (this.#h === null) throw socketClosed("the datagram endpoint");
    if (addr === undefined || this.#connected) {
      this.#sendTo(data, undefined);
      return;
    }
    if (typeof addr === "string")
      throw codedError(codes.BAD_SOCKET, "Cannot send: datagram sockets take a [host, port] address");
    const targets = resolveTargets(this.#addon, addr, this.#family);
    if (Array.isArray(targets)) this.#sendTo(data, targets[0]);
    else
      targets.then(
        (list) => this.#sendTo(data, list[0]),
        (err: Error) => this.#report(err),
      );
  }

  close(): void {
    const h = this.#h;
    if (h === null) return;
    this.#h = null;
    this.#pending = [];
    h.owner = undefined;
    h.close();
    process.nextTick(() => this.#events.onClose());
  }

  /** @internal */
  onNativeEvent(kind: number, a: unknown, b: unknown, c: unknown): void {
    const addon = this.#addon;
    if (kind === addon.EV_MESSAGE) this.#events.onMessage(a as Buffer, [b as string, c as number]);
    else if (kind === addon.EV_WRITABLE) this.#drain();
    else if (kind === addon.EV_ERROR) {
      // A socket error stops the addon's poll: poll anew, then report (the endpoint stays open).
      this.#mask = -1;
      this.#update();
      this.#events.onError(systemError(a as number, "recvmsg"));
    }
  }

  #open(): NativeHandle {
    if (this.#h === null) throw socketClosed("the datagram endpoint");
    return this.#h;
  }

  async #target(addr: Address, what: string): Promise<NativeTarget> {
    if (typeof addr === "string")
      throw codedError(codes.BAD_SOCKET, `Cannot ${what}: datagram sockets take a [host, port] address`);
    const list = await resolveTargets(this.#addon, addr, this.#family);
    if (list.length === 0) throw codedError("ENOTFOUND", `Cannot ${what}: no address for ${addr[0]}`);
    return list[0]!;
  }

  #sendTo(data: Buffer, target: NativeTarget | undefined): void {
    const h = this.#h;
    if (h === null) return;
    if (this.#pending.length > 0) {
      this.#pending.push([data, target]);
      return;
    }
    const n = target === undefined ? h.sendto(data) : h.sendto(data, target.host, target.port);
    if (n === -this.#addon.EAGAIN) {
      this.#pending.push([data, target]);
    } else if (n < 0) {
      this.#report(systemError(-n, "send", target && targetAddress(target)));
    } else {
      this.#bound = true;
    }
    this.#update();
  }

  #drain(): void {
    const h = this.#h;
    while (h !== null && this.#pending.length > 0) {
      const [data, target] = this.#pending[0]!;
      const n = target === undefined ? h.sendto(data) : h.sendto(data, target.host, target.port);
      if (n === -this.#addon.EAGAIN) break;
      this.#pending.shift();
      if (n < 0) this.#report(systemError(-n, "send", target && targetAddress(target)));
    }
    this.#update();
  }

  /** Send failures reach `onError` on a later tick, as `node:dgram` reports them. */
  #report(err: Error): void {
    process.nextTick(() => {
      if (this.#h !== null) this.#events.onError(err);
    });
  }

  #update(): void {
    const h = this.#h;
    if (h === null) return;
    const addon = this.#addon;
    const mask = (this.#bound ? addon.READABLE : 0) | (this.#pending.length > 0 ? addon.WRITABLE : 0);
    if (mask === this.#mask) return;
    this.#mask = mask;
    const r = h.setInterest(mask);
    if (r < 0) this.#report(systemError(-r, "poll"));
  }
}
