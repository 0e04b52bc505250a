/**
 * The host-namespaces driver against the real thing: an embedded containerd,
 * the local registry, mount and network namespaces. Needs root and the
 * Debian packages; a missing one fails prepare() with what to install.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENVIRONMENT_NAMESPACE_PREFIX, listContainerdNamespaces } from "../environment/containerd-namespace.ts";
import { mustRun, sleep } from "../environment/exec.ts";
import { isRunning, processesInNamespaces } from "../environment/namespace-processes.ts";
import { loadLabs } from "../labs.ts";
import type { DriverHealth } from "./driver.ts";
import { environmentLeftovers, NamespacesDriver, type NamespacesEnvironment } from "./namespaces.ts";

const LAB = "k8s-nix-way-part-1";
const LOOPBACK = `{"cniVersion":"1.0.0","name":"lo","plugins":[{"type":"loopback"}]}`;
const RUN_CNI = "ctr run --cni --rm docker.io/library/busybox:latest probe-$$ ip addr show lo";

const DATA_DIR = path.resolve(".lab-data/vitest");
const PENDING_FILE = path.join(DATA_DIR, "pending-namespaces.json");
// Embedded, whatever the host runs: the tests kill it, which is no way to treat the host's own.
const driver = new NamespacesDriver({ dataDir: DATA_DIR, labs: loadLabs("labs"), maxScriptOutputBytes: 4096, containerd: "embedded" });

async function run(environment: NamespacesEnvironment, script: string, timeoutMs = 20_000) {
  return environment.runScript(script, { timeoutMs });
}

async function leftovers(environment: NamespacesEnvironment) {
  return environmentLeftovers(environment, driver.containerdAddress!, listContainerdNamespaces);
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** The namespaces containerd holds, or undefined while it does not answer. */
async function containerdNamespaces(): Promise<string[] | undefined> {
  try {
    return await listContainerdNamespaces(driver.containerdAddress!);
  } catch {
    return undefined;
  }
}

beforeAll(async () => {
  await driver.prepare([LAB]);
});

afterAll(async () => {
  await driver.close();
});

describe("host-namespaces driver", () => {
  it("opens a login shell inside the environment", async () => {
    const environment = (await driver.createEnvironment(LAB)) as NamespacesEnvironment;
    try {
      const shell = environment.openShell({ cols: 80, rows: 24, maxPendingInputBytes: 65536 });
      let output = "";
      shell.onData((data) => (output += data.toString()));
      const exited = new Promise<number>((resolve) => shell.onExit((code) => resolve(code)));
      shell.write(Buffer.from('echo "IN:$HOME:$CONTAINERD_NAMESPACE:$(ls -A /etc/cni/net.d | wc -l):$0"; exit 3\r'));
      expect(await exited).toBe(3);
      expect(output).toMatch(new RegExp(`IN:${environment.home}:${environment.namespace}:0:\\S*bash`));
      const result = await run(environment, "pwd; echo $CONTAINERD_NAMESPACE; ls -A /etc/cni/net.d | wc -l; grep registry-1.docker.io /etc/hosts");
      expect(result.exitCode).toBe(0);
      expect(result.output.split("\n")).toEqual([environment.home, environment.namespace, "0", "127.0.0.2\tregistry-1.docker.io", ""]);
    } finally {
      await environment.dispose();
    }
  });

  it("pulls docker.io images offline through the environment's registry, without touching the host", async () => {
    const environment = (await driver.createEnvironment(LAB)) as NamespacesEnvironment;
    const hostHosts = readFileSync("/etc/hosts", "utf8");
    try {
      const pull = await run(environment, "ctr image pull docker.io/library/busybox:latest && ctr images ls -q");
      expect(pull.exitCode, pull.output).toBe(0);
      expect(pull.output).toContain("docker.io/library/busybox:latest");
      expect(readFileSync("/etc/hosts", "utf8")).toBe(hostHosts);
      expect(hostHosts).not.toContain("registry-1.docker.io");
    } finally {
      await environment.dispose();
    }
  });

  it("keeps two concurrent environments apart: one fixes CNI, the other still fails", async () => {
    const [a, b] = (await Promise.all([driver.createEnvironment(LAB), driver.createEnvironment(LAB)])) as NamespacesEnvironment[];
    try {
      expect(a!.namespace).not.toBe(b!.namespace);
      expect(a!.namespaces.net).not.toBe(b!.namespaces.net);
      const pulls = await Promise.all([a!, b!].map((environment) => run(environment, "ctr image pull docker.io/library/busybox:latest")));
      for (const pull of pulls) expect(pull.exitCode, pull.output).toBe(0);

      const fix = await run(a!, `echo '${LOOPBACK}' > /etc/cni/net.d/10-loopback.conflist && ${RUN_CNI}`);
      expect(fix.exitCode, fix.output).toBe(0);
      expect(fix.output).toContain("inet 127.0.0.1");

      const other = await run(b!, `ls -A /etc/cni/net.d | wc -l; ${RUN_CNI}`);
      expect(other.exitCode).not.toBe(0);
      expect(other.output).toMatch(/^0\n/);
      expect(other.output).toContain("no network config found in /etc/cni/net.d: cni plugin not initialized");

      // Each environment's containerd namespace holds only its own objects.
      await run(a!, "ctr container create docker.io/library/busybox:latest only-in-a true");
      expect((await run(b!, "ctr container ls -q")).output.trim()).toBe("");
      // Each has its own loopback network: both can run etcd on [::1]:2379, as the series does.
      const etcd = "etcd --data-dir etcd-data --listen-client-urls 'http://[::1]:2379' --advertise-client-urls 'http://[::1]:2379' > etcd.log 2>&1 &\n" +
        "until etcdctl --endpoints 'http://[::1]:2379' endpoint health 2>/dev/null; do sleep 0.1; done; etcdctl --endpoints 'http://[::1]:2379' put owner $NWL_ENVIRONMENT >/dev/null";
      const started = await Promise.all([a!, b!].map((environment) => run(environment, etcd)));
      for (const result of started) expect(result.exitCode, result.output).toBe(0);
      const owners = await Promise.all([a!, b!].map((environment) => run(environment, "etcdctl --endpoints 'http://[::1]:2379' get owner --print-value-only")));
      expect(owners.map((owner) => owner.output.trim())).toEqual([a!.id, b!.id]);
      // Files: a's edit of /etc/hosts is not b's.
      await run(a!, "echo '10.0.0.1 only-a' >> /etc/hosts");
      expect((await run(b!, "grep -c only-a /etc/hosts")).output.trim()).toBe("0");
    } finally {
      await Promise.all([a!.dispose(), b!.dispose()]);
    }
    expect(await leftovers(a!)).toEqual([]);
    expect(await leftovers(b!)).toEqual([]);
  });

  it("kills a script at its timeout and bounds its output", async () => {
    const environment = (await driver.createEnvironment(LAB)) as NamespacesEnvironment;
    try {
      const slow = await run(environment, "echo started; sleep 30", 500);
      expect(slow.timedOut).toBe(true);
      expect(slow.exitCode).toBe(124);
      expect(slow.output).toContain("started");
      expect(slow.durationMs).toBeLessThan(5000);
      const loud = await run(environment, "head -c 100000 /dev/zero | tr '\\0' x");
      expect(loud.output.length).toBeLessThan(4200);
      expect(loud.output).toContain("[output truncated]");
    } finally {
      await environment.dispose();
    }
  });

  it("disposes of everything: running tasks, containers, images, processes, mounts, files", async () => {
    const environment = (await driver.createEnvironment(LAB)) as NamespacesEnvironment;
    const setup = await run(
      environment,
      [
        "ctr image pull docker.io/library/busybox:latest >/dev/null",
        "ctr run -d docker.io/library/busybox:latest running sleep 2000",
        "ctr container create docker.io/library/busybox:latest idle sleep 1",
        // Fails at the CNI step, leaving a container behind, as a reader's attempt would.
        "ctr run --cni docker.io/library/busybox:latest stuck true 2>/dev/null",
        "setsid sleep 1000 < /dev/null > /dev/null 2>&1 &",
        "ctr task ls",
      ].join("\n"),
    );
    expect(setup.output).toMatch(/running\s+\d+\s+RUNNING/);
    const namespaces = await listContainerdNamespaces(driver.containerdAddress!);
    expect(namespaces).toContain(environment.namespace);
    await environment.dispose();
    expect(await leftovers(environment)).toEqual([]);
    const result = await environment.runScript("true", { timeoutMs: 1000 });
    expect(result.output).toContain("has ended");
    expect(() => environment.openShell({ cols: 80, rows: 24, maxPendingInputBytes: 1024 })).toThrow(/has ended/);
  });

  it("disposes an environment while containerd is down, and removes its namespace and running task once containerd is back", async () => {
    const environment = (await driver.createEnvironment(LAB)) as NamespacesEnvironment;
    const setup = await run(environment, "ctr image pull docker.io/library/busybox:latest >/dev/null && ctr run -d docker.io/library/busybox:latest running sleep 2000 && ctr task ls");
    const task = /running\s+(\d+)\s+RUNNING/.exec(setup.output);
    expect(task, setup.output).not.toBeNull();
    const taskPid = Number(task![1]);
    const restartsBefore = driver.containerdRestarts;
    const changes: DriverHealth[] = [];
    const unsubscribe = driver.onHealthChange((health) => changes.push(health));
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      expect(driver.health()).toEqual({ status: "ok", reasons: [] });
      process.kill(Number(readFileSync(path.join(DATA_DIR, "containerd", "containerd.pid"), "utf8")), "SIGKILL");
      await until(() => driver.health().status === "degraded", 5000, "containerd's death to show in health()");
      expect(driver.health().reasons).toEqual([expect.stringMatching(/^the lab's containerd stopped at \d\d:\d\d:\d\d; restarting it \(attempt 1\)$/)]);

      await expect(environment.dispose()).resolves.toBeUndefined();
      // Disposed while containerd was still down (its first restart waits a second).
      expect(driver.health().status).toBe("degraded");
      expect(processesInNamespaces(environment.namespaces)).toEqual([]);
      expect(existsSync(path.dirname(environment.home))).toBe(false);
      expect(driver.pendingNamespaces).toEqual([environment.namespace]);
      expect(JSON.parse(readFileSync(PENDING_FILE, "utf8"))).toEqual([environment.namespace]);
      // The task's process is gone at once, containerd or not: its cgroups were emptied and removed.
      expect(isRunning(taskPid)).toBe(false);

      await until(async () => (await containerdNamespaces())?.includes(environment.namespace) === false, 30_000, "the pending namespace to be removed");
      expect(driver.pendingNamespaces).toEqual([]);
      expect(existsSync(PENDING_FILE)).toBe(false);
      expect(await leftovers(environment)).toEqual([]);
      expect(driver.health()).toEqual({ status: "ok", reasons: [] });
      expect(driver.containerdRestarts).toBe(restartsBefore + 1);
      expect(changes.at(0)?.status).toBe("degraded");
      expect(changes.at(-1)).toEqual({ status: "ok", reasons: [] });
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
      unsubscribe();
    }
  });

  it("reports an environment whose registry died as degraded until its holder has restarted it", async () => {
    const environment = (await driver.createEnvironment(LAB)) as NamespacesEnvironment;
    try {
      expect(driver.health()).toEqual({ status: "ok", reasons: [] });
      const pidFile = path.join(path.dirname(environment.home), "registry.pid");
      const registry = Number(readFileSync(pidFile, "utf8"));
      process.kill(registry, "SIGKILL");
      await until(() => !isRunning(registry), 5000, "the registry to die");
      // The holder waits a second before it starts the registry again.
      expect(driver.health()).toEqual({ status: "degraded", reasons: [`the image registry of lab environment ${environment.id} is restarting`] });
      await until(() => driver.health().status === "ok", 10_000, "the registry to be restarted");
      expect(Number(readFileSync(pidFile, "utf8"))).not.toBe(registry);
      const pull = await run(environment, "ctr image pull docker.io/library/busybox:latest >/dev/null && echo PULLED");
      expect(pull.output, pull.output).toContain("PULLED");
    } finally {
      await environment.dispose();
    }
  });

  it("removes at its next start the namespaces a lab server left pending", async () => {
    const namespace = `${ENVIRONMENT_NAMESPACE_PREFIX}left-pending-${process.pid}`;
    await mustRun("ctr", ["--address", driver.containerdAddress!, "namespaces", "create", namespace]);
    await driver.close();
    // As a server that stopped before containerd came back would leave it.
    writeFileSync(PENDING_FILE, JSON.stringify([namespace]));
    await driver.prepare([LAB]);
    expect(await listContainerdNamespaces(driver.containerdAddress!)).not.toContain(namespace);
    expect(existsSync(PENDING_FILE)).toBe(false);
  });
});
