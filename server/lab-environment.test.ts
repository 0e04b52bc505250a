/**
 * One environment per reader and lab, whatever tab or terminal asks, with
 * its progress: over a real server, real WebSockets and real shells (host
 * driver), through the lab API a page uses. Also the reader's Stop of a
 * terminal's foreground job, and the prompt marks Run relies on.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadLabs } from "./labs.ts";
import { labApiPath, type CatchUpResult, type EnvironmentState, type SolveResult } from "./lab-api-protocol.ts";
import { CloseCode } from "./protocol.ts";
import { ProtocolClient } from "./testing/protocol-client.ts";
import { authorizedFetch, startTestServer } from "./testing/lab-server.ts";

const LAB = "fixture-steps";
const ALICE = "alice-token-0123456789abcdef";
const fixtures = loadLabs(path.join(import.meta.dirname, "testing/fixtures/labs"));
let server: Awaited<ReturnType<typeof startTestServer>>;

beforeAll(async () => {
  server = await startTestServer({}, { catalog: fixtures });
  writeFileSync(path.join(server.dataDir, "readers"), `alice ${ALICE}\n`);
});
afterAll(async () => {
  await server?.close();
});

async function api<T>(route: string, method: "GET" | "POST" = "POST", body: unknown = {}, token?: string): Promise<{ status: number; body: T }> {
  const response = await authorizedFetch(new URL(route, server.url), method === "GET" ? {} : { method, body: JSON.stringify(body) }, token);
  return { status: response.status, body: (await response.json()) as T };
}

const state = (token?: string) => api<EnvironmentState>(labApiPath.environment(LAB), "GET", undefined, token);

describe("a reader's environment per lab", () => {
  it("is the same for every terminal and every tab, and its progress is shared with all of them", async () => {
    const tab1 = await ProtocolClient.connect(server.url, { lab: LAB });
    const tab2 = await ProtocolClient.connect(server.url, { lab: LAB });
    expect(tab2.welcome!.environment).toBe(tab1.welcome!.environment);
    // A page naming an environment id that is not the reader's own still lands in the reader's.
    const stale = await ProtocolClient.connect(server.url, { lab: LAB, environment: "gone-environment-id" });
    expect(stale.welcome!.environment).toBe(tab1.welcome!.environment);

    tab1.type("echo one > ~/first; echo MADE-$((40+2))\r");
    await tab1.waitForText("MADE-42");
    const checked = await api<{ passed: boolean }>(labApiPath.checkpoint(LAB, "first", "check"), "POST", { environment: tab1.welcome!.environment });
    expect(checked.body.passed).toBe(true);
    // Both tabs hear the new progress: neither shows a stale count.
    for (const tab of [tab1, tab2]) {
      await expect.poll(() => tab.environmentEvents.some((event) => event.type === "environment" && event.state.progress.first?.passed === true)).toBe(true);
    }
    const now = await state();
    expect(now.body).toMatchObject({ environment: tab1.welcome!.environment, terminals: 3, progress: { first: { passed: true } } });
    expect(now.body.keptForMs).toBeGreaterThan(0);
    await Promise.all([tab1.close(), tab2.close(), stale.close()]);
  });

  it("is another reader's own: their terminal, state and checks never reach it", async () => {
    const mine = await ProtocolClient.connect(server.url, { lab: LAB });
    const theirs = await ProtocolClient.connect(server.url, { lab: LAB, token: ALICE, environment: mine.welcome!.environment });
    expect(theirs.welcome!.environment).not.toBe(mine.welcome!.environment);
    expect((await state(ALICE)).body.progress).toEqual({});
    const foreign = await api<{ error: string }>(labApiPath.checkpoint(LAB, "first", "check"), "POST", { environment: mine.welcome!.environment }, ALICE);
    expect(foreign).toMatchObject({ status: 404, body: { error: "unknown-environment" } });
    await Promise.all([mine.close(), theirs.close()]);
  });

  it("is made by the API when no terminal is open, and an id from before a reset is refused in words", async () => {
    const made = await api<EnvironmentState>(labApiPath.environment(LAB));
    expect(made.status).toBe(200);
    expect(made.body.environment).toMatch(/\S/);
    const stale = await api<{ error: string; message: string }>(labApiPath.checkpoint(LAB, "first", "check"), "POST", { environment: "not-the-current-one" });
    expect(stale.status).toBe(404);
    expect(stale.body.message).toMatch(/ended/);
    // The id the page had before a reset, not a made-up one.
    const reset = await api<EnvironmentState>(labApiPath.reset(LAB));
    expect(reset.body.environment).not.toBe(made.body.environment);
    for (const action of ["check", "solve", "catch-up"] as const) {
      const old = await api<{ error: string }>(labApiPath.checkpoint(LAB, "second", action), "POST", { environment: made.body.environment });
      expect(old, action).toMatchObject({ status: 404, body: { error: "unknown-environment" } });
    }
  });

  it("is not made twice for one lab by naming it another way (its folder), which is no lab on the wire", async () => {
    const alias = await ProtocolClient.connect(server.url, { lab: "steps" });
    expect(alias.closeCode).toBe(CloseCode.notFound);
    expect(alias.errors[0]?.code).toBe("unknown-lab");
    expect((await api<{ error: string }>(labApiPath.environment("steps"))).body.error).toBe("unknown-lab");
  });
});

describe("a burst of hellos while the reader's environment is being made", () => {
  it("holds the reader to their terminal limit: hellos that waited for the same new environment count too", async () => {
    const limited = await startTestServer({ limits: { maxSessionsPerReader: 3 } }, { catalog: fixtures });
    try {
      // A lab that continues another takes a while to make: ten hellos all wait for the one environment.
      const clients = await Promise.all(Array.from({ length: 10 }, () => ProtocolClient.connect(limited.url, { lab: "fixture-continues" })));
      const welcomed = clients.filter((client) => client.welcome);
      expect(welcomed.length).toBe(3);
      expect(limited.sessions.sessionCount).toBe(3);
      for (const refused of clients.filter((client) => !client.welcome)) expect(refused.closeCode).toBe(CloseCode.limitReached);
      await Promise.all(welcomed.map((client) => client.close()));
    } finally {
      await limited.close();
    }
  });
});

describe("a hello refused after its environment was made", () => {
  it("leaves that environment to age out like any idle one", async () => {
    const limited = await startTestServer({ limits: { maxSessions: 1, environmentGraceMs: 500 } }, { catalog: fixtures });
    try {
      // The slow hello makes its environment (a lab that continues another); the quick one takes the only terminal meanwhile.
      const slow = ProtocolClient.connect(limited.url, { lab: "fixture-continues" });
      const quick = await ProtocolClient.connect(limited.url, { lab: LAB });
      const refused = await slow;
      expect(quick.welcome).toBeDefined();
      expect(refused.closeCode).toBe(CloseCode.limitReached);
      expect(limited.sessions.environmentCount).toBe(2);
      await quick.close();
      // Both environments have no terminal now: both go after the grace.
      await expect.poll(() => limited.sessions.environmentCount, { timeout: 10_000, interval: 100 }).toBe(0);
    } finally {
      await limited.close();
    }
  });
});

describe("Solve, Catch me up and Reset", () => {
  it("solves a step with the lab's own script, checks it, and shows what ran in the terminal", async () => {
    await api(labApiPath.reset(LAB));
    const terminal = await ProtocolClient.connect(server.url, { lab: LAB });
    const solved = await api<SolveResult>(labApiPath.checkpoint(LAB, "first", "solve"));
    expect(solved.status).toBe(200);
    expect(solved.body.check.passed).toBe(true);
    expect(solved.body.solve.exitCode).toBe(0);
    await expect.poll(() => terminal.environmentEvents.find((event) => event.type === "activity")).toMatchObject({
      type: "activity",
      script: expect.stringContaining("echo one > ~/first"),
      passed: true,
    });
    terminal.type("cat ~/first\r");
    await terminal.waitForText(/\bone\b/);
    await terminal.close();
  });

  it("catches up to a step: every earlier step not passed yet is solved and checked, in order", async () => {
    await api(labApiPath.reset(LAB));
    const caught = await api<CatchUpResult>(labApiPath.checkpoint(LAB, "third", "catch-up"));
    expect(caught.body).toMatchObject({ passed: true, target: "third" });
    expect(caught.body.steps.map((step) => [step.checkpoint, step.outcome])).toEqual([
      ["first", "solved"],
      ["second", "solved"],
    ]);
    // The target itself is the reader's to do.
    const third = await api<{ passed: boolean }>(labApiPath.checkpoint(LAB, "third", "check"));
    expect(third.body.passed).toBe(false);
    // Again: what passed is left as it is.
    const again = await api<CatchUpResult>(labApiPath.checkpoint(LAB, "third", "catch-up"));
    expect(again.body.steps.map((step) => step.outcome)).toEqual(["already-passed", "already-passed"]);
    // A step recorded as passed that the reader undid since is solved again: its check decides, not the old record.
    const terminal = await ProtocolClient.connect(server.url, { lab: LAB });
    terminal.type("rm ~/second; echo GONE-$((2+2))\r");
    await terminal.waitForText("GONE-4");
    const undone = await api<CatchUpResult>(labApiPath.checkpoint(LAB, "third", "catch-up"));
    expect(undone.body.steps.map((step) => [step.checkpoint, step.outcome])).toEqual([
      ["first", "already-passed"],
      ["second", "solved"],
    ]);
    expect(undone.body.passed).toBe(true);
    await terminal.close();
  });

  it("resets: a new, empty environment with no progress; its terminals are told and start over in it", async () => {
    await api(labApiPath.checkpoint(LAB, "second", "catch-up"));
    const terminal = await ProtocolClient.connect(server.url, { lab: LAB });
    const before = terminal.welcome!.environment;
    const reset = await api<EnvironmentState>(labApiPath.reset(LAB));
    expect(reset.body.environment).not.toBe(before);
    expect(reset.body.progress).toEqual({});
    expect(await terminal.closed).toBe(CloseCode.environmentReset);
    expect(terminal.notices.at(-1)?.message).toMatch(/reset/);
    const fresh = await ProtocolClient.connect(server.url, { lab: LAB });
    expect(fresh.welcome!.environment).toBe(reset.body.environment);
    fresh.type("ls ~/first 2>&1 | head -1; echo LISTED-$((1+1))\r");
    await fresh.waitForText(/No such file[\s\S]*LISTED-2/);
    await fresh.close();
  });
});

describe("a busy terminal", () => {
  it("marks commands with OSC 133 (C when one starts, D and A when the prompt is back)", async () => {
    const terminal = await ProtocolClient.connect(server.url, { lab: LAB });
    terminal.type("true\r");
    await terminal.waitForText(/\x1b\]133;C\x07[\s\S]*\x1b\]133;D;0\x07\x1b\]133;A\x07/, 10_000, { raw: true });
    await terminal.close();
  });

  it("Stop kills the job in the foreground that ignores Ctrl+C, never the shell", async () => {
    const terminal = await ProtocolClient.connect(server.url, { lab: LAB });
    // A job that shrugs off SIGINT, as a container's PID 1 under an attached `ctr task start` does.
    terminal.type("bash -c 'trap \"\" INT; echo STUCK-$((3*3)); exec sleep 300'\r");
    await terminal.waitForText("STUCK-9");
    terminal.type("\x03");
    const before = terminal.text.length;
    terminal.socket.send(JSON.stringify({ type: "interrupt" }));
    // The job's one process, read before or after its exec: bash -c … exec sleep 300.
    await expect.poll(() => terminal.notices.at(-1)?.message ?? "").toMatch(/^Stopped: (sleep 300|bash -c trap)/);
    // The shell's prompt is back (its OSC 133;A mark) before the reader types again.
    await expect.poll(() => terminal.text.slice(before).includes("\x1b]133;A\x07"), { timeout: 10_000 }).toBe(true);
    terminal.type("echo ALIVE-$((6*7))\r");
    await terminal.waitForText("ALIVE-42");
    // With only the shell in the foreground, Stop stops nothing; a burst of Stops gets one answer (each reads /proc).
    await new Promise((resolve) => setTimeout(resolve, 600));
    const noticesBefore = terminal.notices.length;
    for (let i = 0; i < 20; i++) terminal.socket.send(JSON.stringify({ type: "interrupt" }));
    await expect.poll(() => terminal.notices.at(-1)?.message ?? "").toMatch(/Nothing was running/);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(terminal.notices.length - noticesBefore).toBe(1);
    terminal.type("echo STILL-$((5*5))\r");
    await terminal.waitForText("STILL-25");
    await terminal.close();
  });
});

describe("a lab that continues another, and a step this host cannot run", () => {
  const CONTINUES = "fixture-continues";

  it("starts a new environment at the end state of the lab it continues, and its first shell shows what the lab ran", async () => {
    const terminal = await ProtocolClient.connect(server.url, { lab: CONTINUES });
    await expect.poll(() => terminal.environmentEvents.filter((event) => event.type === "activity").length).toBe(3);
    const ran = terminal.environmentEvents.filter((event) => event.type === "activity");
    expect(ran.map((event) => event.type === "activity" && event.script.trim())).toEqual([
      "echo one > ~/first",
      "test -f ~/first && echo two > ~/second",
      "test -f ~/second && echo three > ~/third",
    ]);
    const checked = await api<{ passed: boolean }>(labApiPath.checkpoint(CONTINUES, "fourth", "solve"));
    expect(checked.body).toMatchObject({ check: { passed: true } });
    await terminal.close();
  });

  it("continues a lab with a step this host cannot run: that step is left out, and the terminal says so", async () => {
    const terminal = await ProtocolClient.connect(server.url, { lab: "fixture-continues-further" });
    await expect.poll(() => terminal.environmentEvents.filter((event) => event.type === "activity").length).toBe(5);
    const skipped = terminal.environmentEvents.at(-1);
    expect(skipped).toMatchObject({ type: "activity", passed: false, title: expect.stringMatching(/not done here/), output: expect.stringMatching(/lab VM/) });
    await terminal.close();
  });

  it("answers the check and the solve of a step whose command is missing with why, running nothing", async () => {
    const check = await api<{ passed: boolean; unavailable?: string; output: string }>(labApiPath.checkpoint(CONTINUES, "on-the-vm", "check"));
    expect(check.body.passed).toBe(false);
    expect(check.body.unavailable).toMatch(/nwl-command-no-host-has.*only on the NixOS lab VM/);
    const solve = await api<SolveResult>(labApiPath.checkpoint(CONTINUES, "on-the-vm", "solve"));
    expect(solve.body.solve.output).toMatch(/lab VM/);
    const listed = await api<{ labs: { id: string; checkpoints: { id: string; unavailable?: string }[] }[] }>(labApiPath.labs(), "GET");
    const lab = listed.body.labs.find((entry) => entry.id === CONTINUES)!;
    expect(lab.checkpoints.find((checkpoint) => checkpoint.id === "on-the-vm")?.unavailable).toMatch(/lab VM/);
    expect(lab.checkpoints.find((checkpoint) => checkpoint.id === "fourth")?.unavailable).toBeUndefined();
  });
});
