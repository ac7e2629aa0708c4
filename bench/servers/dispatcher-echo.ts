/**
 * The dispatcher-API echo server of the benchmarks: a `DispatcherWithSend` per connection,
 * `handleRead()` sends back what `recv(262144)` returned (256 KiB, the most one read takes on
 * the native backend: a 100 KiB message in one system call). Same contract as `raw-net-echo.ts`:
 * `node dispatcher-echo.js [port]`, prints `listening on 127.0.0.1:PORT`, exits 0 on SIGTERM/SIGINT.
 *
 * @module
 */
import type * as net from "node:net";
import { closeAll, Dispatcher, DispatcherWithSend, loop } from "../../src/asyncore/index.js";

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
