/**
 * Complexity benchmark, asyncore-ts side: what an operation costs when the map holds m
 * connected dispatchers.
 *
 * For each m, m connections are opened from the peer process (`complexity-peer.js`) and
 * accepted by a listening dispatcher in a map of its own (setup, not timed); each accepted
 * socket becomes an echo dispatcher in a fresh map. Then, with the map at size m:
 *
 * - **dispatcher()**: `new Dispatcher(undefined, map)` × `batch`, time per call;
 * - **createSocket()**: `createSocket(AF_INET, SOCK_STREAM)` on each of those, time per call
 *   (they join the map; they are closed afterwards);
 * - **connect()**: `connects` times in a row, a fresh dispatcher connects to a listener of the
 *   peer; timed: the `connect()` call, and from before that call until its `handleConnect()`
 *   runs inside `loop()` (time to connected); the median of the `connects` is one sample;
 * - **one loop turn**: 10 of the m connections play ping-pong with the peer (one 64-byte
 *   message outstanding per connection) while the others sit idle in the map; `loop()` runs
 *   until R echoes have been sent. Recorded: this process's CPU time (user + system) per loop
 *   turn and per request, and wall time per request. A loop turn is one collection of ready
 *   dispatchers (`Scheduler.collections`); CPython's is one `poll2()` call.
 *
 * The loop turn is measured with two handler classes: a `DispatcherWithSend` echo (whose
 * predicates the library owns) and an echo with its own `writable()` (which the 8 ms sweep
 * re-checks). R is set per m and class from a warm-up run so that one repetition lasts about
 * `budgetMs`. Each repetition goes through every m, with fresh connections each time.
 *
 * @module
 */
import { schedulerFor } from "../src/asyncore/_scheduler.js";
import {
  AF_INET,
  closeAll,
  Dispatcher,
  type DispatcherSocket,
  DispatcherWithSend,
  ExitNow,
  loop,
  SOCK_STREAM,
  type SocketMap,
} from "../src/asyncore/index.js";
import type { PeerClient } from "./complexity-peer-client.js";
import { acceptFromPeer, runUntilExit } from "./complexity-setup.js";
import type { Curve } from "./complexity-stats.js";

/** Parameters of {@link measureLoop}. */
export interface LoopParams {
  /** Map sizes m. */
  ms: number[];
  /** Connections playing ping-pong (at most m). */
  active: number;
  /** Bytes per ping. */
  size: number;
  reps: number;
  /** Wall time of one ping-pong repetition, roughly. */
  budgetMs: number;
  /** Dispatchers created per dispatcher()/createSocket() sample. */
  batch: number;
  /** Connects per connect sample. */
  connects: number;
}

/** The loop-turn figures of one handler class, each against m. */
export interface TurnCurves {
  cpuPerTurn: Curve;
  cpuPerRequest: Curve;
  wallPerRequest: Curve;
  turnsPerRequest: Curve;
  /** Dispatchers the scheduler inspected per request (asyncore-ts only: a work counter). */
  inspectedPerRequest?: Curve;
}

/** Everything measured against m (seconds). */
export interface LoopResult {
  create: Curve;
  createSocket: Curve;
  connectCall: Curve;
  connected: Curve;
  turn: { withSend: TurnCurves; ownWritable: TurnCurves };
}

/** Shared by the echo handlers of one map: raise ExitNow once `target` bytes were echoed. */
export interface EchoState {
  echoed: number;
  target: number;
}

/** Echo through `DispatcherWithSend`'s buffered `send()`; its predicates are the library's. */
export class WithSendEcho extends DispatcherWithSend {
  constructor(
    sock: DispatcherSocket,
    map: SocketMap,
    readonly state: EchoState,
  ) {
    super(sock, map);
  }
  override handleRead(): void {
    const data = this.recv(65536);
    if (data.length === 0) return;
    this.send(data);
    if ((this.state.echoed += data.length) >= this.state.target) throw new ExitNow();
  }
  override handleClose(): void {
    this.close();
  }
}

/** Echo with its own `writable()`: the scheduler cannot see it change, so the sweep watches it. */
export class OwnWritableEcho extends Dispatcher {
  #out: Buffer[] = [];
  constructor(
    sock: DispatcherSocket,
    map: SocketMap,
    readonly state: EchoState,
  ) {
    super(sock, map);
  }
  override handleRead(): void {
    const data = this.recv(65536);
    if (data.length > 0) this.#out.push(data);
  }
  override writable(): boolean {
    return this.#out.length > 0;
  }
  override handleWrite(): void {
    const head = this.#out[0]!;
    const sent = this.send(head);
    if (sent === head.length) this.#out.shift();
    else this.#out[0] = head.subarray(sent);
    if ((this.state.echoed += sent) >= this.state.target) throw new ExitNow();
  }
  override handleClose(): void {
    this.close();
  }
}

class Connector extends Dispatcher {
  override handleConnect(): void {
    throw new ExitNow();
  }
  override handleRead(): void {}
  override handleClose(): void {
    this.close();
  }
}

const hrtime = (): bigint => process.hrtime.bigint();
const seconds = (from: bigint): number => Number(hrtime() - from) / 1e9;

function timeCreation(map: SocketMap, batch: number): [number, number] {
  const made: Dispatcher[] = new Array(batch);
  const t0 = hrtime();
  for (let i = 0; i < batch; i++) made[i] = new Dispatcher(undefined, map);
  const create = seconds(t0) / batch;
  const t1 = hrtime();
  for (const d of made) d.createSocket(AF_INET, SOCK_STREAM);
  const createSocket = seconds(t1) / batch;
  for (const d of made) d.close();
  return [create, createSocket];
}

async function timeConnects(map: SocketMap, port: number, count: number): Promise<[number, number]> {
  const calls: number[] = [];
  const connected: number[] = [];
  for (let i = 0; i < count; i++) {
    const d = new Connector(undefined, map);
    d.createSocket(AF_INET, SOCK_STREAM);
    const t0 = hrtime();
    d.connect(["127.0.0.1", port]);
    calls.push(seconds(t0));
    await runUntilExit(map, 10_000);
    connected.push(seconds(t0));
    d.close();
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  return [med(calls), med(connected)];
}

/** One ping-pong run of `requests` echoes: CPU and wall seconds, loop turns. */
async function pingPong(map: SocketMap, peer: PeerClient, state: EchoState, requests: number, size: number) {
  const scheduler = schedulerFor(map);
  state.echoed = 0;
  state.target = requests * size;
  const turns0 = scheduler.collections;
  const inspected0 = scheduler.inspected;
  const cpu0 = process.cpuUsage();
  const t0 = hrtime();
  const done = peer.request({ op: "pingpong", requests, size });
  await runUntilExit(map, Number.MAX_SAFE_INTEGER);
  const wall = seconds(t0);
  const cpuUsed = process.cpuUsage(cpu0);
  const turns = scheduler.collections - turns0;
  const inspected = scheduler.inspected - inspected0;
  await done;
  return { wall, cpu: (cpuUsed.user + cpuUsed.system) / 1e6, turns, inspected };
}

function emptyTurnCurves(ms: number[]): TurnCurves {
  const curve = (): Curve => ({ sizes: ms, samples: ms.map(() => []) });
  return {
    cpuPerTurn: curve(),
    cpuPerRequest: curve(),
    wallPerRequest: curve(),
    turnsPerRequest: curve(),
    inspectedPerRequest: curve(),
  };
}

/** Measure everything against m; see the module comment. */
export async function measureLoop(p: LoopParams, peer: PeerClient): Promise<LoopResult> {
  const curve = (): Curve => ({ sizes: p.ms, samples: p.ms.map(() => []) });
  const result: LoopResult = {
    create: curve(),
    createSocket: curve(),
    connectCall: curve(),
    connected: curve(),
    turn: { withSend: emptyTurnCurves(p.ms), ownWritable: emptyTurnCurves(p.ms) },
  };
  const listenPort = (await peer.request({ op: "listen" })).port!;
  // Compiled code first: the smallest m must not pay for warming up.
  for (let i = 0; i < 20; i++) timeCreation(new Map(), p.batch);
  /** Requests per ping-pong repetition, per m and handler class, set in the first repetition. */
  const requestsFor = new Map<string, number>();
  try {
    // Each repetition goes through every m, so that a change of load on the machine bends one
    // repetition's curve instead of shifting one m against the others.
    for (let r = 0; r < p.reps; r++) {
      for (const [i, m] of p.ms.entries()) {
        for (const kind of ["withSend", "ownWritable"] as const) {
          const map: SocketMap = new Map();
          const state: EchoState = { echoed: 0, target: Number.POSITIVE_INFINITY };
          const Handler = kind === "withSend" ? WithSendEcho : OwnWritableEcho;
          await acceptFromPeer(peer, m, Math.min(p.active, m), (sock) => new Handler(sock, map, state));
          // Let the new dispatchers' first events pass before anything is timed.
          await loop({ map, timeout: 20, count: 5 });
          if (kind === "withSend") {
            timeCreation(map, p.batch);
            await timeConnects(map, listenPort, 3);
            const [create, createSocket] = timeCreation(map, p.batch);
            result.create.samples[i]!.push(create);
            result.createSocket.samples[i]!.push(createSocket);
            const [call, connected] = await timeConnects(map, listenPort, p.connects);
            result.connectCall.samples[i]!.push(call);
            result.connected.samples[i]!.push(connected);
          }
          const key = `${m}/${kind}`;
          let requests = requestsFor.get(key);
          if (requests === undefined) {
            // First repetition: calibrate R on a short run, then run R once untimed.
            const calibration = await pingPong(map, peer, state, 200, p.size);
            requests = Math.min(
              100_000,
              Math.max(100, Math.round((p.budgetMs / 1000 / calibration.wall) * 200)),
            );
            requestsFor.set(key, requests);
            await pingPong(map, peer, state, requests, p.size);
          } else {
            await pingPong(map, peer, state, 200, p.size);
          }
          const run = await pingPong(map, peer, state, requests, p.size);
          const curves = result.turn[kind];
          curves.cpuPerTurn.samples[i]!.push(run.cpu / run.turns);
          curves.cpuPerRequest.samples[i]!.push(run.cpu / requests);
          curves.wallPerRequest.samples[i]!.push(run.wall / requests);
          curves.turnsPerRequest.samples[i]!.push(run.turns / requests);
          curves.inspectedPerRequest?.samples[i]?.push(run.inspected / requests);
          closeAll(map, true);
          await peer.request({ op: "close" });
        }
      }
    }
  } finally {
    await peer.request({ op: "unlisten" });
  }
  return result;
}
