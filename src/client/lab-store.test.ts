/**
 * The page store apart from any page: a fake lab server (an environment per
 * reader and lab, with its progress) behind the LabBackend interface, as a
 * TutorialKit runtime store is tested. The real server and browser are in
 * server/lab-environment.test.ts and tests/e2e/reader-lab.test.ts.
 */
import { describe, expect, it } from "vitest";
import type { CatchUpResult, CheckpointResult, EnvironmentState, SolveResult } from "../../server/lab-api-protocol.ts";
import { LabStore, type LabBackend } from "./lab-store.ts";
import type { KeyValueStore } from "./storage.ts";

const ORDER = ["one", "two", "three"];

/** A lab server with one reader: each environment has an id and the checkpoints that pass in it. */
class FakeServer implements LabBackend {
  readonly server = "http://lab.test/";
  environment: string | null = null;
  done = new Set<string>();
  progress: EnvironmentState["progress"] = {};
  calls: string[] = [];
  /** When set, a check waits for it before answering (a check still running). */
  checkGate: Promise<void> | undefined;
  private serial = 0;

  restart(): void {
    this.environment = null;
    this.done.clear();
    this.progress = {};
  }

  private stateNow(): EnvironmentState {
    return { lab: "fixture", environment: this.environment, createdAt: 1, progress: { ...this.progress }, terminals: 0, keptForMs: 60_000, expiresAt: null };
  }

  async state() {
    this.calls.push("state");
    return this.stateNow();
  }
  async ensureEnvironment() {
    this.calls.push("ensure");
    this.environment ??= `env-${++this.serial}`;
    return this.stateNow();
  }
  async reset() {
    this.calls.push("reset");
    this.restart();
    return this.ensureEnvironment();
  }
  async check(checkpoint: string, environment?: string): Promise<CheckpointResult> {
    this.calls.push(`check ${checkpoint}`);
    if (this.checkGate) await this.checkGate;
    if (environment !== this.environment) throw Object.assign(new Error("this page's lab environment has ended"), { code: "unknown-environment" });
    const passed = this.done.has(checkpoint);
    this.progress[checkpoint] = { passed, at: Date.now() };
    return { checkpoint, passed, output: passed ? "ok" : `no ${checkpoint} yet`, hint: `do ${checkpoint}`, timedOut: false, durationMs: 1200 };
  }
  async solve(checkpoint: string, environment?: string): Promise<SolveResult> {
    this.done.add(checkpoint);
    const check = await this.check(checkpoint, environment);
    return { checkpoint, solve: { exitCode: 0, output: "", timedOut: false, durationMs: 5 }, check };
  }
  async catchUp(target: string, environment?: string): Promise<CatchUpResult> {
    const steps: CatchUpResult["steps"] = [];
    for (const checkpoint of ORDER.slice(0, ORDER.indexOf(target))) {
      if (this.progress[checkpoint]?.passed) steps.push({ checkpoint, outcome: "already-passed" });
      else steps.push({ checkpoint, outcome: "solved", check: (await this.solve(checkpoint, environment)).check });
    }
    return { target, steps, passed: true };
  }
}

function memory(): KeyValueStore {
  const values = new Map<string, string>();
  return { getItem: (key) => values.get(key) ?? null, setItem: (key, value) => void values.set(key, value), removeItem: (key) => void values.delete(key) };
}

const storeOn = (server: FakeServer, kept = memory()) => new LabStore({ lab: "fixture", order: ORDER, backend: server, memory: kept });

describe("the page store", () => {
  it("shows the environment's progress, a check's words and hint, and counts what passed", async () => {
    const server = new FakeServer();
    const store = storeOn(server);
    await store.refresh();
    expect(store.state.environmentStatus).toBe("none");
    const failed = await store.check("one");
    expect(failed).toMatchObject({ status: "failed", output: "no one yet", hint: "do one", detail: "1.2 s" });
    expect(store.state.environmentStatus).toBe("ready");
    server.done.add("one");
    expect((await store.check("one")).status).toBe("passed");
    expect(store.passedCount()).toBe(1);
    // A fresh store on the same environment (a reload, another tab) shows it from the server's progress.
    const other = storeOn(server);
    await other.refresh();
    expect(other.checkpoint("one")).toMatchObject({ status: "passed", detail: "last check" });
  });

  it("tells subscribers of every change, with the checking state first", async () => {
    const server = new FakeServer();
    const store = storeOn(server);
    const seen: string[] = [];
    store.subscribe(() => seen.push(store.checkpoint("two").status));
    await store.solve("two");
    expect(seen).toContain("solving");
    expect(seen.find((status) => status !== "unchecked")).toBe("solving");
    expect(seen.at(-1)).toBe("passed");
  });

  it("does not tell subscribers when the server's word is the same as before", async () => {
    const server = new FakeServer();
    const store = storeOn(server);
    await store.check("one");
    let calls = 0;
    store.subscribe(() => calls++);
    await store.refresh();
    await store.refresh();
    expect(calls).toBe(1);
    server.done.add("one");
    await store.check("one");
    expect(calls).toBeGreaterThan(1);
  });

  it("keeps a check's checking state while its first environment starts", async () => {
    const server = new FakeServer();
    const store = storeOn(server);
    await store.refresh();
    expect(store.state.environment?.environment).toBeNull();
    let release!: () => void;
    server.checkGate = new Promise<void>((resolve) => (release = resolve));
    const checking = store.check("one");
    await expect.poll(() => server.calls.includes("check one")).toBe(true);
    expect(store.state.environment?.environment).toBe("env-1");
    expect(store.checkpoint("one").status).toBe("checking");
    release();
    expect((await checking).status).toBe("failed");
  });

  it("catches up: earlier checkpoints pass, the target is left to the reader", async () => {
    const server = new FakeServer();
    const store = storeOn(server);
    await store.catchUp("three");
    expect(ORDER.map((id) => store.checkpoint(id).status)).toEqual(["passed", "passed", "unchecked"]);
    expect(store.state.activity).toBeUndefined();
  });

  it("notices an environment newer than the progress this browser saw, offers to catch up to it, and forgets it once there", async () => {
    const server = new FakeServer();
    const kept = memory();
    const before = storeOn(server, kept);
    await before.catchUp("three");
    expect(before.passedCount()).toBe(2);

    server.restart();
    const after = storeOn(server, kept);
    await after.ensureEnvironment();
    expect(after.passedCount()).toBe(0);
    expect(after.state.previous?.passed).toEqual(["one", "two"]);
    await after.catchUpToPrevious();
    expect(after.passedCount()).toBe(2);
    expect(after.state.previous).toBeUndefined();
  });

  it("starts over on Reset, with nothing from the old environment shown", async () => {
    const server = new FakeServer();
    const store = storeOn(server);
    await store.solve("one");
    const old = store.state.environment?.environment;
    await store.reset();
    expect(store.state.environment?.environment).not.toBe(old);
    expect(store.checkpoint("one").status).toBe("unchecked");
    expect(store.state.previous).toBeUndefined();
  });

  it("says why a check could not run, and asks the server again when the page's environment has ended", async () => {
    const server = new FakeServer();
    const store = storeOn(server);
    await store.ensureEnvironment();
    server.environment = "env-replaced-behind-the-page";
    const result = await store.check("one");
    expect(result).toMatchObject({ status: "error", output: "this page's lab environment has ended" });
    await expect.poll(() => store.state.environment?.environment).toBe("env-replaced-behind-the-page");
  });
});
