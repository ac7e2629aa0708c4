/**
 * {@link DatagramEndpoint} over a `dgram.Socket`.
 *
 * @module
 */
import type * as dgram from "node:dgram";
import { type Address, fromAddressInfo } from "../address.js";
import { codedError, codes, socketClosed } from "../errors.js";
import type { DatagramEndpoint, DatagramEvents } from "./backend.js";

export class NetDatagramEndpoint implements DatagramEndpoint {
  readonly backend = "net";
  readonly raw: dgram.Socket;
  #events: DatagramEvents;
  #connected = false;
  #closed = false;
  /** Bound once: send completions allocate no closure. */
  readonly #afterSend = (err: Error | null): void => {
    if (err && !this.#closed) this.#events.onError(err);
  };

  constructor(sock: dgram.Socket, events: DatagramEvents) {
    this.raw = sock;
    this.#events = events;
    sock.on("message", (msg: Buffer, rinfo: dgram.RemoteInfo) =>
      events.onMessage(msg, [rinfo.address, rinfo.port]),
    );
    sock.on("error", (err: Error) => {
      if (!this.#closed) events.onError(err);
    });
    sock.on("close", () => {
      this.#closed = true;
      events.onClose();
    });
  }

  get closed(): boolean {
    return this.#closed;
  }
  get localAddress(): Address | undefined {
    try {
      return fromAddressInfo(this.raw.address());
    } catch {
      return undefined;
    }
  }
  get remoteAddress(): Address | undefined {
    if (!this.#connected) return undefined;
    try {
      return fromAddressInfo(this.raw.remoteAddress());
    } catch {
      return undefined;
    }
  }

  bind(addr: Address): Promise<Address> {
    if (typeof addr === "string") {
      return Promise.reject(
        codedError(codes.BAD_SOCKET, "Cannot bind: datagram sockets take a [host, port] address"),
      );
    }
    return new Promise<Address>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.raw.once("error", onError);
      this.raw.bind(addr[1], addr[0], () => {
        this.raw.off("error", onError);
        resolve(this.localAddress ?? addr);
      });
    });
  }

  connect(addr: Address): Promise<void> {
    if (typeof addr === "string") {
      return Promise.reject(
        codedError(codes.BAD_SOCKET, "Cannot connect: datagram sockets take a [host, port] address"),
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.raw.connect(addr[1], addr[0], (err?: Error) => {
        if (err) return reject(err);
        this.#connected = true;
        resolve();
      });
    });
  }

  send(data: Buffer, addr?: Address): void {
    if (this.#closed) throw socketClosed("the datagram endpoint");
    if (addr === undefined || this.#connected) {
      this.raw.send(data, this.#afterSend);
      return;
    }
    if (typeof addr === "string")
      throw codedError(codes.BAD_SOCKET, "Cannot send: datagram sockets take a [host, port] address");
    this.raw.send(data, addr[1], addr[0], this.#afterSend);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.raw.close();
  }
}
