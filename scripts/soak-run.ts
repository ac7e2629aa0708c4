/**
 * The soak run behind `npm run soak` and `test/reliability/soak.test.ts`: an `asyncore echo`
 * server of one API in a child process, many connections sending messages of random sizes
 * through it for a while, every byte checked, and the server's resident memory sampled from
 * /proc to show it does not grow once warmed up.
 *
 * Each connection sends one message at a time and waits for its whole echo before the next.
 * Sizes are log-uniform between `minSize` and `maxSize` (as many 1–16 B messages as 16–256 KiB
 * ones), cut from a shared block of random bytes at a random offset, so a byte from another
 * connection or another message is caught by comparing with what was sent.
 *
 * Memory criterion: RSS samples are split into thirds of the run; the first third is warm-up;
 * the run passes when the median of the last third is at most `1.1 ×` the median of the middle
 * third plus 4 MiB (the slack absorbs one garbage-collector step on a short run).
 */
import * as net from "node:net";
import { fileURLToPath } from "node:url";
import { EchoServerProcess } from "../src/cli/echo-server-process.js";

/** The APIs of `asyncore echo --api`. */
export const SOAK_APIS = ["dispatcher", "chat", "protocol", "streams"] as const;
export type SoakApi = (typeof SOAK_APIS)[number];

export interface SoakOptions {
  api: SoakApi;
  /** Connections open at once (at most 5000). */
  conns: number;
  /** How long messages are sent (ms, at most 10 minutes). */
  durationMs: number;
  /** Smallest and largest message (bytes). */
  minSize?: number;
  maxSize?: number;
  /** RSS sampling period (ms). */
  sampleMs?: number;
  seed?: number;
}

export interface SoakResult {
  api: SoakApi;
  conns: number;
  durationMs: number;
  messages: number;
  /** Bytes sent and echoed back, each one checked. */
  bytes: number;
  /** Connections that completed at least one message. */
  activeConns: number;
  /** Failures: a wrong byte, an early close, an error. Empty on success. */
  errors: string[];
  /** Server RSS samples (bytes), in order. */
  rss: number[];
  middleMedian: number;
  lastMedian: number;
  memoryOk: boolean;
  /** `"exited"` when the server stopped on SIGTERM within the grace period. */
  serverExit: string;
}

export const MAX_CONNS = 5000;
export const MAX_DURATION_MS = 10 * 60 * 1000;
const BLOCK = 512 * 1024;
const MEMORY_RATIO = 1.1;
const MEMORY_SLACK = 4 * 1024 * 1024;
/** How long the server gets to exit after SIGTERM. */
const STOP_GRACE_MS = 5000;

/** A seeded generator (mulberry32) in [0, 1). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The memory criterion over samples taken at regular intervals. */
export function memoryVerdict(rss: readonly number[]): { middle: number; last: number; ok: boolean } {
  const third = Math.floor(rss.length / 3);
  if (third === 0) return { middle: 0, last: 0, ok: false };
  const middle = median(rss.slice(third, 2 * third));
  const last = median(rss.slice(rss.length - third));
  return { middle, last, ok: last <= middle * MEMORY_RATIO + MEMORY_SLACK };
}

/** One client connection: ping-pong of random messages until told to stop. */
class SoakConnection {
  readonly done: Promise<void>;
  messages = 0;
  bytes = 0;
  #sock: net.Socket;
  #next: () => number;
  #block: Buffer;
  #min: number;
  #max: number;
  #expected: Buffer = Buffer.alloc(0);
  #got = 0;
  #stopping = false;
  #errors: string[];

  constructor(port: number, id: number, block: Buffer, min: number, max: number, errors: string[]) {
    this.#next = rng(0x5eed + id * 7919);
    this.#block = block;
    this.#min = min;
    this.#max = max;
    this.#errors = errors;
    const sock = (this.#sock = net.connect(port, "127.0.0.1"));
    sock.setNoDelay(true);
    this.done = new Promise<void>((resolve) => {
      sock.on("close", () => {
        if (!this.#stopping) this.#fail("closed by the server");
        else if (this.#got < this.#expected.length) this.#fail("closed before its echo came back");
        resolve();
      });
    });
    sock.on("error", (err: Error & { code?: string }) =>
      this.#fail(`${err.code ?? err.name}: ${err.message}`),
    );
    sock.on("connect", () => this.#send());
    sock.on("data", (d: Buffer) => this.#onData(d));
  }

  /** Send no new message; end once the one in flight is back. */
  stop(): void {
    this.#stopping = true;
    if (this.#got === this.#expected.length) this.#sock.end();
  }

  destroy(): void {
    this.#stopping = true;
    this.#sock.destroy();
  }

  #send(): void {
    const r = this.#next();
    const size = Math.round(this.#min * (this.#max / this.#min) ** r);
    const offset = Math.floor(this.#next() * (this.#block.length - size + 1));
    this.#expected = this.#block.subarray(offset, offset + size);
    this.#got = 0;
    this.#sock.write(this.#expected);
  }

  #onData(d: Buffer): void {
    const end = this.#got + d.length;
    if (end > this.#expected.length || !d.equals(this.#expected.subarray(this.#got, end))) {
      this.#fail(`wrong bytes at ${this.#got} of a ${this.#expected.length}-byte echo`);
      this.#sock.destroy();
      return;
    }
    this.#got = end;
    if (this.#got < this.#expected.length) return;
    this.messages++;
    this.bytes += this.#expected.length;
    if (this.#stopping) this.#sock.end();
    else this.#send();
  }

  #fail(why: string): void {
    if (this.#errors.length < 20) this.#errors.push(why);
    else if (this.#errors.length === 20) this.#errors.push("… (more)");
  }
}

/** Where the CLI's entry point is, next to this script's build. */
function cliMain(): string {
  return fileURLToPath(new URL("../src/cli/main.js", import.meta.url));
}

/**
 * Run one soak against `asyncore echo --api <api>` and return what was measured; never throws
 * for a failure of the server (that is in `errors`), only for bad options.
 */
export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
  const conns = opts.conns;
  const durationMs = opts.durationMs;
  const minSize = opts.minSize ?? 1;
  const maxSize = opts.maxSize ?? 256 * 1024;
  const sampleMs = opts.sampleMs ?? 250;
  if (!Number.isInteger(conns) || conns < 1 || conns > MAX_CONNS)
    throw new RangeError(`Invalid conns: expected 1..${MAX_CONNS}, got ${conns}`);
  if (!(durationMs > 0 && durationMs <= MAX_DURATION_MS))
    throw new RangeError(`Invalid duration: expected 1..${MAX_DURATION_MS} ms, got ${durationMs}`);
  if (!(minSize >= 1 && maxSize >= minSize && maxSize <= BLOCK))
    throw new RangeError(`Invalid sizes: expected 1 <= min <= max <= ${BLOCK}, got ${minSize}..${maxSize}`);

  const block = Buffer.allocUnsafe(BLOCK);
  const next = rng(opts.seed ?? 1);
  for (let i = 0; i < BLOCK; i++) block[i] = (next() * 256) | 0;

  const server = await EchoServerProcess.start({
    argv: [process.execPath, cliMain(), "echo", "--api", opts.api, "--host", "127.0.0.1", "--port", "0"],
  });
  const { port } = server.target as { port: number };
  const errors: string[] = [];
  const rss: number[] = [];
  const sampler = setInterval(() => {
    const v = server.rssBytes();
    if (v !== null) rss.push(v);
  }, sampleMs);
  const clients: SoakConnection[] = [];
  let serverExit = "running";
  try {
    for (let i = 0; i < conns; i++)
      clients.push(new SoakConnection(port, i, block, minSize, maxSize, errors));
    await new Promise((r) => setTimeout(r, durationMs));
    clearInterval(sampler);
    for (const c of clients) c.stop();
    const finished = Promise.all(clients.map((c) => c.done));
    const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 15_000).unref());
    if ((await Promise.race([finished, timeout])) === "timeout") {
      errors.push("connections still open 15 s after the end of the run");
    }
  } finally {
    clearInterval(sampler);
    for (const c of clients) c.destroy();
    const stopping = performance.now();
    await server.stop(STOP_GRACE_MS);
    serverExit = performance.now() - stopping < STOP_GRACE_MS ? "exited" : "killed after the grace period";
  }
  // Anything the server wrote to stderr, but its own notice of the shutdown we asked for.
  const stderr = server
    .stderrTail()
    .split("\n")
    .filter((line) => line.trim() !== "" && !/^asyncore echo: SIG(TERM|INT)\b/.test(line));
  if (stderr.length > 0) errors.push(`server stderr: ${stderr.join(" | ").slice(0, 500)}`);
  const verdict = memoryVerdict(rss);
  return {
    api: opts.api,
    conns,
    durationMs,
    messages: clients.reduce((n, c) => n + c.messages, 0),
    bytes: clients.reduce((n, c) => n + c.bytes, 0),
    activeConns: clients.filter((c) => c.messages > 0).length,
    errors,
    rss,
    middleMedian: verdict.middle,
    lastMedian: verdict.last,
    memoryOk: verdict.ok,
    serverExit,
  };
}
