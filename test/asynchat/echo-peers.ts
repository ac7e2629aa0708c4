/**
 * Loopback peers for the AsyncChat socket tests, after test_asynchat.py's `echo_server` and
 * `echo_client`, but both built with AsyncChat and run in the same loop (CPython's server was a
 * thread with blocking sockets).
 */
import type * as net from "node:net";
import type { Address } from "../../src/address.js";
import { AsyncChat, SimpleProducer } from "../../src/asynchat/index.js";
import { AF_INET, Dispatcher, type SocketMap } from "../../src/asyncore/index.js";

/** What ends the data the echo server collects before echoing. */
export const SERVER_QUIT = Buffer.from("QUIT\n");

/** Errors that reached a handleError of these peers: tests assert it stays empty. */
export const unexpected: string[] = [];

/**
 * Reads of at most `size(n)` bytes instead of `n`: how these tests choose the read splits
 * (CPython's echo server sent `chunk_size` bytes at a time for the same purpose).
 */
export type ReadSize = (n: number) => number;

/**
 * One connection of the echo server: collects everything up to `QUIT\n`, then sends it back in
 * pieces of `chunkSize` bytes and closes (at once, or when `resend()` is called).
 */
export class EchoSession extends AsyncChat {
  received: Buffer | undefined;
  readonly #chunkSize: number;
  readonly #hold: boolean;

  constructor(sock: net.Socket, map: SocketMap, chunkSize: number, hold: boolean) {
    super(sock, map);
    this.#chunkSize = chunkSize;
    this.#hold = hold;
    this.setTerminator(SERVER_QUIT);
  }

  override foundTerminator(): void {
    this.received = this.getData();
    this.setTerminator(null);
    if (!this.#hold) this.resend();
  }

  /** Echo what was collected (test_close_when_done waits until the client has gone). */
  resend(): void {
    this.pushWithProducer(new SimpleProducer(this.received ?? Buffer.alloc(0), this.#chunkSize));
    this.closeWhenDone();
  }

  override handleError(err: unknown): void {
    unexpected.push(`server session: ${String(err)}`);
    this.close();
  }
}

/** Accepts one connection, as CPython's echo_server did, then stops listening. */
export class EchoServer extends Dispatcher {
  readonly ready: Promise<Address>;
  session: EchoSession | undefined;
  readonly #map: SocketMap;
  readonly #chunkSize: number;
  readonly #hold: boolean;

  constructor(
    map: SocketMap,
    opts: { chunkSize?: number; hold?: boolean; family?: number; addr?: Address } = {},
  ) {
    super(undefined, map);
    this.#map = map;
    this.#chunkSize = opts.chunkSize ?? 1;
    this.#hold = opts.hold ?? false;
    this.createSocket(opts.family ?? AF_INET);
    void this.bind(opts.addr ?? ["127.0.0.1", 0]);
    this.ready = this.listen(5);
  }

  override handleAccepted(sock: net.Socket): void {
    this.session = new EchoSession(sock, this.#map, this.#chunkSize, this.#hold);
    this.close();
  }

  override handleError(err: unknown): void {
    unexpected.push(`server: ${String(err)}`);
    this.close();
  }
}

/** CPython's echo_client: records every frame it receives; reads of `readSize` bytes if given. */
export class EchoClient extends AsyncChat {
  contents: Buffer[] = [];
  buffer: Buffer = Buffer.alloc(0);
  readonly #readSize: ReadSize | undefined;

  constructor(
    terminator: Uint8Array | string | number | null,
    addr: Address,
    map: SocketMap,
    opts: { readSize?: ReadSize; family?: number } = {},
  ) {
    super(undefined, map);
    this.#readSize = opts.readSize;
    this.createSocket(opts.family ?? AF_INET);
    this.connect(addr);
    this.setTerminator(terminator);
  }

  override handleConnect(): void {}

  override recv(bufferSize: number): Buffer {
    return super.recv(this.#readSize === undefined ? bufferSize : this.#readSize(bufferSize));
  }

  override collectIncomingData(data: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, data]);
  }

  override foundTerminator(): void {
    this.contents.push(this.buffer);
    this.buffer = Buffer.alloc(0);
  }

  override handleError(err: unknown): void {
    unexpected.push(`client: ${String(err)}`);
    this.close();
  }
}

/** Start an echo server and connect a client to it (both in `map`). */
export async function echoPair(
  map: SocketMap,
  terminator: Uint8Array | string | number | null,
  opts: { chunkSize?: number; hold?: boolean; readSize?: ReadSize; family?: number; addr?: Address } = {},
): Promise<[EchoServer, EchoClient]> {
  const server = new EchoServer(map, opts);
  const addr = await server.ready;
  const client = new EchoClient(terminator, addr, map, opts);
  return [server, client];
}

/** Read sizes drawn from `rng`: a third tiny (1–16 bytes), the rest up to what was asked. */
export function randomReads(rng: () => number): ReadSize {
  return (n) => (rng() < 0.33 ? 1 + Math.floor(rng() * 16) : 1 + Math.floor(rng() * n));
}

/** Accepts one connection, hands it to `make`, then stops listening. */
export class OneShotServer<T extends Dispatcher> extends Dispatcher {
  readonly ready: Promise<Address>;
  session: T | undefined;
  readonly #make: (sock: net.Socket) => T;

  constructor(map: SocketMap, make: (sock: net.Socket) => T) {
    super(undefined, map);
    this.#make = make;
    this.createSocket(AF_INET);
    void this.bind(["127.0.0.1", 0]);
    this.ready = this.listen(5);
  }

  override handleAccepted(sock: net.Socket): void {
    this.session = this.#make(sock);
    this.close();
  }

  override handleError(err: unknown): void {
    unexpected.push(`one-shot server: ${String(err)}`);
    this.close();
  }
}
