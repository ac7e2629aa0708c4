"""Echo server on Python's asyncio with uvloop: a reference point outside Node for the echo
benchmark (bench/echo-compare.ts, api ``uvloop``).

Same contract as every bench/servers/*-echo server:
- ``python3 uvloop-echo.py [port]`` listens on 127.0.0.1 (port 0, any free port, by default);
- once ready it prints exactly one line ``listening on 127.0.0.1:PORT`` to stdout;
- it exits with status 0 on SIGTERM or SIGINT.

An asyncio Protocol writes every chunk straight back, with TCP_NODELAY (asyncio's default for
TCP transports), as raw-net-echo does on node:net. Needs uvloop (Debian: python3-uvloop, for
/usr/bin/python3).

With ``ECHO_READ_INTO=1`` it is an asyncio ``BufferedProtocol`` that reads into a 256 KiB
``bytearray`` of its own per connection and writes back a copy of what it read, as uvloop's own
echo benchmark does in its buffered mode (a write may keep what it is given).
"""

import asyncio
import os
import signal
import sys

import uvloop


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)

    def connection_lost(self, exc):
        self.transport = None


class BufferedEcho(asyncio.BufferedProtocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buffer = bytearray(256 * 1024)

    def get_buffer(self, sizehint):
        return self.buffer

    def buffer_updated(self, nbytes):
        self.transport.write(self.buffer[:nbytes])

    def connection_lost(self, exc):
        self.transport = None


async def main(port):
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    protocol = BufferedEcho if os.environ.get("ECHO_READ_INTO") == "1" else Echo
    server = await loop.create_server(protocol, "127.0.0.1", port)
    bound = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"listening on 127.0.0.1:{bound}\n")
    sys.stdout.flush()
    await stop
    server.close()


if __name__ == "__main__":
    try:
        wanted = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    except ValueError:
        sys.stderr.write(f"uvloop-echo: invalid port {sys.argv[1]!r}\n")
        sys.exit(2)
    if not 0 <= wanted <= 65535:
        sys.stderr.write(f"uvloop-echo: invalid port {wanted}\n")
        sys.exit(2)
    uvloop.install()
    asyncio.run(main(wanted))
    sys.exit(0)
