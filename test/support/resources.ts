/**
 * Teardown checks shared by socket tests: nothing left open.
 */
import assert from "node:assert/strict";
import { loadAddon } from "../../src/core/native-addon.js";

const SOCKET_KINDS = new Set([
  "TCPWrap",
  "TCPServerWrap",
  "UDPWrap",
  "PipeWrap",
  "PipeServerWrap",
  "TTYWrap",
]);

/** How many socket handles this process has open now (Node's, and the native backend's descriptors). */
export function openSocketHandles(): number {
  let n = nativeOpenCount();
  for (const kind of process.getActiveResourcesInfo()) if (SOCKET_KINDS.has(kind)) n++;
  return n;
}

/** Sockets the native backend holds open (0 when its addon is not built). */
function nativeOpenCount(): number {
  return loadAddon()?.openCount() ?? 0;
}

/** Wait until the open socket handles fall to `expected` (closing takes a few turns), or fail. */
export async function assertNoLeakedHandles(expected: number, withinMs = 2000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (openSocketHandles() > expected && Date.now() < deadline) await delay(5);
  assert.equal(
    openSocketHandles(),
    expected,
    `socket handles left open: ${process.getActiveResourcesInfo().join(", ")}, native: ${nativeOpenCount()}`,
  );
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
