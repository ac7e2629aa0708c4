/**
 * Helpers for `StreamReader` tests: run a script of reads while feeding an input in given
 * chunks, and record what each read gave, so that runs over different splits can be compared.
 */
import { StreamReader } from "../../src/streams/stream-reader.js";

/** One read of a script. */
export type ReadOp =
  | { op: "readLine" }
  | { op: "readUntil"; sep: string | string[] }
  | { op: "readExactly"; n: number }
  | { op: "read"; n: number };

/** Let every pending microtask and the continuation of the waiting read run. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** What a read gave: `ok:<latin1 text>` or `<code>` plus details that do not depend on timing. */
export async function outcome(p: Promise<Buffer>): Promise<string> {
  try {
    return `ok:${(await p).toString("latin1")}`;
  } catch (err) {
    const e = err as Error & { code?: string; partial?: Buffer; expected?: number | null };
    if (e.code === "ERR_INCOMPLETE_READ") return `${e.code}:${e.partial!.toString("latin1")}:${e.expected}`;
    return String(e.code ?? e.name);
  }
}

/** Start one read of a script. */
export function startOp(reader: StreamReader, op: ReadOp): Promise<Buffer> {
  switch (op.op) {
    case "readLine":
      return reader.readLine();
    case "readUntil":
      return reader.readUntil(op.sep);
    case "readExactly":
      return reader.readExactly(op.n);
    case "read":
      return reader.read(op.n);
  }
}

/**
 * Feed `chunks` one by one, letting the reader run between them, then EOF (when `eof`), while
 * the script's reads run in order; the outcome of each read.
 */
export async function runScript(
  chunks: readonly Buffer[],
  ops: readonly ReadOp[],
  opts: { limit?: number; eof?: boolean; burst?: boolean } = {},
): Promise<string[]> {
  const reader = new StreamReader(opts.limit);
  const results: string[] = [];
  const script = (async () => {
    for (const op of ops) results.push(await outcome(startOp(reader, op)));
  })();
  for (const chunk of chunks) {
    reader.feedData(chunk);
    if (!opts.burst) await tick();
  }
  if (opts.eof ?? true) reader.feedEof();
  if (opts.eof === false) {
    // Without EOF a read may wait forever: give it a few turns, then stop it.
    for (let i = 0; i < 5; i++) await tick();
    reader.setException(Object.assign(new Error("end of test"), { code: "TEST_END" }));
  }
  await script;
  return results;
}

/** Cut `data` at the given sorted offsets. */
export function cut(data: Buffer, points: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let last = 0;
  for (const p of points) {
    out.push(data.subarray(last, p));
    last = p;
  }
  out.push(data.subarray(last));
  return out;
}

/**
 * Every way to split `data` into chunks when it is short (at most `allUpTo` bytes: all 2^(n-1)
 * compositions); otherwise every split into two and into three pieces, and byte by byte.
 */
export function* everySplit(data: Buffer, allUpTo = 10): Generator<Buffer[]> {
  const n = data.length;
  if (n <= allUpTo) {
    const gaps = Math.max(0, n - 1);
    for (let mask = 0; mask < 1 << gaps; mask++) {
      const points: number[] = [];
      for (let i = 0; i < gaps; i++) if (mask & (1 << i)) points.push(i + 1);
      yield cut(data, points);
    }
    return;
  }
  for (let i = 0; i <= n; i++) {
    for (let j = i; j <= n; j++) yield cut(data, [i, j]);
  }
  yield cut(
    data,
    Array.from({ length: n - 1 }, (_, i) => i + 1),
  );
}
