/**
 * A parent for the idle holder that the tests kill: opens `count` idle connections to the port
 * in argv through a holder process, prints `holder <pid>` and waits (at most 30 s) to be killed.
 */
import { openIdleProcess } from "../../src/cli/idle-process.js";

const port = Number(process.argv[2]);
const count = Number(process.argv[3]);
const idle = await openIdleProcess({ host: "127.0.0.1", port }, { count });
process.stdout.write(`holder ${idle.pid}\n`);
setTimeout(() => void idle.close(), 30_000);
