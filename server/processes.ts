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

interface ProcStat {
  pid: number;
  ppid: number;
  pgrp: number;
  session: number;
  ttyNr: number;
  tpgid: number;
  state: string;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // After the command name (which may hold spaces): state ppid pgrp session tty_nr tpgid ...
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return {
      pid,
      state: fields[0]!,
      ppid: Number(fields[1]),
      pgrp: Number(fields[2]),
      session: Number(fields[3]),
      ttyNr: Number(fields[4]),
      tpgid: Number(fields[5]),
    };
  } catch {
    return undefined;
  }
}

function commandLine(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return [];
  }
}

const isLoginShell = (argv: readonly string[]) => argv[0]?.startsWith("-") === true || argv.includes("-l") || argv.includes("--login");

/**
 * The job in the foreground of a shell's terminal: the process group the
 * terminal's reads and Ctrl+C go to, when it is not the reader's login shell.
 * `rootPid` is the pty's child; drivers put the shell behind wrappers
 * (nsenter, `script` and its own pty inside a sandbox), so the terminal that
 * counts is that of the deepest session leader under it that has one.
 * The login shell is that leader, or a login shell it started.
 */
export function foregroundJob(rootPid: number): { pgid: number; session: number; command: string } | undefined {
  const all: ProcStat[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat && stat.state !== "Z") all.push(stat);
  }
  const children = new Map<number, ProcStat[]>();
  for (const stat of all) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), stat]);
  let leader: ProcStat | undefined;
  let leaderDepth = -1;
  const walk = (stat: ProcStat, depth: number) => {
    if (stat.pid === stat.session && stat.ttyNr !== 0 && stat.tpgid > 0 && depth > leaderDepth) {
      leader = stat;
      leaderDepth = depth;
    }
    for (const child of children.get(stat.pid) ?? []) walk(child, depth + 1);
  };
  const root = all.find((stat) => stat.pid === rootPid);
  if (!root) return undefined;
  walk(root, 0);
  if (!leader) return undefined;
  const shellGroups = new Set([leader.pgrp]);
  for (const child of children.get(leader.pid) ?? []) {
    if (child.pid === child.pgrp && isLoginShell(commandLine(child.pid))) shellGroups.add(child.pgrp);
  }
  if (shellGroups.has(leader.tpgid)) return undefined;
  const members = all.filter((stat) => stat.pgrp === leader!.tpgid);
  if (!members.length) return undefined;
  const head = members.find((stat) => stat.pid === leader!.tpgid) ?? members[0]!;
  return { pgid: leader.tpgid, session: leader.session, command: commandLine(head.pid).join(" ") };
}

/**
 * Kills a foreground job's process group (SIGKILL: a job that ignored Ctrl+C is the reason
 * to ask), if it is still in `session`: a group that ended meanwhile leaves its id free
 * for someone else's.
 */
export function killProcessGroup(pgid: number, session: number): boolean {
  const leader = readStat(pgid);
  if (leader && leader.session !== session) return false;
  try {
    process.kill(-pgid, "SIGKILL");
    return true;
  } catch {
    return false;
  }
}
