/**
 * The baseline echo server of the benchmarks: plain `node:net`, every chunk written straight
 * back (`socket.on("data", (d) => socket.write(d))`), no backpressure handling, no framing.
 *
 * Server contract shared by every `bench/servers/*-echo.ts`:
 * - `node <server>.js [port]` listens on 127.0.0.1 (port 0, i.e. any free port, by default);
 * - once ready it prints exactly one line `listening on 127.0.0.1:PORT` to stdout;
 * - it exits with status 0 on SIGTERM or SIGINT.
 *
 * @module
 */
import net from "node:net";

/** Connection resets are how load generators hang up; anything else is worth a line. */
const QUIET_CODES = new Set(["ECONNRESET", "EPIPE"]);

const port = Number(process.argv[2] ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`raw-net-echo: invalid port "${process.argv[2]}"\n`);
  process.exit(2);
}

const sockets = new Set<net.Socket>();
const server = net.createServer({ noDelay: true }, (socket) => {
  sockets.add(socket);
  socket.on("data", (data) => socket.write(data));
  socket.on("error", (err: NodeJS.ErrnoException) => {
    if (!QUIET_CODES.has(err.code ?? "")) process.stderr.write(`raw-net-echo: ${err.message}\n`);
  });
  socket.on("close", () => sockets.delete(socket));
});

server.on("error", (err) => {
  process.stderr.write(`raw-net-echo: ${err.message}\n`);
  process.exit(1);
});

server.listen(port, "127.0.0.1", () => {
  const addr = server.address() as net.AddressInfo;
  process.stdout.write(`listening on 127.0.0.1:${addr.port}\n`);
});

function shutdown(): void {
  server.close();
  for (const socket of sockets) socket.destroy();
  process.exit(0);
}
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
