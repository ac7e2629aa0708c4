/**
 * Complexity benchmark, asyncore-ts side: moving n bytes through one connection.
 *
 * What is timed: a `DispatcherWithSend` sender calls `send(payload)` with all n bytes at once;
 * a sink dispatcher in the same map reads with `recv(readSize)` in `handleRead()` and raises
 * `ExitNow` when the n-th byte has arrived; `loop()` runs in between. One transfer is the time
 * from the `send()` call to that `ExitNow`: every `handleWrite` (`initiateSend`) and every
 * `handleRead` (`recv`) of those n bytes, and the loop turns that run them. Each measurement
 * times as many transfers back to back as fit in `minMs` (at least one) and divides.
 *
 * @module
 */
import { Dispatcher, DispatcherWithSend, ExitNow, type SocketMap } from "../src/asyncore/index.js";
import { connectPair, runUntilExit } from "./complexity-setup.js";
import type { Curve } from "./complexity-stats.js";

/** Parameters of {@link measureTransfer}. */
export interface TransferParams {
  /** Bytes per transfer. */
  sizes: number[];
  /** `recv()` sizes of the sink: one curve each. */
  readSizes: number[];
  reps: number;
  minMs: number;
}

/** Seconds per transfer, one curve per read size (keyed by the read size). */
export type TransferResult = Record<string, Curve>;

class Sender extends DispatcherWithSend {
  override handleConnect(): void {}
  override handleRead(): void {
    this.recv(65536);
  }
  override handleClose(): void {
    this.close();
  }
}

class Sink extends Dispatcher {
  readSize = 65536;
  target = 0;
  got = 0;
  override handleRead(): void {
    this.got += this.recv(this.readSize).length;
    if (this.got >= this.target) throw new ExitNow();
  }
  override writable(): boolean {
    return false;
  }
  override handleClose(): void {
    this.close();
  }
}

const hrtime = (): bigint => process.hrtime.bigint();

async function transfer(map: SocketMap, sender: Sender, sink: Sink, payload: Buffer): Promise<void> {
  sink.got = 0;
  sink.target = payload.length;
  sender.send(payload);
  // Enough turns for one recv() per read size, many times over; a stall fails instead of hanging.
  await runUntilExit(map, 1000 + 20 * Math.ceil(payload.length / sink.readSize));
}

/** Seconds per transfer: `k` transfers back to back. */
async function timeTransfers(map: SocketMap, sender: Sender, sink: Sink, payload: Buffer, k: number) {
  const t0 = hrtime();
  for (let i = 0; i < k; i++) await transfer(map, sender, sink, payload);
  return Number(hrtime() - t0) / 1e9 / k;
}

/** Measure every read size and every transfer size; see the module comment for what is timed. */
export async function measureTransfer(p: TransferParams): Promise<TransferResult> {
  const result: TransferResult = {};
  const biggest = Buffer.alloc(Math.max(...p.sizes), 0x78);
  for (const readSize of p.readSizes) {
    const map: SocketMap = new Map();
    const sender = new Sender(undefined, map);
    const sink = await connectPair(map, sender, (sock) => new Sink(sock, map));
    sink.readSize = readSize;
    const payloads = p.sizes.map((n) => biggest.subarray(0, n));
    // Warm-up and calibration: how many transfers make one measurement of about minMs.
    const counts = [];
    for (const payload of payloads) {
      const t = await timeTransfers(map, sender, sink, payload, 1);
      counts.push(Math.min(10_000, Math.max(1, Math.ceil(p.minMs / 1000 / t))));
    }
    // One untimed repetition: the JIT has compiled every path before the first timed one.
    for (const [i, payload] of payloads.entries())
      await timeTransfers(map, sender, sink, payload, counts[i]!);
    const samples: number[][] = p.sizes.map(() => []);
    for (let r = 0; r < p.reps; r++) {
      for (const [i, payload] of payloads.entries()) {
        samples[i]!.push(await timeTransfers(map, sender, sink, payload, counts[i]!));
      }
    }
    sender.close();
    sink.close();
    result[String(readSize)] = { sizes: p.sizes, samples };
  }
  return result;
}
