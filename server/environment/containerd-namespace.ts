/**
 * Emptying and removing one containerd namespace: what an environment's
 * reader created (tasks, containers, images, leases, snapshots, content).
 * containerd refuses to remove a namespace that still holds anything, and
 * its garbage collector frees blobs and snapshots a moment after images go,
 * so the removal is retried for a few seconds.
 */
import { runCommand, sleep } from "./exec.ts";

export const ENVIRONMENT_NAMESPACE_PREFIX = "nwl-";

function ctr(address: string, namespace: string, args: string[]) {
  return runCommand("ctr", ["--address", address, "--namespace", namespace, ...args], { timeoutMs: 30_000 });
}

async function list(address: string, namespace: string, args: string[]): Promise<string[]> {
  const result = await ctr(address, namespace, args);
  return result.code === 0 ? result.stdout.split("\n").map((line) => line.trim()).filter(Boolean) : [];
}

export async function listContainerdNamespaces(address: string): Promise<string[]> {
  const result = await runCommand("ctr", ["--address", address, "namespaces", "ls", "-q"]);
  return result.code === 0 ? result.stdout.split("\n").map((line) => line.trim()).filter(Boolean) : [];
}

/** Removes everything in the namespace, then the namespace; throws when it still cannot go. */
export async function removeContainerdNamespace(address: string, namespace: string, timeoutMs = 10_000): Promise<void> {
  if (!(await listContainerdNamespaces(address)).includes(namespace)) return;
  const deadline = Date.now() + timeoutMs;
  let lastError = "";
  for (;;) {
    // -f kills a running task before deleting it.
    for (const task of await list(address, namespace, ["tasks", "ls", "-q"])) await ctr(address, namespace, ["tasks", "rm", "-f", task]);
    const containers = await list(address, namespace, ["containers", "ls", "-q"]);
    if (containers.length) await ctr(address, namespace, ["containers", "rm", ...containers]);
    const images = await list(address, namespace, ["images", "ls", "-q"]);
    if (images.length) await ctr(address, namespace, ["images", "rm", "--sync", ...images]);
    const leases = await list(address, namespace, ["leases", "ls", "-q"]);
    if (leases.length) await ctr(address, namespace, ["leases", "rm", "--sync", ...leases]);
    // Left by a failed pull or run: children first, so repeat until none are left.
    for (let round = 0; round < 5; round++) {
      const snapshots = (await list(address, namespace, ["snapshots", "ls"])).slice(1).map((line) => line.split(/\s+/)[0]!);
      if (!snapshots.length) break;
      for (const key of snapshots) await ctr(address, namespace, ["snapshots", "rm", key]);
    }
    const blobs = await list(address, namespace, ["content", "ls", "-q"]);
    if (blobs.length) await ctr(address, namespace, ["content", "rm", ...blobs]);
    const removal = await runCommand("ctr", ["--address", address, "namespaces", "rm", namespace]);
    if (removal.code === 0 || !(await listContainerdNamespaces(address)).includes(namespace)) return;
    lastError = (removal.stderr || removal.stdout).trim();
    if (Date.now() > deadline) break;
    await sleep(300);
  }
  throw new Error(`containerd namespace ${namespace} could not be removed: ${lastError}`);
}
