/**
 * Supervision of containerd against real daemons: the embedded one is
 * restarted however often it dies, an adopted one (left by a lab server
 * that crashed) is watched and restarted too, and the system one is only
 * watched. Short restart delays keep this quick.
 */
import { spawn } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { containerdOutage, startContainerd, type ContainerdService, type ContainerdState, type ContainerdSupervision } from "./containerd.ts";
import { runCommand, sleep } from "./exec.ts";
import { isRunning } from "./namespace-processes.ts";

const ROOT = path.resolve(".lab-data/vitest-supervision");
const FAST: ContainerdSupervision = { restartDelayMs: 50, maxRestartDelayMs: 400, adoptedPollMs: 100, systemPollMs: 100 };
const services: ContainerdService[] = [];

async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

async function answersVersion(address: string): Promise<boolean> {
  const result = await runCommand("ctr", ["--address", address, "--timeout", "5s", "version"], { timeoutMs: 10_000 });
  return result.code === 0 && result.stdout.includes("Server:");
}

async function start(name: string, options: { mode?: "embedded" | "system"; systemAddress?: string } = {}): Promise<ContainerdService> {
  const service = await startContainerd({ dir: path.join(ROOT, name), mode: options.mode ?? "embedded", systemAddress: options.systemAddress, supervision: FAST });
  services.push(service);
  return service;
}

/** A daemon an earlier run left (its test failed half way): killed, so each test starts from nothing. */
function killLeftovers(): void {
  for (const name of ["restarts", "adopted", "system"]) {
    try {
      const pid = Number(readFileSync(path.join(ROOT, name, "containerd.pid"), "utf8"));
      if (isRunning(pid) && readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(ROOT)) process.kill(pid, "SIGKILL");
    } catch {
      // none
    }
  }
}

beforeAll(async () => {
  killLeftovers();
  await sleep(100);
  rmSync(ROOT, { recursive: true, force: true });
});

afterAll(async () => {
  await Promise.all(services.map((service) => service.stop()));
  killLeftovers();
});

describe("containerd supervision", () => {
  it("restarts an embedded containerd SIGKILLed six times within a minute, every time", async () => {
    const service = await start("restarts");
    const changes: { state: ContainerdState; outage: string | undefined }[] = [];
    service.onStateChange((state) => changes.push({ state, outage: containerdOutage(service) }));
    expect(containerdOutage(service)).toBeUndefined();
    const started = Date.now();
    const pids = new Set<number>();
    for (let kill = 1; kill <= 6; kill++) {
      const pid = service.state().pid!;
      pids.add(pid);
      process.kill(pid, "SIGKILL");
      await until(() => service.state().up && service.state().pid !== pid, 20_000, `containerd back after kill ${kill}`);
      expect(await answersVersion(service.address), `ctr version after kill ${kill}`).toBe(true);
    }
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(service.state()).toMatchObject({ up: true, attempt: 0, restarts: 6 });
    pids.add(service.state().pid!);
    expect(pids.size).toBe(7);
    expect(containerdOutage(service)).toBeUndefined();
    // Each death was seen as a degraded state, with a reason a reader can read, then as up again.
    const downs = changes.filter((change) => !change.state.up);
    const ups = changes.filter((change) => change.state.up);
    expect(ups.map((change) => change.state.restarts)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(downs.length).toBeGreaterThanOrEqual(6);
    for (const down of downs) expect(down.outage).toMatch(/^the lab's containerd stopped at \d\d:\d\d:\d\d; restarting it \(attempt \d+\)$/);
  });

  it("watches and restarts a containerd adopted from a lab server that crashed", async () => {
    // A lab server that starts the embedded containerd, then dies without stopping it.
    const dir = path.join(ROOT, "adopted");
    const module = pathToFileURL(path.resolve("server/environment/containerd.ts")).href;
    const crashed = spawn(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { startContainerd } from ${JSON.stringify(module)};
         const service = await startContainerd({ dir: ${JSON.stringify(dir)}, mode: "embedded" });
         console.log(service.state().pid);
         process.exit(0);`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let output = "";
    crashed.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => crashed.once("exit", resolve));
    expect(code).toBe(0);
    const orphan = Number(output.trim());
    expect(isRunning(orphan)).toBe(true);

    const service = await start("adopted");
    expect(service.state()).toMatchObject({ up: true, pid: orphan, restarts: 0 });
    process.kill(orphan, "SIGKILL");
    await until(() => !service.state().up, 5000, "the adopted containerd's death to be noticed");
    expect(containerdOutage(service)).toMatch(/^the lab's containerd stopped at \d\d:\d\d:\d\d; restarting it \(attempt 1\)$/);
    await until(() => service.state().up, 20_000, "the adopted containerd to be restarted");
    expect(service.state()).toMatchObject({ up: true, restarts: 1 });
    expect(service.state().pid).not.toBe(orphan);
    expect(await answersVersion(service.address)).toBe(true);
    // The restarted daemon is ours now: killed again, restarted again.
    process.kill(service.state().pid!, "SIGKILL");
    await until(() => service.state().restarts === 2 && service.state().up, 20_000, "a second restart");
    expect(await answersVersion(service.address)).toBe(true);
  });

  it("tells when the system containerd stops answering and when it answers again, without restarting it", async () => {
    // Stands in for the host's containerd: a daemon this service did not start.
    const host = await start("system");
    const system = await start("system-view", { mode: "system", systemAddress: host.address });
    expect(system.embedded).toBe(false);
    expect(system.state()).toMatchObject({ up: true, restarts: 0 });
    await host.stop();
    await until(() => !system.state().up, 5000, "the stopped system containerd to be noticed");
    expect(containerdOutage(system)).toMatch(new RegExp(`^the system's containerd \\(${host.address}\\) has not answered since \\d\\d:\\d\\d:\\d\\d`));
    await sleep(300);
    expect(system.state().up).toBe(false);
    await start("system");
    await until(() => system.state().up, 10_000, "the system containerd answering again");
    expect(system.state()).toMatchObject({ up: true, restarts: 1 });
    expect(containerdOutage(system)).toBeUndefined();
  });
});
