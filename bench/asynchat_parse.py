"""CPython side of the asynchat parsing benchmark (bench/asynchat-parse.ts runs it).

Feeds the bytes of DATA, cut into the reads listed in SIZES (little-endian uint32 each),
through asynchat.async_chat.handle_read with terminator b"\\r\\n", recv() returning the next
read. The sink only counts: collect_incoming_data adds len(data), found_terminator adds a
line. Times passes until MIN_SECONDS have gone by (no warm-up: CPython has no JIT).
Prints one JSON object: {"seconds_per_pass", "passes", "lines", "bytes", "python"}.

Usage: python3 asynchat_parse.py DATA SIZES MIN_SECONDS
"""

import json
import struct
import sys
import time
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import asynchat


class CountingChat(asynchat.async_chat):
    """An async_chat without a socket: recv() hands out the prepared reads in order."""

    def __init__(self, reads):
        asynchat.async_chat.__init__(self)
        self.reads = reads
        self.next_read = 0
        self.lines = 0
        self.nbytes = 0
        self.set_terminator(b"\r\n")

    def recv(self, buffer_size):
        data = self.reads[self.next_read]
        self.next_read += 1
        return data

    def collect_incoming_data(self, data):
        self.nbytes += len(data)

    def found_terminator(self):
        self.lines += 1


def one_pass(reads):
    chat = CountingChat(reads)
    handle_read = chat.handle_read
    for _ in range(len(reads)):
        handle_read()
    return chat.lines, chat.nbytes


def main():
    data_path, sizes_path, min_seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    with open(data_path, "rb") as f:
        data = f.read()
    with open(sizes_path, "rb") as f:
        raw = f.read()
    sizes = struct.unpack("<%dI" % (len(raw) // 4), raw)
    reads = []
    at = 0
    for size in sizes:
        reads.append(data[at:at + size])
        at += size
    assert at == len(data), "the reads must cover the data exactly"

    results = set()
    passes = 0
    start = time.perf_counter()
    while True:
        results.add(one_pass(reads))
        passes += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            break
    if len(results) != 1:
        raise SystemExit("passes disagree: %r" % (results,))
    lines, nbytes = results.pop()
    json.dump({
        "seconds_per_pass": elapsed / passes,
        "passes": passes,
        "lines": lines,
        "bytes": nbytes,
        "python": sys.version.split()[0],
    }, sys.stdout)


if __name__ == "__main__":
    main()
