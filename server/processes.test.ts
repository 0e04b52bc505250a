/**
 * The reader's Stop kills a process group only while the job it was told
 * about still is that group in that session: a pid that moved on, or was
 * reused, names another job, which must live. Real processes.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { killProcessGroup } from "./processes.ts";

const started: ChildProcess[] = [];
afterEach(() => {
  for (const child of started.splice(0)) child.kill("SIGKILL");
});

/** A sleeping process leading a process group (and a session) of its own. */
function sleeper(): Promise<ChildProcess> {
  // detached: the child calls setsid(), so it leads a session and a process group, both numbered by its pid.
  const child = spawn("sleep", ["30"], { detached: true, stdio: "ignore" });
  started.push(child);
  return new Promise((resolve) => setTimeout(() => resolve(child), 100));
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("killProcessGroup", () => {
  it("kills the group while its member is still in it and in that session", async () => {
    const child = await sleeper();
    const pid = child.pid!;
    expect(killProcessGroup({ pgid: pid, session: pid, member: pid, command: "sleep 30" })).toBe(true);
    await new Promise((resolve) => child.once("exit", resolve));
  });

  it("refuses when the member is in another group or session (a job that moved on or a reused pid), and that process lives", async () => {
    const child = await sleeper();
    const pid = child.pid!;
    expect(killProcessGroup({ pgid: pid + 100_000, session: pid, member: pid, command: "sleep 30" })).toBe(false);
    expect(killProcessGroup({ pgid: pid, session: pid + 100_000, member: pid, command: "sleep 30" })).toBe(false);
    expect(killProcessGroup({ pgid: pid, session: pid, member: 4_000_000, command: "gone" })).toBe(false);
    expect(alive(pid)).toBe(true);
  });
});
