/**
 * The terminator scanner's work is linear, pinned by counting rather than timing: the bytes it
 * examines (`bytesSearched`) are the bytes fed plus at most `terminator.length − 1` per read
 * (the carried start of a terminator, looked at again with the next read) — for small and
 * large reads alike, where CPython's asynchat copies the rest of a read after every
 * terminator. Checked on fed bytes and on reads from a real socket, taken the way
 * `AsyncChat.handleRead` takes them (`recv(acInBufferSize)`, then feed). AsyncChat keeps its
 * scanner private, so the socket case drives a scanner from a dispatcher of its own.
 */
import assert from "node:assert/strict";
import * as net from "node:net";
import { afterEach, beforeEach, test } from "node:test";
import { TerminatorScanner } from "../../src/asynchat/terminator-scanner.js";
import {
  closeAll,
  Dispatcher,
  type DispatcherSocket,
  loop,
  type SocketMap,
} from "../../src/asyncore/index.js";
import { MapContext } from "../support/asyncore-harness.js";

const TERMINATORS = ["\n", "\r\n", "\r\n\r\n", "--end-of-record--"];
const READ_SIZES = [1, 7, 512, 4096, 65536, 1024 * 1024];

/** A deterministic input: records of 0–300 bytes, some holding a terminator's first part. */
function makeInput(term: string, records: number): { data: Buffer; records: Buffer[] } {
  let seed = 12345;
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  const parts: Buffer[] = [];
  const out: Buffer[] = [];
  const decoy = term.slice(0, Math.max(1, term.length - 1));
  for (let i = 0; i < records; i++) {
    const len = next() % 300;
    let text = "";
    while (text.length < len) text += String.fromCharCode(97 + (next() % 26));
    // Put the terminator's first part (not the whole) inside some records, when it can be.
    if (term.length > 1 && len >= 2 && next() % 3 === 0)
      text = text.slice(0, len >> 1) + decoy + text.slice(len >> 1);
    const record = Buffer.from(text);
    out.push(record);
    parts.push(record, Buffer.from(term));
  }
  return { data: Buffer.concat(parts), records: out };
}

function scan(term: string, reads: Buffer[]) {
  const records: Buffer[] = [];
  let current: Buffer[] = [];
  const scanner = new TerminatorScanner(
    {
      collectIncomingData: (d) => void current.push(Buffer.from(d)),
      foundTerminator: () => {
        records.push(Buffer.concat(current));
        current = [];
      },
    },
    term,
  );
  for (const r of reads) scanner.feed(r);
  return { records, searched: scanner.bytesSearched, held: scanner.bufferedLength };
}

function cut(data: Buffer, size: number): Buffer[] {
  const reads: Buffer[] = [];
  for (let at = 0; at < data.length; at += size) reads.push(data.subarray(at, at + size));
  return reads;
}

function checkBound(what: string, term: string, fed: number, reads: number, searched: number, held: number) {
  const bound = fed + reads * (term.length - 1);
  assert.ok(
    searched <= bound,
    `${what}: examined ${searched} bytes, bound ${bound} (${fed} fed in ${reads} reads)`,
  );
  // And nothing escapes the search: every byte not held back was examined.
  assert.ok(searched >= fed - held, `${what}: examined ${searched} of ${fed} bytes`);
}

test("bytes examined: the input plus at most terminator.length − 1 per read, for every read size", () => {
  for (const term of TERMINATORS) {
    for (const size of READ_SIZES) {
      // Fewer records for the tiniest reads: the bound is per read, the input length does not matter.
      const { data, records } = makeInput(term, size < 64 ? 300 : 3000);
      const reads = cut(data, size);
      const r = scan(term, reads);
      assert.deepEqual(r.records, records, `records for ${JSON.stringify(term)} in reads of ${size}`);
      checkBound(
        `${JSON.stringify(term)}, reads of ${size}`,
        term,
        data.length,
        reads.length,
        r.searched,
        r.held,
      );
    }
  }
});

test("the bound is reached when every read ends in a terminator's first part, and not exceeded", () => {
  for (const term of ["ab", "abcd", "<end-of-record>"]) {
    const prefix = Buffer.from(term.slice(0, -1));
    const reads = Array.from({ length: 200 }, () => prefix);
    const r = scan(term, reads);
    assert.deepEqual(r.records, []);
    const fed = prefix.length * reads.length;
    // Each read searches its own bytes and the carried prefix again: exactly the bound.
    assert.equal(r.searched, fed + (reads.length - 1) * (term.length - 1));
    checkBound(JSON.stringify(term), term, fed, reads.length, r.searched, r.held);
  }
});

test("one large read of many lines is examined once, not once per line", () => {
  const line = `${"x".repeat(98)}\r\n`;
  const data = Buffer.from(line.repeat(10_486));
  const r = scan("\r\n", [data]);
  assert.equal(r.records.length, 10_486);
  assert.equal(r.searched, data.length);
});

let ctx: MapContext;
beforeEach(() => {
  ctx = new MapContext();
});
afterEach(() => ctx.teardown());

/** Reads like AsyncChat.handleRead: `recv(readSize)`, then feed the scanner. */
class ScanningReader extends Dispatcher {
  reads = 0;
  fed = 0;
  readonly records: Buffer[] = [];
  #current: Buffer[] = [];
  readonly scanner: TerminatorScanner;
  constructor(
    sock: DispatcherSocket,
    map: SocketMap,
    term: string,
    readonly readSize: number,
  ) {
    super(sock, map);
    this.scanner = new TerminatorScanner(
      {
        collectIncomingData: (d) => void this.#current.push(Buffer.from(d)),
        foundTerminator: () => {
          this.records.push(Buffer.concat(this.#current));
          this.#current = [];
        },
      },
      term,
    );
  }
  override handleRead(): void {
    const data = this.recv(this.readSize);
    if (data.length === 0) return;
    this.reads++;
    this.fed += data.length;
    this.scanner.feed(data);
  }
  override writable(): boolean {
    return false;
  }
  override handleClose(): void {
    this.close();
  }
}

/** A listening dispatcher in a map of its own; each accepted socket goes to `onSocket`. */
class Listener extends Dispatcher {
  onSocket: (sock: DispatcherSocket) => void = () => {};
  override handleAccepted(sock: DispatcherSocket): void {
    this.onSocket(sock);
  }
}

test("over a real socket: reads of 512 B and 64 KiB, the same bound", async () => {
  const acceptMap: SocketMap = new Map();
  const listener = new Listener(undefined, acceptMap);
  listener.createSocket();
  void listener.bind(["127.0.0.1", 0]);
  const [host, port] = (await listener.listen(5)) as [string, number];
  try {
    for (const term of ["\r\n", "--end-of-record--"]) {
      for (const readSize of [512, 65536]) {
        const { data, records } = makeInput(term, 2000);
        let reader: ScanningReader | undefined;
        listener.onSocket = (sock) => {
          reader = new ScanningReader(sock, ctx.map, term, readSize);
        };
        const client = net.connect({ port, host });
        for (let i = 0; i < 500 && reader === undefined; i++)
          await loop({ map: acceptMap, timeout: 10, count: 1 });
        assert.ok(reader !== undefined, "the connection was accepted");
        // Written in uneven pieces, so that reads split terminators anywhere.
        for (let at = 0, step = 1; at < data.length; at += step, step = 1 + ((step * 7 + 13) % 4999)) {
          client.write(data.subarray(at, at + step));
        }
        client.end();
        for (let i = 0; i < 5000 && ctx.map.size > 0; i++)
          await loop({ map: ctx.map, timeout: 10, count: 1 });
        assert.equal(ctx.map.size, 0, "the reader saw EOF and closed");
        assert.equal(reader.fed, data.length);
        assert.deepEqual(reader.records, records);
        assert.ok(reader.reads >= Math.ceil(data.length / readSize), `${reader.reads} reads`);
        const sc = reader.scanner;
        const what = `${JSON.stringify(term)}, recv(${readSize})`;
        checkBound(what, term, reader.fed, reader.reads, sc.bytesSearched, sc.bufferedLength);
        client.destroy();
      }
    }
  } finally {
    closeAll(acceptMap);
  }
});
