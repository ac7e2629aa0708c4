import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { describeFdLimit } from "../../src/cli/connect-target.js";
import { openIdleProcess } from "../../src/cli/idle-process.js";
import { echo, startTestServer, waitFor } from "./_fixtures.js";
import { childPids, noChildList, pidExists, procLine } from "./_processes.js";

const here = dirname(fileURLToPath(import.meta.url));

describe("openIdleProcess", () => {
  it("holds the connections in a child process and ends it on close", async () => {
    const server = await startTestServer(echo);
    try {
      const batches: number[] = [];
      const idle = await openIdleProcess(
        { host: "127.0.0.1", port: server.port },
        { count: 50, batchSize: 16, onBatch: (n) => batches.push(n) },
      );
      assert.notEqual(idle.pid, process.pid);
      assert.equal(idle.count, 50);
      assert.deepEqual(batches, [16, 32, 48, 50]);
      assert.equal(await waitFor(() => server.open === 50), true, `${server.open} open`);
      assert.equal(pidExists(idle.pid), true);
      // A spawned child keeps the open-file limit and the CPUs of its parent (the pinned load generator's).
      assert.equal(
        procLine(idle.pid, "limits", "Max open files"),
        procLine(process.pid, "limits", "Max open files"),
      );
      assert.equal(
        procLine(idle.pid, "status", "Cpus_allowed_list:"),
        procLine(process.pid, "status", "Cpus_allowed_list:"),
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(server.open, 50, "the held connections stay open");
      await idle.close();
      assert.equal(idle.count, 0);
      assert.equal(pidExists(idle.pid), false, "the holder is gone after close()");
      assert.equal(await waitFor(() => server.open === 0), true, `${server.open} left open`);
      assert.equal(server.received, 0, "idle connections sent something");
    } finally {
      await server.close();
    }
  });

  it("works over a Unix-domain socket", async () => {
    const dir = await mkdtemp(join(tmpdir(), "asyncore-idle-"));
    const path = join(dir, "echo.sock");
    const server = await startTestServer(echo, path);
    try {
      const idle = await openIdleProcess({ path }, { count: 20 });
      assert.equal(await waitFor(() => server.open === 20), true);
      await idle.close();
      assert.equal(await waitFor(() => server.open === 0), true);
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("stops opening, closes what it opened and ends the holder when aborted", {
    skip: noChildList,
  }, async () => {
    const server = await startTestServer(echo);
    try {
      const controller = new AbortController();
      const reason = new Error("stop now");
      let holders: number[] = [];
      await assert.rejects(
        openIdleProcess(
          { host: "127.0.0.1", port: server.port },
          {
            count: 5000,
            batchSize: 10,
            signal: controller.signal,
            onBatch: () => {
              holders = childPids();
              controller.abort(reason);
            },
          },
        ),
        (err) => err === reason,
      );
      assert.equal(holders.length, 1, `children while opening: ${holders}`);
      assert.equal(pidExists(holders[0]!), false, "the holder outlived the abort");
      assert.ok(server.accepted < 5000, `${server.accepted} accepted`);
      assert.equal(await waitFor(() => server.open === 0), true, `${server.open} left open`);
    } finally {
      await server.close();
    }
  });

  it("ends with its parent", async () => {
    const server = await startTestServer(echo);
    const parent = spawn(process.execPath, [join(here, "_idle-parent.js"), String(server.port), "30"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      const holder = await new Promise<number>((resolve, reject) => {
        let out = "";
        parent.stdout!.setEncoding("utf8");
        parent.stdout!.on("data", (s: string) => {
          out += s;
          const m = /holder (\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        parent.once("exit", (code) =>
          reject(new Error(`parent exited (${code}) before the holder was ready`)),
        );
      });
      assert.equal(await waitFor(() => server.open === 30), true);
      process.kill(parent.pid!, "SIGKILL");
      assert.equal(await waitFor(() => !pidExists(holder), 5000), true, "the holder outlived its parent");
      assert.equal(await waitFor(() => server.open === 0), true, `${server.open} left open`);
    } finally {
      if (parent.exitCode === null && parent.signalCode === null) process.kill(parent.pid!, "SIGKILL");
      await server.close();
    }
  });

  it("closes the connections and reports a fault when its lifetime is over", async () => {
    const server = await startTestServer(echo);
    try {
      const faults: string[] = [];
      const idle = await openIdleProcess(
        { host: "127.0.0.1", port: server.port },
        { count: 10, holdMs: 200, onFault: (code) => faults.push(code) },
      );
      assert.equal(await waitFor(() => server.open === 10), true);
      assert.equal(await waitFor(() => !pidExists(idle.pid), 5000), true, "the holder outlived its lifetime");
      assert.equal(await waitFor(() => faults.length > 0), true);
      assert.deepEqual(faults, ["ERR_IDLE_HOLDER"]);
      assert.equal(await waitFor(() => server.open === 0), true);
      await idle.close();
    } finally {
      await server.close();
    }
  });

  it("reports a refused connect with its code", async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await assert.rejects(openIdleProcess({ host: "127.0.0.1", port }, { count: 3 }), {
      code: "ECONNREFUSED",
      message: /Cannot open connection 1 of 3/,
    });
  });

  it("rejects more connections than the holder's open-file limit before opening any", async (t) => {
    const soft = Number(describeFdLimit().split("/")[0]);
    if (!Number.isFinite(soft)) {
      t.skip(`open-file limit ${describeFdLimit()}`);
      return;
    }
    const server = await startTestServer(echo);
    try {
      await assert.rejects(openIdleProcess({ host: "127.0.0.1", port: server.port }, { count: soft + 1 }), {
        code: "EMFILE",
        message: new RegExp(`Cannot open ${soft + 1} idle connections: .*ulimit -n`),
      });
      assert.equal(server.accepted, 0);
    } finally {
      await server.close();
    }
  });
});
