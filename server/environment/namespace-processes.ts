/**
 * Finding and ending the processes of an environment. Without a PID
 * namespace (it breaks `ctr run --cni`, see namespaces.ts), the processes of
 * an environment are those whose mount or network namespace is the
 * environment's: whatever a reader starts stays in both unless it unshares.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { sleep } from "./exec.ts";

export interface NamespaceIds {
  mnt: string;
  net: string;
}

/** The namespace ids (e.g. "mnt:[4026532210]") of a process, or undefined when it is gone. */
export function namespaceIds(pid: number): NamespaceIds | undefined {
  try {
    return { mnt: readlinkSync(`/proc/${pid}/ns/mnt`), net: readlinkSync(`/proc/${pid}/ns/net`) };
  } catch {
    return undefined;
  }
}

/** Running (not zombie) state of a pid: zombies wait for a parent to reap them and hold nothing. */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Live pids in either namespace. */
export function processesInNamespaces(ids: NamespaceIds): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const own = namespaceIds(pid);
    if (own && (own.mnt === ids.mnt || own.net === ids.net) && isRunning(pid)) pids.push(pid);
  }
  return pids;
}

/** SIGKILLs every process of the namespaces until none is left (new ones forked meanwhile included). */
export async function killNamespaceProcesses(ids: NamespaceIds, timeoutMs = 5000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let pids = processesInNamespaces(ids);
  while (pids.length > 0) {
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    if (Date.now() > deadline) return pids;
    await sleep(20);
    pids = processesInNamespaces(ids);
  }
  return [];
}
