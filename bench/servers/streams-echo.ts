/**
 * The streams-API echo server of the benchmarks: `startServer`, and per connection a loop of
 * `reader.read(65536)` written straight back, awaiting `drain()` only while the writer's
 * buffer is over its high-water mark. Same contract as `raw-net-echo.ts`:
 * `node streams-echo.js [port]`, prints `listening on 127.0.0.1:PORT`, exits 0 on SIGTERM/SIGINT.
 *
 * @module
 */
import { setExceptionHandler } from "../../src/protocols/index.js";
import { type StreamReader, type StreamWriter, startServer } from "../../src/streams/index.js";

/** Connection resets are how load generators hang up; anything else is worth a line. */
const QUIET_CODES = new Set(["ECONNRESET", "EPIPE"]);

const port = Number(process.argv[2] ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`streams-echo: invalid port "${process.argv[2]}"\n`);
  process.exit(2);
}

setExceptionHandler(({ message, exception }) => {
  const code = (exception as Error & { code?: string }).code ?? "";
  if (!QUIET_CODES.has(code)) process.stderr.write(`streams-echo: ${message}: ${exception.message}\n`);
});

const writers = new Set<StreamWriter>();

async function echo(reader: StreamReader, writer: StreamWriter): Promise<void> {
  writers.add(writer);
  const transport = writer.transport;
  // The limits stay as set at connect: read once, not an array per message.
  const high = transport.getWriteBufferLimits()[1];
  try {
    for (;;) {
      const data = await reader.read(65536);
      if (data.length === 0) break;
      writer.write(data);
      if (transport.getWriteBufferSize() > high) await writer.drain();
    }
  } finally {
    writers.delete(writer);
    writer.close();
  }
}

const server = await startServer(echo, "127.0.0.1", port, { backlog: 1024 });
const [, boundPort] = server.addresses[0] as [string, number];
process.stdout.write(`listening on 127.0.0.1:${boundPort}\n`);

function shutdown(): void {
  server.close();
  for (const writer of writers) writer.transport.abort();
  process.exit(0);
}
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
