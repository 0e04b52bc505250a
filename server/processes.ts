/**
 * Ending a terminal must leave no orphans: every process of the pty's
 * terminal session (the shell, its jobs, what they started in the
 * background) is found through /proc and signalled.
 */
import { readdirSync, readFileSync } from "node:fs";

/** Live pids whose session id is `sessionId` (the pty's child is a session leader); zombies have exited already. */
export function sessionProcesses(sessionId: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // Fields after the command name, which may hold spaces: state ppid pgrp session ...
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[3]) === sessionId && fields[0] !== "Z") pids.push(Number(entry));
    } catch {
      // gone while we looked
    }
  }
  return pids;
}

/** SIGHUP now (as a closing terminal would), SIGKILL shortly after for what ignores it. */
export function killSessionProcesses(sessionId: number, graceMs = 500): void {
  const signal = (name: NodeJS.Signals) => {
    for (const pid of sessionProcesses(sessionId)) {
      try {
        process.kill(pid, name);
      } catch {
        // already gone
      }
    }
  };
  signal("SIGHUP");
  signal("SIGCONT");
  setTimeout(() => signal("SIGKILL"), graceMs).unref();
}
