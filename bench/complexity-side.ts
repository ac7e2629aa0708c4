/**
 * The asyncore-ts side of the complexity benchmark as a child process, one section per run, the
 * way `complexity_asyncore.py` is the CPython side: `bench/complexity.ts` runs it once per
 * section and socket backend (`ASYNCORE_BACKEND=net` or `native` in its environment) and reads
 * the JSON it prints. A fresh process per section also keeps each section's memory and JIT state
 * apart from the others'.
 *
 *   ASYNCORE_BACKEND=net node --expose-gc dist-test/bench/complexity-side.js SECTION PARAMS_JSON
 *
 * SECTION is `info` (the backend in use), `scan`, `transfer`, `loop` or `memory` (params `{"m"}`).
 *
 * @module
 */
import { backendName } from "../src/core/index.js";
import { measureLoop } from "./complexity-loop.js";
import { probeMemory } from "./complexity-memory.js";
import { PeerClient } from "./complexity-peer-client.js";
import { measureScan } from "./complexity-scan.js";
import { measureTransfer } from "./complexity-transfer.js";

async function run(section: string, params: never): Promise<unknown> {
  switch (section) {
    case "info":
      return { backend: backendName(), node: process.version };
    case "scan":
      return measureScan(params);
    case "transfer":
      return await measureTransfer(params);
    case "loop": {
      const peer = new PeerClient();
      try {
        return await measureLoop(params, peer);
      } finally {
        await peer.close();
      }
    }
    case "memory":
      return await probeMemory((params as { m: number }).m);
    default:
      throw new Error(`unknown section ${JSON.stringify(section)}`);
  }
}

const [section, json] = process.argv.slice(2);
if (section === undefined || json === undefined) {
  process.stderr.write("usage: node --expose-gc complexity-side.js SECTION PARAMS_JSON\n");
  process.exit(2);
}
process.stdout.write(`${JSON.stringify(await run(section, JSON.parse(json) as never))}\n`);
