/**
 * Differential fuzzing of the asynchat terminator scanner against CPython 3.11's asynchat.
 *
 * Usage: node dist-test/scripts/fuzz-asynchat.js [count] [seed]
 *   count  cases to run (default 20000, FUZZ_COUNT; at most 5,000,000)
 *   seed   first seed (default random, ASYNCHAT_SEED); case i of a seed is the same case the
 *          differential test draws i-th for that seed
 *   FUZZ_SECONDS  stop after this many seconds (default 120)
 *   ASYNCHAT_PYTHON  the interpreter (default python3.11, else python3)
 *
 * Cases run in batches, each batch through one python3 process. Exits 1 on the first
 * disagreement, printing the seed, the case index and the case as JSON.
 */
import {
  type ChatCase,
  findPython,
  makeRng,
  randomCase,
  runPython,
  runScanner,
} from "../test/asynchat/chat-cases.js";

const MAX_CASES = 5_000_000;
const BATCH = 2_000;

function numberArg(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new RangeError(`Invalid ${name}: expected a non-negative integer, got ${value}`);
  return n;
}

function main(): number {
  const [countArg, seedArg] = process.argv.slice(2);
  const count = Math.min(numberArg(countArg ?? process.env.FUZZ_COUNT, 20_000, "count"), MAX_CASES);
  const seed = numberArg(
    seedArg ?? process.env.ASYNCHAT_SEED,
    (Date.now() ^ (process.pid << 8)) >>> 0,
    "seed",
  );
  const seconds = numberArg(process.env.FUZZ_SECONDS, 120, "FUZZ_SECONDS");
  const python = findPython();
  if (!python) {
    console.error("python3 not found: nothing to compare against");
    return 2;
  }
  const rng = makeRng(seed);
  const deadline = Date.now() + seconds * 1000;
  let done = 0;
  let frames = 0;
  console.log(`fuzzing ${count} cases, seed ${seed}`);
  while (done < count && Date.now() < deadline) {
    const cases: ChatCase[] = [];
    for (let i = 0; i < BATCH && done + cases.length < count; i++) cases.push(randomCase(rng));
    const expected = runPython(cases, python);
    for (let i = 0; i < cases.length; i++) {
      const ours = runScanner(cases[i]!);
      const theirs = expected[i]!;
      if (JSON.stringify(ours) !== JSON.stringify(theirs)) {
        console.error(`MISMATCH at seed ${seed}, case ${done + i}`);
        console.error(`case:     ${JSON.stringify(cases[i])}`);
        console.error(`CPython:  ${JSON.stringify(theirs)}`);
        console.error(`scanner:  ${JSON.stringify(ours)}`);
        return 1;
      }
      frames += theirs.filter((e) => e === "f").length;
    }
    done += cases.length;
    if (process.stdout.isTTY) process.stdout.write(`\r${done} / ${count} cases agree`);
    else if (done % (BATCH * 10) === 0) console.log(`${done} / ${count} cases agree`);
  }
  const stopped = done < count ? ` (stopped after ${seconds} s)` : "";
  if (process.stdout.isTTY) process.stdout.write("\n");
  console.log(`${done} cases, ${frames} terminators found, all identical to CPython${stopped}; seed ${seed}`);
  return 0;
}

process.exitCode = main();
