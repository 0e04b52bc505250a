/**
 * Ordinary faults that used to take the server down or leak: each test here
 * failed before its fix. Real server, real ptys, real WebSockets; the host
 * driver, sometimes with one behaviour changed (a dispose that fails, a
 * health that says degraded) to stand for a driver in trouble.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { inviteReader } from "./access.ts";
import { createLabServer } from "./app.ts";
import { parseServerConfig } from "./config.ts";
import type { DriverHealth } from "./drivers/driver.ts";
import { HostDriver } from "./drivers/host.ts";
import { loadLabs } from "./labs.ts";
import WebSocket from "ws";
import { CloseCode, PROTOCOL_VERSION, SUBPROTOCOL, encodeMessage } from "./protocol.ts";
import { ProtocolClient, TEST_TOKEN } from "./testing/protocol-client.ts";
import { authorizedFetch, processAlive, startTestServer, waitUntil } from "./testing/lab-server.ts";

const fixtures = loadLabs(path.join(import.meta.dirname, "testing/fixtures/labs"));
const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function serve(...args: Parameters<typeof startTestServer>) {
  const server = await startTestServer(...args);
  servers.push(server);
  return server;
}

async function shellPid(client: ProtocolClient): Promise<number> {
  client.clearOutput();
  client.type("echo PID=$$=\r");
  const text = await client.waitForText(/PID=\d+=/);
  return Number(/PID=(\d+)=/.exec(text)![1]);
}

/**
 * A host driver whose environments' disposal does `around(dispose)` instead
 * (fail after it, take its time), counting disposals started and finished.
 */
class DisposeHookDriver extends HostDriver {
  started = 0;
  finished = 0;
  private readonly around: (dispose: () => Promise<void>) => Promise<void>;
  constructor(dataDir: string, around: (dispose: () => Promise<void>) => Promise<void>) {
    super({ dataDir, shell: "/bin/bash", maxScriptOutputBytes: 4096 });
    this.around = around;
  }
  override async createEnvironment(lab: string) {
    const environment = await super.createEnvironment(lab);
    return {
      ...environment,
      dispose: async () => {
        this.started++;
        await this.around(environment.dispose);
        this.finished++;
      },
    };
  }
}

/** A host driver whose shared services can be said to be down. */
class SwitchableHealthDriver extends HostDriver {
  private current: DriverHealth = { status: "ok", reasons: [] };
  private listeners = new Set<(health: DriverHealth) => void>();
  override health() {
    return this.current;
  }
  override onHealthChange(listener: (health: DriverHealth) => void) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  set(health: DriverHealth) {
    this.current = health;
    for (const listener of this.listeners) listener(health);
  }
}

describe("faults", () => {
  it("survives an environment whose dispose fails: no unhandled rejection, the server answers on", async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on("unhandledRejection", onRejection);
    try {
      const dataDir = mkdtempSync(path.join(tmpdir(), "nwl-dispose-"));
      // The environment cannot be removed: the server must log it and live on.
      const driver = new DisposeHookDriver(dataDir, async (dispose) => {
        await dispose();
        throw new Error("simulated: the environment could not be removed");
      });
      const server = await serve({ limits: { environmentGraceMs: 50 } }, { driver, labs: ["sandbox"] });
      const client = await ProtocolClient.connect(server.url);
      await client.close();
      await waitUntil(() => driver.started === 1, 5000, "the dispose attempt");
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(rejections).toEqual([]);
      const next = await ProtocolClient.connect(server.url);
      expect(next.welcome).toBeDefined();
      await next.close();
      rmSync(dataDir, { recursive: true, force: true });
    } finally {
      process.off("unhandledRejection", onRejection);
    }
  });

  it("waits, when it stops, for disposals already under way (nothing of an environment outlives the server)", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "nwl-slow-dispose-"));
    const driver = new DisposeHookDriver(dataDir, async (dispose) => {
      await new Promise((resolve) => setTimeout(resolve, 400));
      await dispose();
    });
    const server = await startTestServer({ limits: { environmentGraceMs: 50 } }, { driver, labs: ["sandbox"] });
    const client = await ProtocolClient.connect(server.url);
    await client.close();
    await waitUntil(() => driver.started === 1, 5000, "the idle environment's disposal to start");
    await server.close();
    expect(driver.finished).toBe(1);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("ends a session whose socket closed while its repaint was being made, after the grace period", async () => {
    const server = await serve(
      { limits: { graceMs: 500, highWatermarkBytes: 192 * 1024, lowWatermarkBytes: 160 * 1024, replayBufferBytes: 256 * 1024 } },
      { labs: ["sandbox"] },
    );
    const first = await ProtocolClient.connect(server.url);
    // More output than the replay buffer holds, so a resume from 0 needs a repaint.
    first.type("head -c 600000 /dev/zero | tr '\\0' x; echo; echo FILLED-$((1+1))\r");
    await first.waitForText("FILLED-2", 20_000);
    const session = first.welcome!.session;
    first.drop();
    await waitUntil(() => server.sessions.sessionCount === 1, 2000, "the dropped session to be kept");
    // Hold the repaint queue so the resume is certainly waiting for its repaint when its socket closes.
    let release!: () => void;
    const held = server.sessions.repaints.run(() => new Promise<void>((resolve) => (release = resolve)));
    // The resume's hello, then the socket is gone before any welcome (the repaint waits its turn).
    const socket = new WebSocket(new URL("ws", server.url.replace(/^http/, "ws")), SUBPROTOCOL);
    await new Promise((resolve) => socket.once("open", resolve));
    socket.send(encodeMessage({ type: "hello", version: PROTOCOL_VERSION, lab: "sandbox", session, offset: 0, cols: 80, rows: 24, token: TEST_TOKEN }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    socket.terminate();
    await new Promise((resolve) => setTimeout(resolve, 100));
    release();
    await held;
    // With no client attached, the grace period (500 ms) must run out and end it.
    await waitUntil(() => server.sessions.sessionCount === 0, 5000, "the session to end after its grace period");
  });

  it("keeps the shell through a client's reconnect (close 4001), ends it on an explicit close (1000)", async () => {
    const server = await serve({}, { labs: ["sandbox"] });
    const first = await ProtocolClient.connect(server.url);
    const pid = await shellPid(first);
    expect(await first.close(CloseCode.reconnecting)).toBe(CloseCode.reconnecting);
    const again = await ProtocolClient.connect(server.url, { session: first.welcome!.session, offset: first.offset });
    expect(again.welcome?.replay).toBe("exact");
    expect(await shellPid(again)).toBe(pid);
    await again.close(CloseCode.normal);
    await waitUntil(() => !processAlive(pid), 5000, "the shell to end");
  });

  it("runs checks of one environment one after another, and refuses past the queue's bound (429)", async () => {
    const server = await serve(
      { limits: { maxQueuedChecksPerEnvironment: 3 } },
      { catalog: fixtures },
    );
    const terminal = await ProtocolClient.connect(server.url, { lab: "fixture-overlap" });
    const check = () =>
      authorizedFetch(new URL("api/labs/fixture-overlap/checkpoints/alone/check", server.url), {
        method: "POST",
        body: JSON.stringify({ environment: terminal.welcome!.environment }),
      });
    // One running and three waiting: all four pass, so none saw another.
    const together = await Promise.all([check(), check(), check(), check()]);
    const bodies = (await Promise.all(together.map((response) => response.json()))) as { passed: boolean; output: string }[];
    expect(bodies.map((body) => body.passed)).toEqual([true, true, true, true]);
    // Six at once: one runs, three wait, two are told to wait.
    const burst = await Promise.all(Array.from({ length: 6 }, check));
    expect(burst.map((response) => response.status).sort()).toEqual([200, 200, 200, 200, 429, 429]);
    await terminal.close();
  });

  it("answers a check with 503 and words while the lab's services are down, and tells the terminals", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "nwl-health-"));
    const driver = new SwitchableHealthDriver({ dataDir, shell: "/bin/bash", maxScriptOutputBytes: 4096 });
    const server = await serve({}, { driver, catalog: fixtures });
    const terminal = await ProtocolClient.connect(server.url, { lab: "fixture-overlap" });
    driver.set({ status: "degraded", reasons: ["the lab's containerd stopped; restarting it (attempt 1)"] });
    await terminal.until(() => terminal.notices.length === 1, 2000, "a notice");
    expect(terminal.notices[0]).toMatchObject({ level: "warning" });
    expect(terminal.notices[0]!.message).toContain("containerd stopped");
    const health = (await (await fetch(new URL("healthz", server.url))).json()) as { status: string; reasons: string[] };
    expect(health).toMatchObject({ status: "degraded", reasons: ["the lab's containerd stopped; restarting it (attempt 1)"] });
    const response = await authorizedFetch(new URL("api/labs/fixture-overlap/checkpoints/alone/check", server.url), {
      method: "POST",
      body: JSON.stringify({ environment: terminal.welcome!.environment }),
    });
    expect(response.status).toBe(503);
    expect(((await response.json()) as { message: string }).message).toMatch(/containerd stopped.*Try again/);
    driver.set({ status: "ok", reasons: [] });
    await terminal.until(() => terminal.notices.length === 2, 2000, "the all-clear");
    expect(terminal.notices[1]).toMatchObject({ level: "info" });
    await terminal.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("refuses upgrades past the per-address rate with 429, before reading any token", async () => {
    const server = await serve({ limits: { upgradesPerMinutePerAddress: 3 } }, { labs: ["sandbox"] });
    const clients = [];
    for (let i = 0; i < 3; i++) clients.push(await ProtocolClient.connect(server.url));
    const refused = await ProtocolClient.connect(server.url).then(
      () => "accepted",
      (error: { status?: number }) => error.status,
    );
    expect(refused).toBe(429);
    await Promise.all(clients.map((client) => client.close()));
  });
});

describe("starting up", () => {
  const config = (input: Record<string, unknown>) => parseServerConfig({ port: 0, dataDir: mkdtempSync(path.join(tmpdir(), "nwl-start-")), ...input });

  it("refuses to listen beyond loopback with a token made at start (nothing stable to hand out)", async () => {
    await expect(createLabServer(config({ host: "0.0.0.0" }))).rejects.toThrow(/token file.*invited readers/);
  });

  it("listens beyond loopback with a token file, and warns that the link needs TLS", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "nwl-token-"));
    const tokenFile = path.join(dir, "token");
    const server = await createLabServer(config({ host: "0.0.0.0", tokenFile }));
    servers.push(server);
    expect(server.warnings.join("\n")).toMatch(/TLS/);
    // The file was made with the token the link carries, so the link stays the same across restarts.
    expect(server.link).toContain(`#token=${readFileSync(tokenFile, "utf8").trim()}`);
  });

  it("invites a reader: their link's token opens a shell of their own", async () => {
    const server = await serve({}, { labs: ["sandbox"] });
    const token = inviteReader(path.join(server.dataDir, "readers"), "carol");
    expect(() => inviteReader(path.join(server.dataDir, "readers"), "carol")).toThrow(/invited already/);
    const carol = await ProtocolClient.connect(server.url, { token });
    expect(carol.welcome).toBeDefined();
    await carol.close();
  });

  it("refuses to start on a readers file with a broken line, naming the line", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "nwl-readers-"));
    const readersFile = path.join(dataDir, "readers");
    const { writeFileSync } = await import("node:fs");
    writeFileSync(readersFile, "dave short\n");
    await expect(createLabServer(parseServerConfig({ port: 0, dataDir, readersFile }))).rejects.toThrow(/readers:1: the token of "dave" is shorter/);
  });
});
