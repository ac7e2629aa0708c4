/**
 * The classic asyncore client: connect, send `Hello\r\n`, print what comes back, close.
 * Run: `node dist-test/examples/hello-client.js PORT [HOST]`.
 */
import { type Address, Dispatcher, loop } from "asyncore-ts/asyncore";

class HelloClient extends Dispatcher {
  #buffer = Buffer.from("Hello\r\n");
  #received = "";

  constructor(addr: Address) {
    super();
    this.createSocket();
    this.connect(addr);
  }

  override handleConnect(): void {
    console.log("connected");
  }

  override writable(): boolean {
    return this.#buffer.length > 0;
  }

  override handleWrite(): void {
    const sent = this.send(this.#buffer);
    this.#buffer = this.#buffer.subarray(sent);
  }

  override handleRead(): void {
    this.#received += this.recv(8192).toString();
    if (this.#received.endsWith("\r\n")) {
      console.log(`received: ${JSON.stringify(this.#received)}`);
      this.close();
    }
  }

  override handleClose(): void {
    this.close();
  }
}

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error("usage: hello-client PORT [HOST]");
  process.exit(2);
}
new HelloClient([process.argv[3] ?? "127.0.0.1", port]);
await loop({ timeout: 5000 });
