/**
 * The classic asyncore echo server: a listening dispatcher that hands each connection to an
 * echo handler. Run: `node dist-test/examples/echo-server.js [port]`; stop with Ctrl-C.
 */
import type * as net from "node:net";
import { type Address, closeAll, Dispatcher, DispatcherWithSend, loop } from "asyncore-ts/asyncore";

/** Sends back whatever arrives. */
class EchoHandler extends DispatcherWithSend {
  override handleRead(): void {
    const data = this.recv(8192);
    if (data.length > 0) this.send(data);
  }

  override handleClose(): void {
    this.close();
  }
}

/** Accepts connections and gives each to an EchoHandler. */
class EchoServer extends Dispatcher {
  constructor(addr: Address) {
    super();
    this.createSocket();
    this.setReuseAddr();
    void this.bind(addr);
  }

  override handleAccepted(sock: net.Socket, addr: Address): void {
    console.log(`incoming connection from ${typeof addr === "string" ? addr : addr.join(":")}`);
    new EchoHandler(sock);
  }
}

const server = new EchoServer(["127.0.0.1", Number(process.argv[2] ?? 0)]);
const [host, port] = (await server.listen(5)) as [string, number];
console.log(`listening on ${host}:${port}`);
process.once("SIGINT", () => closeAll());
process.once("SIGTERM", () => closeAll());
await loop();
