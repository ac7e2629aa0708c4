/**
 * A handler with a buffered write path, written the asyncore way: `handleRead()` queues a
 * reply, `writable()` says whether anything is queued, `handleWrite()` sends as much as the
 * socket takes. This one answers each line with its length, and `bye` with a goodbye and a close.
 * Run: `node dist-test/examples/buffered-handler.js [port]`.
 */
import type * as net from "node:net";
import { closeAll, Dispatcher, loop } from "asyncore-ts/asyncore";

class LineLengthHandler extends Dispatcher {
  #pending = "";
  #out: Buffer[] = [];
  #closing = false;

  override handleRead(): void {
    this.#pending += this.recv(4096).toString();
    let newline = this.#pending.indexOf("\n");
    while (newline >= 0) {
      const line = this.#pending.slice(0, newline).replace(/\r$/, "");
      this.#pending = this.#pending.slice(newline + 1);
      if (line === "bye") {
        this.#out.push(Buffer.from("goodbye\r\n"));
        this.#closing = true;
        break;
      }
      this.#out.push(Buffer.from(`${line.length}\r\n`));
      newline = this.#pending.indexOf("\n");
    }
  }

  override writable(): boolean {
    return this.#out.length > 0;
  }

  override handleWrite(): void {
    const head = this.#out[0]!;
    const sent = this.send(head);
    if (sent === head.length) this.#out.shift();
    else this.#out[0] = head.subarray(sent);
    if (this.#out.length === 0 && this.#closing) this.close();
  }

  override handleClose(): void {
    this.close();
  }
}

class Server extends Dispatcher {
  override handleAccepted(sock: net.Socket): void {
    new LineLengthHandler(sock);
  }
}

const server = new Server();
server.createSocket();
void server.bind(["127.0.0.1", Number(process.argv[2] ?? 0)]);
const [host, port] = (await server.listen(5)) as [string, number];
console.log(`listening on ${host}:${port}`);
process.once("SIGINT", () => closeAll());
process.once("SIGTERM", () => closeAll());
await loop();
