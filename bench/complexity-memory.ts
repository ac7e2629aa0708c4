/**
 * Complexity benchmark, asyncore-ts side: resident memory per idle dispatcher.
 *
 * Runs in a fresh process (a section of `complexity-side.js`), so that nothing measured before
 * has left memory to reuse: it starts the peer process, opens and closes 10 connections to warm
 * up, collects garbage and reads its RSS; opens m connections from the peer, accepts them with
 * a listening dispatcher and wraps each in a `DispatcherWithSend` echo in one map; runs a few
 * loop turns, collects garbage again and reads its RSS. The result: the growth of RSS and of
 * V8's used heap.
 *
 * @module
 */
import { closeAll, loop, type SocketMap } from "../src/asyncore/index.js";
import { type EchoState, WithSendEcho } from "./complexity-loop.js";
import { PeerClient } from "./complexity-peer-client.js";
import { acceptFromPeer } from "./complexity-setup.js";

/** Growth of RSS and of the used heap with `m` idle dispatchers, in bytes. */
export interface MemorySample {
  m: number;
  rssBytes: number;
  heapBytes: number;
}

async function settle(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("Cannot measure memory: run node with --expose-gc");
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Measure in this process, which must be fresh and run with `--expose-gc`: the benchmark runs
 * it as a section of `complexity-side.js`.
 */
export async function probeMemory(m: number): Promise<MemorySample> {
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
