#!/usr/bin/env node
// Builds the optional native readiness backend (binding.gyp → build/Release/asyncore_native.node)
// with the node-gyp that npm bundles, against the headers of the running Node.js: nothing is
// downloaded. Run by `npm install` / `npm ci` (the package's "install" script).
//
// The backend is optional: when the build cannot run or fails, this prints one warning line,
// keeps the full log in build/native-build.log, and exits 0, so the install succeeds and the
// package runs on the node:net backend. ASYNCORE_SKIP_NATIVE=1 skips the build.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const log = join(root, "build", "native-build.log");

function warn(reason) {
  console.warn(`asyncore-ts: native backend not built (${reason}); using node:net`);
  process.exit(0);
}

/** npm's own node-gyp: named by npm in lifecycle scripts, else found beside npm. */
function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(
      dirname(process.execPath),
      "..",
      "lib",
      "node_modules",
      "npm",
      "node_modules",
      "node-gyp",
      "bin",
      "node-gyp.js",
    ),
    process.env.npm_execpath &&
      join(dirname(process.env.npm_execpath), "..", "node_modules", "node-gyp", "bin", "node-gyp.js"),
  ];
  return candidates.find((p) => p && existsSync(p));
}

/** Node's headers for this Node.js: the install prefix has include/node/node_api.h. */
function findNodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = resolve(dirname(process.execPath), "..");
  return existsSync(join(prefix, "include", "node", "node_api.h")) ? prefix : undefined;
}

if (process.env.ASYNCORE_SKIP_NATIVE === "1") warn("ASYNCORE_SKIP_NATIVE=1");
// The addon polls with epoll, which only Linux has.
if (process.platform !== "linux") warn(`the native backend needs Linux (epoll), not ${process.platform}`);
const nodeGyp = findNodeGyp();
if (nodeGyp === undefined) warn("node-gyp not found");
const nodeDir = findNodeDir();
if (nodeDir === undefined) warn("Node.js headers not found");

const result = spawnSync(process.execPath, [nodeGyp, "rebuild", `--nodedir=${nodeDir}`], {
  cwd: root,
  encoding: "utf8",
  timeout: 5 * 60_000,
  env: { ...process.env, npm_config_nodedir: nodeDir },
});
const output = `${result.stdout ?? ""}${result.stderr ?? ""}${result.error ? `\n${result.error.stack}` : ""}`;
try {
  mkdirSync(dirname(log), { recursive: true });
  writeFileSync(log, output);
} catch {
  // The log is a convenience; the outcome below does not depend on it.
}
if (result.status !== 0 || !existsSync(join(root, "build", "Release", "asyncore_native.node"))) {
  warn(`node-gyp ${result.error ? result.error.message : `exited with ${result.status}`}; see ${log}`);
}
console.log("asyncore-ts: native backend built (build/Release/asyncore_native.node)");
