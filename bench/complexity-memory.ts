/**
 * Complexity benchmark, asyncore-ts side: resident memory per idle dispatcher.
 *
 * Run as its own fresh process (`node --expose-gc complexity-memory.js M`), so that nothing
 * measured before has left memory to reuse: it starts the peer process, collects garbage and
 * reads its RSS; opens M connections from the peer, accepts them with plain `node:net` and
 * wraps each in a `DispatcherWithSend` echo in one map; runs a few loop turns, collects garbage
 * again and reads its RSS. Prints one JSON line: `{"m", "rssBytes", "heapBytes"}` (the growth
 * of RSS and of V8's used heap). {@link measureMemory} runs it from the benchmark.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { closeAll, loop, type SocketMap } from "../src/asyncore/index.js";
import { acceptFromPeer, type EchoState, WithSendEcho } from "./complexity-loop.js";
import { PeerClient } from "./complexity-peer-client.js";

/** Growth of RSS and of the used heap with `m` idle dispatchers, in bytes. */
export interface MemorySample {
  m: number;
  rssBytes: number;
  heapBytes: number;
}

/** Run the probe in a fresh Node process with `--expose-gc`. */
export function measureMemory(m: number): MemorySample {
  const r = spawnSync(process.execPath, ["--expose-gc", fileURLToPath(import.meta.url), String(m)], {
    encoding: "utf8",
    timeout: 120_000,
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`Memory probe failed with status ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as MemorySample;
}

async function settle(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("Cannot measure memory: run node with --expose-gc");
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function probe(m: number): Promise<MemorySample> {
  const peer = new PeerClient();
  const map: SocketMap = new Map();
  const state: EchoState = { echoed: 0, target: Number.POSITIVE_INFINITY };
  try {
    // Warm the code paths once, so that compiled code is not counted as per-dispatcher memory.
    await acceptFromPeer(peer, 10, 0, (sock) => new WithSendEcho(sock, map, state));
    await loop({ map, timeout: 10, count: 3 });
    closeAll(map, true);
    await peer.request({ op: "close" });
    await settle();
    const before = process.memoryUsage();
    await acceptFromPeer(peer, m, 0, (sock) => new WithSendEcho(sock, map, state));
    await loop({ map, timeout: 10, count: 3 });
    await settle();
    const after = process.memoryUsage();
    if (map.size !== m) throw new Error(`Cannot measure memory: ${map.size} dispatchers, expected ${m}`);
    return { m, rssBytes: after.rss - before.rss, heapBytes: after.heapUsed - before.heapUsed };
  } finally {
    closeAll(map, true);
    await peer.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const m = Number(process.argv[2]);
  if (!Number.isInteger(m) || m <= 0) {
    process.stderr.write("usage: node --expose-gc complexity-memory.js M\n");
    process.exit(2);
  }
  process.stdout.write(`${JSON.stringify(await probe(m))}\n`);
}
