"""CPython side of the complexity benchmark (bench/complexity.ts runs it).

The same measurements as the asyncore-ts side, with CPython 3.11's asyncore and asynchat:
each section is described in the matching bench/complexity-*.ts file, and the code here
follows it step by step. The loop always runs as asyncore.loop(use_poll=True): select()
cannot watch a descriptor numbered 1024 or more (the 'select' section shows the error).

Usage: python3 complexity_asyncore.py SECTION PARAMS_JSON
SECTION is one of info, transfer, scan, loop, memory, select; PARAMS_JSON holds that
section's parameters (the same names as the TypeScript side) and, for loop and memory,
"node" and "peer": how to start bench/complexity-peer.js. Prints one JSON object.

Times are in seconds; CPU time is time.process_time() (user + system of this process).
"""

import gc
import json
import os
import resource
import select
import socket
import subprocess
import sys
import time
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import asyncore

from asynchat_parse import one_pass  # the same counting channel as the parsing benchmark


def raise_fd_limit():
    """10,000 dispatchers need more than the usual 1,024 descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def tune(sock):
    """Non-blocking and without Nagle's delay, as asyncore-ts's sockets are."""
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def run_until_exit(sock_map, count, timeout=2.0):
    """asyncore.loop(use_poll=True) until a handler raises ExitNow."""
    try:
        asyncore.loop(timeout=timeout, use_poll=True, map=sock_map, count=count)
    except asyncore.ExitNow:
        return
    raise RuntimeError("the loop stopped before the measured work was done")


# --- transfer ------------------------------------------------------------------------------

class Sender(asyncore.dispatcher_with_send):
    def handle_read(self):
        self.recv(65536)

    def handle_close(self):
        self.close()


class Sink(asyncore.dispatcher):
    read_size = 65536
    target = 0
    got = 0

    def handle_read(self):
        self.got += len(self.recv(self.read_size))
        if self.got >= self.target:
            raise asyncore.ExitNow()

    def writable(self):
        return False

    def handle_close(self):
        self.close()


def tcp_pair():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = socket.create_connection(listener.getsockname())
    peer, _ = listener.accept()
    listener.close()
    tune(client)
    tune(peer)
    return client, peer


def transfer(sock_map, sender, sink, payload):
    sink.got = 0
    sink.target = len(payload)
    sender.send(payload)
    run_until_exit(sock_map, 1000 + 20 * -(-len(payload) // sink.read_size))


def time_transfers(sock_map, sender, sink, payload, k):
    t0 = time.perf_counter()
    for _ in range(k):
        transfer(sock_map, sender, sink, payload)
    return (time.perf_counter() - t0) / k


def section_transfer(p):
    result = {}
    biggest = b"x" * max(p["sizes"])
    for read_size in p["readSizes"]:
        sock_map = {}
        a, b = tcp_pair()
        sender = Sender(a, map=sock_map)
        sink = Sink(b, map=sock_map)
        sink.read_size = read_size
        payloads = [biggest[:n] for n in p["sizes"]]
        counts = []
        for payload in payloads:
            t = time_transfers(sock_map, sender, sink, payload, 1)
            counts.append(min(10000, max(1, -(-p["minMs"] // (t * 1000)))))
        for i, payload in enumerate(payloads):
            time_transfers(sock_map, sender, sink, payload, int(counts[i]))
        samples = [[] for _ in payloads]
        for _ in range(p["reps"]):
            for i, payload in enumerate(payloads):
                samples[i].append(time_transfers(sock_map, sender, sink, payload, int(counts[i])))
        sender.close()
        sink.close()
        result[str(read_size)] = {"sizes": p["sizes"], "samples": samples}
    return result


# --- scan ----------------------------------------------------------------------------------

LINE = 100


def make_lines(total):
    """The same bytes as makeLines() in bench/complexity-scan.ts."""
    block = bytearray()
    for j in range(LINE):
        block += bytes(0x20 + (j * 31 + k * 7) % 95 for k in range(LINE - 2))
        block += b"\r\n"
    block = bytes(block)
    return (block * (total // len(block) + 1))[:total]


def time_passes(reads, k):
    t0 = time.perf_counter()
    for _ in range(k):
        one_pass(reads)
    return (time.perf_counter() - t0) / k


def section_scan(p):
    data = make_lines(max(p["sizes"]))
    curves = {}
    counts = {}
    for read_size in p["readSizes"]:
        inputs = []
        for n in p["sizes"]:
            chunk = data[:n]
            inputs.append([chunk[at:at + read_size] for at in range(0, n, read_size)])
        passes = []
        for n, reads in zip(p["sizes"], inputs):
            counts["%d/%d" % (read_size, n)] = list(one_pass(reads))
            t = time_passes(reads, 1)
            passes.append(int(min(100000, max(1, -(-p["minMs"] // (t * 1000))))))
        for i, reads in enumerate(inputs):
            time_passes(reads, passes[i])
        samples = [[] for _ in inputs]
        for _ in range(p["reps"]):
            for i, reads in enumerate(inputs):
                samples[i].append(time_passes(reads, passes[i]))
        curves[str(read_size)] = {"sizes": p["sizes"], "samples": samples}
    return {"curves": curves, "counts": counts}


# --- loop ----------------------------------------------------------------------------------

class Peer:
    """bench/complexity-peer.js, one JSON command and reply per line."""

    def __init__(self, node, script):
        self.proc = subprocess.Popen([node, script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)

    def send(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def reply(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the peer process exited")
        r = json.loads(line)
        if not r["ok"]:
            raise RuntimeError("peer: " + r.get("error", "failed"))
        return r

    def request(self, **cmd):
        self.send(**cmd)
        return self.reply()

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class EchoState:
    echoed = 0
    target = float("inf")


class WithSendEcho(asyncore.dispatcher_with_send):
    def __init__(self, sock, sock_map, state):
        asyncore.dispatcher_with_send.__init__(self, sock, map=sock_map)
        self.state = state

    def handle_read(self):
        data = self.recv(65536)
        if not data:
            return
        self.send(data)
        self.state.echoed += len(data)
        if self.state.echoed >= self.state.target:
            raise asyncore.ExitNow()

    def handle_close(self):
        self.close()


class OwnWritableEcho(asyncore.dispatcher):
    def __init__(self, sock, sock_map, state):
        asyncore.dispatcher.__init__(self, sock, map=sock_map)
        self.state = state
        self.out = []

    def handle_read(self):
        data = self.recv(65536)
        if data:
            self.out.append(data)

    def writable(self):
        return len(self.out) > 0

    def handle_write(self):
        head = self.out[0]
        sent = self.send(head)
        if sent == len(head):
            self.out.pop(0)
        else:
            self.out[0] = head[sent:]
        self.state.echoed += sent
        if self.state.echoed >= self.state.target:
            raise asyncore.ExitNow()

    def handle_close(self):
        self.close()


class Connector(asyncore.dispatcher):
    def handle_connect(self):
        raise asyncore.ExitNow()

    def handle_read(self):
        pass

    def handle_close(self):
        self.close()


def accept_from_peer(peer, m, active, make):
    """Open m connections from the peer, accept them with plain sockets, wrap each. Not timed."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    listener.settimeout(10)
    try:
        peer.send(op="open", port=listener.getsockname()[1], count=m, active=active)
        for _ in range(m):
            sock, _ = listener.accept()
            tune(sock)
            make(sock)
        peer.reply()
    finally:
        listener.close()


class PollCounter:
    """Counts asyncore.poll2() calls: asyncore.loop() looks poll2 up at each call."""

    def __init__(self):
        self.calls = 0
        self.original = asyncore.poll2

    def __enter__(self):
        def counting(timeout=0.0, map=None):
            self.calls += 1
            return self.original(timeout, map)
        asyncore.poll2 = counting
        return self

    def __exit__(self, *exc):
        asyncore.poll2 = self.original


def time_creation(sock_map, batch):
    t0 = time.perf_counter()
    made = [asyncore.dispatcher(map=sock_map) for _ in range(batch)]
    create = (time.perf_counter() - t0) / batch
    t1 = time.perf_counter()
    for d in made:
        d.create_socket(socket.AF_INET, socket.SOCK_STREAM)
    create_socket = (time.perf_counter() - t1) / batch
    for d in made:
        d.close()
    return create, create_socket


def time_connects(sock_map, port, count):
    calls = []
    connected = []
    for _ in range(count):
        d = Connector(map=sock_map)
        d.create_socket(socket.AF_INET, socket.SOCK_STREAM)
        t0 = time.perf_counter()
        try:
            d.connect(("127.0.0.1", port))
            calls.append(time.perf_counter() - t0)
            run_until_exit(sock_map, 10000)
        except asyncore.ExitNow:
            # connect() finished at once and called handle_connect() itself.
            calls.append(time.perf_counter() - t0)
        connected.append(time.perf_counter() - t0)
        d.close()
    calls.sort()
    connected.sort()
    return calls[len(calls) // 2], connected[len(connected) // 2]


def ping_pong(sock_map, peer, state, requests, size):
    state.echoed = 0
    state.target = requests * size
    with PollCounter() as counter:
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        peer.send(op="pingpong", requests=requests, size=size)
        run_until_exit(sock_map, None)
        wall = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
    peer.reply()
    return wall, cpu, counter.calls


def section_loop(p):
    raise_fd_limit()
    ms = p["ms"]

    def curve():
        return {"sizes": ms, "samples": [[] for _ in ms]}

    def turn_curves():
        return {"cpuPerTurn": curve(), "cpuPerRequest": curve(), "wallPerRequest": curve(),
                "turnsPerRequest": curve()}

    result = {"create": curve(), "createSocket": curve(), "connectCall": curve(), "connected": curve(),
              "turn": {"withSend": turn_curves(), "ownWritable": turn_curves()}}
    peer = Peer(p["node"], p["peer"])
    try:
        listen_port = peer.request(op="listen")["port"]
        for _ in range(20):
            time_creation({}, p["batch"])
        requests_for = {}
        # Each repetition goes through every m, as on the TypeScript side.
        for _ in range(p["reps"]):
            for i, m in enumerate(ms):
                for kind, handler in (("withSend", WithSendEcho), ("ownWritable", OwnWritableEcho)):
                    sock_map = {}
                    state = EchoState()
                    accept_from_peer(peer, m, min(p["active"], m),
                                     lambda sock: handler(sock, sock_map, state))
                    if kind == "withSend":
                        time_creation(sock_map, p["batch"])
                        time_connects(sock_map, listen_port, 3)
                        create, create_socket = time_creation(sock_map, p["batch"])
                        result["create"]["samples"][i].append(create)
                        result["createSocket"]["samples"][i].append(create_socket)
                        call, connected = time_connects(sock_map, listen_port, p["connects"])
                        result["connectCall"]["samples"][i].append(call)
                        result["connected"]["samples"][i].append(connected)
                    key = (m, kind)
                    if key not in requests_for:
                        # First repetition: calibrate R on a short run, then run R once untimed.
                        warm_wall, _, _ = ping_pong(sock_map, peer, state, 200, p["size"])
                        requests_for[key] = int(min(100000, max(100, round(
                            p["budgetMs"] / 1000 / warm_wall * 200))))
                        ping_pong(sock_map, peer, state, requests_for[key], p["size"])
                    else:
                        ping_pong(sock_map, peer, state, 200, p["size"])
                    requests = requests_for[key]
                    wall, cpu, turns = ping_pong(sock_map, peer, state, requests, p["size"])
                    curves = result["turn"][kind]
                    curves["cpuPerTurn"]["samples"][i].append(cpu / turns)
                    curves["cpuPerRequest"]["samples"][i].append(cpu / requests)
                    curves["wallPerRequest"]["samples"][i].append(wall / requests)
                    curves["turnsPerRequest"]["samples"][i].append(turns / requests)
                    asyncore.close_all(sock_map, ignore_all=True)
                    peer.request(op="close")
        peer.request(op="unlisten")
    finally:
        peer.close()
    return result


# --- memory --------------------------------------------------------------------------------

def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def section_memory(p):
    """RSS growth with m idle dispatchers, in this fresh process (as complexity-memory.ts)."""
    raise_fd_limit()
    m = p["m"]
    peer = Peer(p["node"], p["peer"])
    sock_map = {}
    state = EchoState()
    try:
        accept_from_peer(peer, 10, 0, lambda sock: WithSendEcho(sock, sock_map, state))
        asyncore.loop(timeout=0.01, use_poll=True, map=sock_map, count=3)
        asyncore.close_all(sock_map, ignore_all=True)
        peer.request(op="close")
        gc.collect()
        before = rss_bytes()
        accept_from_peer(peer, m, 0, lambda sock: WithSendEcho(sock, sock_map, state))
        asyncore.loop(timeout=0.01, use_poll=True, map=sock_map, count=3)
        gc.collect()
        after = rss_bytes()
        if len(sock_map) != m:
            raise RuntimeError("%d dispatchers, expected %d" % (len(sock_map), m))
        return {"m": m, "rssBytes": after - before}
    finally:
        asyncore.close_all(sock_map, ignore_all=True)
        peer.close()


# --- select and info -----------------------------------------------------------------------

def section_select(p):
    """What asyncore.loop() without use_poll does with a descriptor numbered 1024 or more."""
    raise_fd_limit()
    held = []
    sock_map = {}
    try:
        while True:
            s = socket.socket()
            held.append(s)
            if s.fileno() >= 1024:
                break
        sock = held.pop()
        fd = sock.fileno()
        asyncore.dispatcher(sock, map=sock_map)
        try:
            asyncore.loop(timeout=0, use_poll=False, map=sock_map, count=1)
            return {"fd": fd, "error": None}
        except ValueError as e:
            return {"fd": fd, "error": "ValueError: %s" % e}
    finally:
        asyncore.close_all(sock_map, ignore_all=True)
        for s in held:
            s.close()


def section_info(p):
    return {"python": sys.version.split()[0], "implementation": sys.implementation.name,
            "poll": hasattr(select, "poll")}


SECTIONS = {"info": section_info, "transfer": section_transfer, "scan": section_scan,
            "loop": section_loop, "memory": section_memory, "select": section_select}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in SECTIONS:
        sys.exit("usage: complexity_asyncore.py {%s} PARAMS_JSON" % ",".join(SECTIONS))
    json.dump(SECTIONS[sys.argv[1]](json.loads(sys.argv[2])), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
