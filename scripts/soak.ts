/**
 * Soak every API's echo server: many connections sending random-size messages through
 * `asyncore echo --api <api>` (a child process) for a while, every byte checked, the server's
 * resident memory sampled and required not to grow after warm-up (see `soak-run.ts`).
 *
 * Usage: node dist-test/scripts/soak.js [--apis dispatcher,chat,protocol,streams]
 *          [--conns 1000] [--duration 20000] [--min-size 1] [--max-size 262144] [--sample 250]
 *          [--json]
 *   --conns     connections per API (1..5000)
 *   --duration  ms of load per API (at most 600000)
 *   --json      one JSON object per API instead of the table
 *
 * Exits 0 when every API echoed every byte, lost no connection, exited cleanly and kept its
 * memory flat; 1 otherwise; 2 for bad arguments.
 */
import { parseArgs } from "node:util";
import { runSoak, SOAK_APIS, type SoakApi, type SoakResult } from "./soak-run.js";

const MiB = 1024 * 1024;

function int(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`Invalid --${name}: ${value}`);
  return n;
}

function row(r: SoakResult): string {
  const secs = r.durationMs / 1000;
  const fmt = (b: number): string => `${(b / MiB).toFixed(1)}`;
  const verdict = r.errors.length === 0 && r.memoryOk && r.serverExit === "exited" ? "ok" : "FAIL";
  return [
    r.api.padEnd(10),
    String(r.conns).padStart(5),
    `${String(r.activeConns).padStart(5)}`,
    String(r.messages).padStart(9),
    `${(r.messages / secs).toFixed(0).padStart(8)}`,
    `${(r.bytes / MiB / secs).toFixed(1).padStart(7)}`,
    `${fmt(Math.min(...r.rss))}/${fmt(r.middleMedian)}/${fmt(r.lastMedian)}/${fmt(Math.max(...r.rss))}`.padStart(
      26,
    ),
    String(r.errors.length).padStart(6),
    verdict,
  ].join("  ");
}

async function main(): Promise<number> {
  let opts: ReturnType<typeof parse>;
  try {
    opts = parse();
  } catch (err) {
    console.error(String((err as Error).message));
    return 2;
  }
  const results: SoakResult[] = [];
  if (!opts.json) {
    console.log(
      `soak: ${opts.conns} connections per API, ${opts.durationMs} ms each, messages ${opts.minSize} B..${opts.maxSize} B (log-uniform)`,
    );
    console.log(
      "memory: pass when the median RSS of the last third <= 1.1 x the median of the middle third + 4 MiB",
    );
    console.log(
      `${"api".padEnd(10)}  conns  activ   messages    msg/s     MB/s   RSS MiB min/mid/last/max  errors  verdict`,
    );
  }
  for (const api of opts.apis) {
    const r = await runSoak({ ...opts, api });
    results.push(r);
    if (opts.json) console.log(JSON.stringify({ ...r, rss: undefined, rssSamples: r.rss.length }));
    else {
      console.log(row(r));
      for (const e of r.errors) console.log(`    ${e}`);
      if (r.serverExit !== "exited") console.log(`    server: ${r.serverExit}`);
    }
  }
  const ok = results.every((r) => r.errors.length === 0 && r.memoryOk && r.serverExit === "exited");
  if (!opts.json) console.log(ok ? "soak passed" : "soak FAILED");
  return ok ? 0 : 1;
}

function parse() {
  const { values } = parseArgs({
    options: {
      apis: { type: "string" },
      conns: { type: "string" },
      duration: { type: "string" },
      "min-size": { type: "string" },
      "max-size": { type: "string" },
      sample: { type: "string" },
      json: { type: "boolean" },
    },
  });
  const apis = (values.apis ?? SOAK_APIS.join(",")).split(",").map((a) => a.trim());
  for (const a of apis) {
    if (!(SOAK_APIS as readonly string[]).includes(a))
      throw new RangeError(`Invalid --apis: unknown API ${a}`);
  }
  return {
    apis: apis as SoakApi[],
    conns: int(values.conns, 1000, "conns"),
    durationMs: int(values.duration, 20_000, "duration"),
    minSize: int(values["min-size"], 1, "min-size"),
    maxSize: int(values["max-size"], 256 * 1024, "max-size"),
    sampleMs: int(values.sample, 250, "sample"),
    json: values.json === true,
  };
}

process.exitCode = await main();
