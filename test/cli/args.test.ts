import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type CommandDef,
  choiceOption,
  flagOption,
  formatHelp,
  intOption,
  isUsageError,
  parseCommandArgs,
  parseInteger,
  stringOption,
} from "../../src/cli/args.js";

const def: CommandDef = {
  name: "demo",
  summary: "Try the parser.",
  usage: "[--count N] [--mode M] [--loud] [FILE]",
  maxPositionals: 1,
  options: {
    count: { type: "string", short: "n", value: "N", description: "How many" },
    mode: { type: "string", value: "M", description: "Which mode" },
    loud: { type: "boolean", description: "Shout" },
  },
};

describe("args", () => {
  it("parses options, short forms, flags and positionals", () => {
    const a = parseCommandArgs(def, ["-n", "10_000", "--mode=fast", "--loud", "file.txt"]);
    assert.equal(a.help, false);
    assert.equal(intOption(a, "count", { min: 1, max: 1e6 }), 10_000);
    assert.equal(choiceOption(a, "mode", ["fast", "slow"] as const), "fast");
    assert.equal(flagOption(a, "loud"), true);
    assert.deepEqual(a.positionals, ["file.txt"]);
    const empty = parseCommandArgs(def, []);
    assert.equal(intOption(empty, "count", { min: 1, max: 5, default: 3 }), 3);
    assert.equal(intOption(empty, "count", { min: 1, max: 5 }), undefined);
    assert.equal(stringOption(empty, "mode"), undefined);
    assert.equal(flagOption(empty, "loud"), false);
    assert.equal(parseCommandArgs(def, ["-h"]).help, true);
  });

  it("throws usage errors for what it rejects", () => {
    const attempts: (() => unknown)[] = [
      () => parseCommandArgs(def, ["--nope"]),
      () => parseCommandArgs(def, ["--count"]),
      () => parseCommandArgs(def, ["a", "b"]),
      () => intOption(parseCommandArgs(def, ["-n", "0"]), "count", { min: 1, max: 5 }),
      () => intOption(parseCommandArgs(def, ["-n", "2.5"]), "count", { min: 1, max: 5 }),
      () => intOption(parseCommandArgs(def, ["-n", "-1"]), "count", { min: 0, max: 5 }),
      () => choiceOption(parseCommandArgs(def, ["--mode", "odd"]), "mode", ["fast"]),
      () => parseInteger("1e3", "--x", { min: 0, max: 10_000 }),
    ];
    for (const attempt of attempts) {
      assert.throws(attempt, (err) => isUsageError(err));
    }
    assert.throws(() => parseInteger("7", "--sizes item", { min: 8, max: 9 }), {
      message: 'Invalid --sizes item: expected an integer from 8 to 9, got "7"',
    });
    assert.equal(isUsageError(new Error("plain")), false);
  });

  it("formats help with every option", () => {
    const text = formatHelp(def);
    assert.match(text, /^Usage: asyncore demo \[--count N\]/);
    assert.match(text, /-n, --count N {2,}How many/);
    assert.match(text, /--loud {2,}Shout/);
    assert.match(text, /-h, --help {2,}Show this help/);
    assert.match(formatHelp({ ...def, program: "node x.js" }), /^Usage: node x\.js /);
  });
});
