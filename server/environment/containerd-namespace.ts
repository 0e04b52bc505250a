/**
 * Emptying and removing one containerd namespace: what an environment's
 * reader created (tasks, containers, images, leases, snapshots, content).
 * containerd refuses to remove a namespace that still holds anything, and
 * its garbage collector frees blobs and snapshots a moment after images go,
 * so the removal is retried for a few seconds.
 *
 * When containerd is down, a namespace cannot go at all: it is then kept as
 * pending (PendingNamespaceRemovals) and removed once containerd is back.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { log } from "../log.ts";
import { runCommand, sleep } from "./exec.ts";

export const ENVIRONMENT_NAMESPACE_PREFIX = "nwl-";

/** Without it, ctr waits 10 s for a socket that is not there (a containerd that is down). */
const CONNECT_TIMEOUT = ["--connect-timeout", "2s"];

function ctr(address: string, namespace: string, args: string[]) {
  return runCommand("ctr", ["--address", address, ...CONNECT_TIMEOUT, "--namespace", namespace, ...args], { timeoutMs: 30_000 });
}

async function list(address: string, namespace: string, args: string[]): Promise<string[]> {
  const result = await ctr(address, namespace, args);
  return result.code === 0 ? result.stdout.split("\n").map((line) => line.trim()).filter(Boolean) : [];
}

/** The namespaces containerd holds; throws when it does not answer (never an empty list for a daemon that is down). */
export async function listContainerdNamespaces(address: string): Promise<string[]> {
  const result = await runCommand("ctr", ["--address", address, ...CONNECT_TIMEOUT, "namespaces", "ls", "-q"], { timeoutMs: 30_000 });
  if (result.code !== 0) throw new Error(`containerd at ${address} did not list its namespaces: ${(result.stderr || result.stdout).trim()}`);
  return result.stdout.split("\n").map((line) => line.trim()).filter(Boolean);
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
    const removal = await runCommand("ctr", ["--address", address, ...CONNECT_TIMEOUT, "namespaces", "rm", namespace], { timeoutMs: 30_000 });
    if (removal.code === 0 || !(await listContainerdNamespaces(address)).includes(namespace)) return;
    lastError = (removal.stderr || removal.stdout).trim();
    if (Date.now() > deadline) break;
    await sleep(300);
  }
  throw new Error(`containerd namespace ${namespace} could not be removed: ${lastError}`);
}

/**
 * Namespaces of disposed environments that could not be removed (containerd
 * was down), in a file under the data dir: removed when containerd is back,
 * or by the next lab server on this data dir should this one stop first.
 * Only names are kept: each is retried against the containerd of the time.
 */
export class PendingNamespaceRemovals {
  readonly file: string;
  private running: Promise<void> | undefined;
  private again = false;

  constructor(file: string) {
    this.file = file;
  }

  list(): string[] {
    try {
      const value: unknown = JSON.parse(readFileSync(this.file, "utf8"));
      return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
    } catch {
      return [];
    }
  }

  add(namespace: string): void {
    const pending = this.list();
    if (!pending.includes(namespace)) this.write([...pending, namespace]);
  }

  private delete(namespace: string): void {
    this.write(this.list().filter((item) => item !== namespace));
  }

  private write(pending: string[]): void {
    if (!pending.length) {
      rmSync(this.file, { force: true });
      return;
    }
    const temporary = `${this.file}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(pending, null, 2) + "\n");
    renameSync(temporary, this.file);
  }

  /** Removes what it can of the pending namespaces; the rest stay pending. Never rejects. A call during a run makes it run once more. */
  retry(address: string): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        for (const namespace of this.list()) {
          try {
            await removeContainerdNamespace(address, namespace);
            this.delete(namespace);
            log.info({ namespace }, "removed the containerd namespace of an environment disposed while containerd was down");
          } catch (err) {
            log.warn({ namespace, err }, "the containerd namespace of a disposed environment still cannot be removed; it stays pending");
          }
        }
      } while (this.again);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }
}
