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
    const stat = readStat(Number(entry));
    if (stat && stat.session === sessionId && stat.state !== "Z") pids.push(stat.pid);
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

/** The live children of a process, from its threads' `children` files (no scan of all of /proc). */
function childrenOf(pid: number): ProcStat[] {
  const children: ProcStat[] = [];
  let threads: string[];
  try {
    threads = readdirSync(`/proc/${pid}/task`);
  } catch {
    return children;
  }
  for (const thread of threads) {
    let listed: string;
    try {
      listed = readFileSync(`/proc/${pid}/task/${thread}/children`, "utf8");
    } catch {
      continue;
    }
    for (const child of listed.split(" ").filter(Boolean)) {
      const stat = readStat(Number(child));
      if (stat && stat.state !== "Z") children.push(stat);
    }
  }
  return children;
}

/** A job in the foreground of a shell's terminal: its group, the session it is in, and one member to check before a kill. */
export interface ForegroundJob {
  pgid: number;
  session: number;
  member: number;
  command: string;
}

/**
 * The job in the foreground of a shell's terminal: the process group the
 * terminal's reads and Ctrl+C go to, when it is not the reader's login shell.
 * `rootPid` is the pty's child; drivers put the shell behind wrappers
 * (nsenter, `script` and its own pty inside a sandbox), so the terminal that
 * counts is that of the deepest session leader under it that has one.
 * The login shell is that leader, or a login shell it started. Only the
 * processes under `rootPid` are read: a Stop costs the shell's tree, not the host's.
 */
export function foregroundJob(rootPid: number): ForegroundJob | undefined {
  const root = readStat(rootPid);
  if (!root || root.state === "Z") return undefined;
  const tree: ProcStat[] = [];
  const children = new Map<number, ProcStat[]>();
  let leader: ProcStat | undefined;
  let leaderDepth = -1;
  const walk = (stat: ProcStat, depth: number) => {
    tree.push(stat);
    if (stat.pid === stat.session && stat.ttyNr !== 0 && stat.tpgid > 0 && depth > leaderDepth) {
      leader = stat;
      leaderDepth = depth;
    }
    const below = childrenOf(stat.pid);
    children.set(stat.pid, below);
    for (const child of below) walk(child, depth + 1);
  };
  walk(root, 0);
  if (!leader) return undefined;
  const shellGroups = new Set([leader.pgrp]);
  for (const child of children.get(leader.pid) ?? []) {
    if (child.pid === child.pgrp && isLoginShell(commandLine(child.pid))) shellGroups.add(child.pgrp);
  }
  if (shellGroups.has(leader.tpgid)) return undefined;
  // The job's processes are the shell's descendants, in its session: a stale tpgid names nothing here.
  const members = tree.filter((stat) => stat.pgrp === leader!.tpgid && stat.session === leader!.session);
  if (!members.length) return undefined;
  const head = members.find((stat) => stat.pid === leader!.tpgid) ?? members[0]!;
  return { pgid: leader.tpgid, session: leader.session, member: head.pid, command: commandLine(head.pid).join(" ") };
}

/**
 * Kills a foreground job's process group (SIGKILL: a job that ignored Ctrl+C is the reason
 * to ask), if its member is still in that group and session just before: a group that ended
 * meanwhile leaves its id free for someone else's.
 */
export function killProcessGroup(job: ForegroundJob): boolean {
  const member = readStat(job.member);
  if (!member || member.pgrp !== job.pgid || member.session !== job.session) return false;
  try {
    process.kill(-job.pgid, "SIGKILL");
    return true;
  } catch {
    return false;
  }
}
