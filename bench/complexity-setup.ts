/**
 * Setup for the complexity benchmark's asyncore-ts side, never timed: connections are accepted
 * by a listening dispatcher (so they are the active backend's sockets, `node:net` or native),
 * and the loop is run until a handler raises `ExitNow`.
 *
 * @module
 */
import type { Address } from "../src/address.js";
import { Dispatcher, type DispatcherSocket, ExitNow, loop, type SocketMap } from "../src/asyncore/index.js";
import type { PeerClient } from "./complexity-peer-client.js";

/** Run `loop()` until a handler raises `ExitNow`; anything else (or no ExitNow) is an error. */
export async function runUntilExit(map: SocketMap, count: number, timeout = 2000): Promise<void> {
  try {
    await loop({ map, timeout, count });
  } catch (err) {
    if (err instanceof ExitNow) return;
    throw err;
  }
  throw new Error("Cannot measure: the loop stopped before the measured work was done");
}

/** A listening dispatcher, in a map of its own, that hands every accepted socket to `onSocket`. */
export class Acceptor extends Dispatcher {
  readonly map: SocketMap;
  accepted = 0;
  onSocket: (sock: DispatcherSocket) => void = () => {};
  override handleAccepted(sock: DispatcherSocket, _addr: Address): void {
    this.accepted++;
    this.onSocket(sock);
  }
  override handleClose(): void {
    this.close();
  }

  private constructor(map: SocketMap) {
    super(undefined, map);
    this.map = map;
  }

  /** A new acceptor listening on 127.0.0.1 (port 0); resolves with it and its port. */
  static async open(): Promise<[Acceptor, number]> {
    const acceptor = new Acceptor(new Map());
    acceptor.createSocket();
    void acceptor.bind(["127.0.0.1", 0]);
    const [, port] = (await acceptor.listen(4096)) as [string, number];
    return [acceptor, port];
  }

  /**
   * Serve this acceptor's map until `count` more connections were accepted (at most 20 s), while
   * `connecting` (whatever opens them) goes on; then wait for `connecting`.
   */
  async acceptMore(count: number, connecting: Promise<unknown>): Promise<void> {
    const target = this.accepted + count;
    let failed: unknown;
    connecting.catch((err: unknown) => {
      failed = err;
    });
    const deadline = performance.now() + 20_000;
    while (this.accepted < target && failed === undefined && performance.now() < deadline) {
      await loop({ map: this.map, timeout: 5, count: 1 });
    }
    await connecting;
    if (this.accepted < target)
      throw new Error(`Cannot set up: accepted ${this.accepted} of ${target} connections`);
  }
}

/**
 * Open `m` connections from the peer, accept them with a listening dispatcher and wrap each in
 * `make(socket)`. Not timed.
 */
export async function acceptFromPeer(
  peer: PeerClient,
  m: number,
  active: number,
  make: (sock: DispatcherSocket) => void,
): Promise<void> {
  const [acceptor, port] = await Acceptor.open();
  acceptor.onSocket = make;
  try {
    await acceptor.acceptMore(m, peer.request({ op: "open", port, count: m, active }));
  } finally {
    acceptor.close();
  }
}

/**
 * A connected pair in `map`: `client` connects to an acceptor, the accepted socket becomes
 * `makeServer(socket)`. Not timed.
 */
export async function connectPair<T extends Dispatcher>(
  map: SocketMap,
  client: Dispatcher,
  makeServer: (sock: DispatcherSocket) => T,
): Promise<T> {
  const [acceptor, port] = await Acceptor.open();
  let server: T | undefined;
  acceptor.onSocket = (sock) => {
    server = makeServer(sock);
  };
  try {
    client.createSocket();
    client.connect(["127.0.0.1", port]);
    await acceptor.acceptMore(1, Promise.resolve());
    for (let i = 0; i < 1000 && !client.connected; i++) await loop({ map, timeout: 5, count: 1 });
    if (!client.connected || server === undefined) throw new Error("Cannot set up: the pair did not connect");
    return server;
  } finally {
    acceptor.close();
  }
}
