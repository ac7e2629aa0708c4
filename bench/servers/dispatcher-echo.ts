/**
 * The dispatcher-API echo server of the benchmarks: a `DispatcherWithSend` per connection,
 * `handleRead()` sends back what `recv(262144)` returned (256 KiB, the most one read takes on
 * the native backend: a 100 KiB message in one system call). Same contract as `raw-net-echo.ts`:
 * `node dispatcher-echo.js [port]`, prints `listening on 127.0.0.1:PORT`, exits 0 on SIGTERM/SIGINT.
 *
 * With `ECHO_READ_INTO=1` it reads without allocating: a plain `Dispatcher` per connection reads
 * with `recvInto()` into one 256 KiB Buffer that all connections share and sends straight from
 * it. What `send()` does not take is copied aside and sent from `handleWrite()`; meanwhile the
 * handler does not read. On the native backend `send()` is one system call (the kernel copies
 * what it takes), so the buffer is free again at once; on `node:net`, `send()` queues the Buffer
 * it is given by reference, so there it is given a copy.
 *
 * @module
 */
import type * as net from "node:net";
import { closeAll, Dispatcher, DispatcherWithSend, loop } from "../../src/asyncore/index.js";
import { backendName } from "../../src/core/index.js";

const port = Number(process.argv[2] ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`dispatcher-echo: invalid port "${process.argv[2]}"\n`);
  process.exit(2);
}

class EchoHandler extends DispatcherWithSend {
  override handleRead(): void {
    const data = this.recv(262144);
    if (data.length > 0) this.send(data);
  }
  override handleClose(): void {
    this.close();
  }
}

/** `send()` keeps none of what it is given (readiness mode): the read buffer can be reused at once. */
const sendKeepsNothing = backendName() === "native";
/** Where every `ECHO_READ_INTO` connection reads: each read is sent (or copied aside) before the next. */
const readBuffer = Buffer.allocUnsafe(256 * 1024);

class IntoEchoHandler extends Dispatcher {
  /** Bytes read and not yet sent, a copy of their own; null when none wait. */
  #pending: Buffer | null = null;

  override readable(): boolean {
    return this.#pending === null;
  }
  override writable(): boolean {
    return this.#pending !== null;
  }
  override handleRead(): void {
    const n = this.recvInto(readBuffer);
    if (n === 0) return;
    const data = readBuffer.subarray(0, n);
    if (sendKeepsNothing) this.#send(data, false);
    else this.#send(Buffer.from(data), true);
  }
  override handleWrite(): void {
    if (this.#pending !== null) this.#send(this.#pending, true);
  }
  override handleClose(): void {
    this.close();
  }

  /** Send `data`; keep what the socket did not take (copied unless `owned`) for handleWrite(). */
  #send(data: Buffer, owned: boolean): void {
    const sent = this.send(data);
    if (sent >= data.length) {
      this.#pending = null;
      return;
    }
    const rest = data.subarray(sent);
    this.#pending = owned ? rest : Buffer.from(rest);
  }
}

const Handler = process.env.ECHO_READ_INTO === "1" ? IntoEchoHandler : EchoHandler;

class EchoServer extends Dispatcher {
  override handleAccepted(sock: net.Socket): void {
    new Handler(sock);
  }
}

const server = new EchoServer();
server.createSocket();
void server.bind(["127.0.0.1", port]);
const [, boundPort] = (await server.listen(1024)) as [string, number];
process.stdout.write(`listening on 127.0.0.1:${boundPort}\n`);

function shutdown(): void {
  closeAll();
  process.exit(0);
}
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
await loop({ timeout: 30000 });
