/**
 * A shell that exits by itself (`exit`, Ctrl-D) must take its background jobs
 * with it, as a closed terminal does: "Ending a terminal must leave no
 * orphans" (server/processes.ts), "kill(): Ends the shell and every process of
 * its terminal" (server/drivers/driver.ts). Found by server/fuzz.test.ts: its
 * `sleep 60 &` followed by `exit` left a `sleep` behind, reparented to init.
 * The kernel sends SIGHUP only to the foreground process group when a session
 * leader exits, so a background job lives on unless the server ends it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sessionProcesses } from "./processes.ts";
import { CloseCode } from "./protocol.ts";
import { ProtocolClient } from "./testing/protocol-client.ts";
import { startTestServer, waitUntil } from "./testing/lab-server.ts";

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
/** Session ids of the shells this file started, for the clean-up whatever the outcome. */
const shells: number[] = [];

/**
 * How long the jobs may outlive the end of their session: the server sends
 * SIGHUP at once and SIGKILL 500 ms later (killSessionProcesses); 3 s leaves
 * room for a busy machine.
 */
const GONE_WITHIN_MS = 3000;
/** Longer than the detached shell takes to exit (300 ms), so it exits inside its grace period, not killed at its end. */
const GRACE_MS = 2000;

beforeAll(async () => {
  server = await startTestServer({ limits: { graceMs: GRACE_MS, leaveGraceMs: GRACE_MS, environmentGraceMs: 200 } }, { labs: ["sandbox"] });
});

afterAll(async () => {
  for (const sid of shells) for (const pid of sessionProcesses(sid)) kill(pid);
  await server?.close();
});

function kill(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // gone
  }
}


/** A shell with a background job; returns the shell's pid (its session id). */
async function shellWithJob(client: ProtocolClient): Promise<number> {
  client.type("PS1='$ '; PROMPT_COMMAND=; sleep 600 & echo JOB=$!=; echo SID=$$=\r");
  const text = await client.waitForText(/SID=\d+=/);
  const sid = Number(/SID=(\d+)=/.exec(text)![1]);
  const job = Number(/JOB=(\d+)=/.exec(text)![1]);
  shells.push(sid);
  expect(sessionProcesses(sid)).toContain(job);
  return sid;
}

describe("a shell that exits", () => {
  it("takes its background jobs with it while a client is attached", async () => {
    const client = await ProtocolClient.connect(server.url);
    const sid = await shellWithJob(client);
    client.type("exit\r");
    expect(await client.closed).toBe(CloseCode.sessionEnded);
    await waitUntil(() => sessionProcesses(sid).length === 0, GONE_WITHIN_MS, `the jobs of shell ${sid} to end; left: ${sessionProcesses(sid).join(", ")}`);
  });

  it("takes its background jobs with it when it exits with no client attached", async () => {
    const client = await ProtocolClient.connect(server.url);
    const sid = await shellWithJob(client);
    // The shell exits a moment after its connection dropped, within the grace period: nobody is attached.
    client.type("sleep 0.3; exit\r");
    client.drop();
    await waitUntil(() => server.sessions.sessionCount === 0, GRACE_MS + 5000, "the session to end");
    await waitUntil(() => sessionProcesses(sid).length === 0, GONE_WITHIN_MS, `the jobs of shell ${sid} to end; left: ${sessionProcesses(sid).join(", ")}`);
  });
});
