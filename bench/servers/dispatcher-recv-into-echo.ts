/**
 * The dispatcher-API echo server that reads without allocating: a plain `Dispatcher` per
 * connection reads with `recvInto()` into one 256 KiB Buffer of its own (the most one read takes
 * on the native backend) and sends straight from it. What `send()` does not take is copied aside
 * and sent from `handleWrite()`; meanwhile the handler does not read. Same contract as
 * `raw-net-echo.ts`: `node dispatcher-recv-into-echo.js [port]`, prints
 * `listening on 127.0.0.1:PORT`, exits 0 on SIGTERM/SIGINT.
 *
 * On the native backend `send()` is one system call (the kernel copies what it takes), so the
 * buffer is free again at once. On `node:net`, `send()` queues the Buffer it is given by
 * reference: there it is given a copy, or the next read would overwrite bytes still waiting.
 *
 * @module
 */
import type * as net from "node:net";
import { closeAll, Dispatcher, loop } from "../../src/asyncore/index.js";
import { backendName } from "../../src/core/index.js";

const port = Number(process.argv[2] ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`dispatcher-recv-into-echo: invalid port "${process.argv[2]}"\n`);
  process.exit(2);
}

/** `send()` keeps none of what it is given (readiness mode): the read buffer can be reused at once. */
const sendCopies = backendName() === "native";

class EchoHandler extends Dispatcher {
  readonly #buf = Buffer.allocUnsafe(256 * 1024);
  /** Bytes read and not yet sent, a copy of their own; null when none wait. */
  #pending: Buffer | null = null;

  override readable(): boolean {
    return this.#pending === null;
  }
  override writable(): boolean {
    return this.#pending !== null;
  }
  override handleRead(): void {
    const n = this.recvInto(this.#buf);
    if (n === 0) return;
    const data = this.#buf.subarray(0, n);
    if (sendCopies) this.#send(data, false);
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

class EchoServer extends Dispatcher {
  override handleAccepted(sock: net.Socket): void {
    new EchoHandler(sock);
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
