/**
 * Shared helpers of the protocol tests: a protocol that records its callbacks, a TLS
 * certificate for `localhost`, temporary directories, and a collector for reported errors.
 * No side effects at import time (the test runner may load this file as a test).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import type { ExceptionContext } from "../../src/protocols/index.js";
import { setExceptionHandler } from "../../src/protocols/index.js";
import type { Protocol, Transport } from "../../src/protocols/protocol.js";

/** A promise with its resolve function. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Reject when `promise` does not settle within `ms`: a stuck test fails instead of hanging. */
export async function within<T>(promise: Promise<T>, ms = 3000, what = "operation"): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Wait until `check()` is true, polling every few ms. */
export async function until(check: () => boolean, ms = 3000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * A protocol that records its callbacks: `events` holds their names in order, with runs of
 * `dataReceived` collapsed into one `"data"` entry.
 */
export class Recorder implements Protocol {
  readonly events: string[] = [];
  readonly chunks: Buffer[] = [];
  transport: Transport | undefined;
  /** What `eofReceived` returns. */
  keepOpen = false;
  readonly made = deferred();
  readonly eof = deferred();
  readonly lost = deferred<Error | null>();
  #waiters: Array<{ n: number; d: Deferred<Buffer> }> = [];
  #size = 0;

  connectionMade(transport: Transport): void {
    this.events.push("connectionMade");
    this.transport = transport;
    this.made.resolve();
  }
  dataReceived(data: Buffer): void {
    if (this.events.at(-1) !== "data") this.events.push("data");
    this.chunks.push(data);
    this.#size += data.length;
    this.#waiters = this.#waiters.filter((w) => {
      if (this.#size < w.n) return true;
      w.d.resolve(this.received());
      return false;
    });
  }
  eofReceived(): boolean {
    this.events.push("eof");
    this.eof.resolve();
    return this.keepOpen;
  }
  connectionLost(err: Error | null): void {
    this.events.push(err ? `lost:${(err as Error & { code?: string }).code}` : "lost");
    this.lost.resolve(err);
  }
  pauseWriting(): void {
    this.events.push("pauseWriting");
  }
  resumeWriting(): void {
    this.events.push("resumeWriting");
  }

  received(): Buffer {
    return Buffer.concat(this.chunks);
  }
  get size(): number {
    return this.#size;
  }
  /** Resolves with everything received once at least `n` bytes arrived. */
  bytes(n: number): Promise<Buffer> {
    if (this.#size >= n) return Promise.resolve(this.received());
    const d = deferred<Buffer>();
    this.#waiters.push({ n, d });
    return within(d.promise, 5000, `${n} bytes`);
  }
}

/** A recorder that echoes what it receives. */
export class EchoRecorder extends Recorder {
  override dataReceived(data: Buffer): void {
    super.dataReceived(data);
    this.transport!.write(data);
  }
}

/** A recorder whose `dataReceived` throws an error with code `EBAD`. */
export class ThrowingRecorder extends Recorder {
  override dataReceived(_data: Buffer): void {
    throw Object.assign(new Error("bad input"), { code: "EBAD" });
  }
}

/** A factory that keeps every protocol it made, and hands out the next one as a promise. */
export class Factory<P extends Protocol = Recorder> {
  readonly made: P[] = [];
  #next: Array<Deferred<P>> = [];
  #make: () => P;
  constructor(make: () => P) {
    this.#make = make;
  }
  readonly create = (): P => {
    const p = this.#make();
    this.made.push(p);
    this.#next.shift()?.resolve(p);
    return p;
  };
  /** The protocol of the `i`-th accepted connection (0-based), once it exists. */
  nth(i: number): Promise<P> {
    if (this.made[i]) return Promise.resolve(this.made[i]!);
    const d = deferred<P>();
    this.#next[i - this.made.length] = d;
    return within(d.promise, 3000, `protocol #${i}`);
  }
}

export function recorders(): Factory<Recorder> {
  return new Factory(() => new Recorder());
}

/** Errors reported through the exception handler while `fn` runs (the handler is restored). */
export async function collectReports<T>(
  fn: (reports: ExceptionContext[]) => Promise<T>,
): Promise<{ result: T; reports: ExceptionContext[] }> {
  const reports: ExceptionContext[] = [];
  const previous = setExceptionHandler((ctx) => reports.push(ctx));
  try {
    return { result: await fn(reports), reports };
  } finally {
    setExceptionHandler(previous);
  }
}

/** A temporary directory, removed by the returned function. */
export function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), "asyncore-proto-"));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

let cert: { key: Buffer; cert: Buffer } | undefined;

/**
 * A self-signed certificate for `localhost`, `127.0.0.1` and `::1`: made with `openssl` when it
 * is installed, else the committed one in test/fixtures/.
 */
export function localhostCert(): { key: Buffer; cert: Buffer } {
  if (cert) return cert;
  const tmp = tempDir();
  try {
    const keyFile = path.join(tmp.dir, "key.pem");
    const certFile = path.join(tmp.dir, "cert.pem");
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        keyFile,
        "-out",
        certFile,
        "-days",
        "2",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
      ],
      { stdio: "ignore" },
    );
    cert = { key: readFileSync(keyFile), cert: readFileSync(certFile) };
  } catch {
    const dir = fixturesDir();
    cert = {
      key: readFileSync(path.join(dir, "localhost-key.pem")),
      cert: readFileSync(path.join(dir, "localhost-cert.pem")),
    };
  } finally {
    tmp.remove();
  }
  return cert;
}

function fixturesDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [
    path.resolve(process.cwd(), "test/fixtures"),
    path.resolve(here, "../fixtures"),
    path.resolve(here, "../../../test/fixtures"),
  ];
  for (const dir of candidates) {
    try {
      readFileSync(path.join(dir, "localhost-cert.pem"));
      return dir;
    } catch {}
  }
  throw new Error("Cannot find test/fixtures/localhost-cert.pem");
}

/** `[host, port]` of a server's first address. */
export function tcpAddress(addresses: readonly unknown[]): [string, number] {
  const a = addresses[0];
  if (!Array.isArray(a)) throw new Error(`Expected a TCP address, got ${String(a)}`);
  return a as [string, number];
}

/** Whether this machine can use ::1. */
export function hasIPv6Loopback(): boolean {
  return Object.values(os.networkInterfaces()).some((list) =>
    list?.some((i) => i.family === "IPv6" && i.internal && i.address === "::1"),
  );
}
