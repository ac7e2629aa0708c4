/**
 * The protocol-API echo server of the benchmarks: `createServer` with a protocol whose
 * `dataReceived` writes each chunk straight back, and which stops reading while its
 * transport's write buffer is over the high-water mark (`pauseWriting` → `pauseReading`,
 * `resumeWriting` → `resumeReading`), so a client that does not read cannot grow it without
 * bound. Same contract as `raw-net-echo.ts`: `node protocol-echo.js [port]`, prints
 * `listening on 127.0.0.1:PORT`, exits 0 on SIGTERM/SIGINT.
 *
 * With `ECHO_READ_INTO=1` it reads without allocating: a `BufferedProtocol` whose `getBuffer()`
 * gives one 256 KiB Buffer that all connections share, and whose `bufferUpdated(n)` writes those
 * n bytes straight back. The memory is free again when `write()` returns: a transport driving a
 * buffered protocol copies whatever it cannot send at once.
 *
 * @module
 */
import {
  type BufferedProtocol,
  createServer,
  type Protocol,
  setExceptionHandler,
  type Transport,
} from "../../src/protocols/index.js";

/** Connection resets are how load generators hang up; anything else is worth a line. */
const QUIET_CODES = new Set(["ECONNRESET", "EPIPE"]);

const port = Number(process.argv[2] ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`protocol-echo: invalid port "${process.argv[2]}"\n`);
  process.exit(2);
}

setExceptionHandler(({ message, exception }) => {
  const code = (exception as Error & { code?: string }).code ?? "";
  if (!QUIET_CODES.has(code)) process.stderr.write(`protocol-echo: ${message}: ${exception.message}\n`);
});

const open = new Set<Transport>();

class Echo implements Protocol {
  #transport: Transport | undefined;

  connectionMade(transport: Transport): void {
    this.#transport = transport;
    open.add(transport);
  }
  dataReceived(data: Buffer): void {
    this.#transport!.write(data);
  }
  pauseWriting(): void {
    this.#transport!.pauseReading();
  }
  resumeWriting(): void {
    this.#transport!.resumeReading();
  }
  connectionLost(err: Error | null): void {
    open.delete(this.#transport!);
    const code = (err as (Error & { code?: string }) | null)?.code ?? "";
    if (err && !QUIET_CODES.has(code)) process.stderr.write(`protocol-echo: ${err.message}\n`);
  }
}

/** Where every `ECHO_READ_INTO` connection reads (the most one read takes on the native backend). */
const readBuffer = Buffer.allocUnsafe(256 * 1024);

class BufferedEcho extends Echo implements BufferedProtocol {
  getBuffer(): Uint8Array {
    return readBuffer;
  }
  bufferUpdated(nbytes: number): void {
    this.dataReceived(readBuffer.subarray(0, nbytes));
  }
}

const EchoProtocol = process.env.ECHO_READ_INTO === "1" ? BufferedEcho : Echo;

const server = await createServer(() => new EchoProtocol(), "127.0.0.1", port, { backlog: 1024 }).catch(
  (err: Error) => {
    process.stderr.write(`protocol-echo: ${err.message}\n`);
    process.exit(1);
  },
);
const [, boundPort] = server.addresses[0] as [string, number];
process.stdout.write(`listening on 127.0.0.1:${boundPort}\n`);

function shutdown(): void {
  server.close();
  for (const transport of open) transport.abort();
  process.exit(0);
}
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
