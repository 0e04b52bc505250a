/**
 * Entering a sandbox environment: the argv a host process runs to end up
 * inside (uid 0 of the environment's user namespace, in all its namespaces,
 * its root, its cgroups), the environment it starts with, and the two ways
 * the driver uses it: a terminal (node-pty runs the argv) and a script whose
 * text goes on stdin (SCRIPT_COMMAND).
 *
 *   bash enter.sh PID START stat INODES CGROUP… -- env -i VAR=… nsenter --user=/proc/self/fd/3 … --root=… --wd=… -- /bin/bash -c CLOSE-FDS-AND-CD COMMAND…
 *
 * Kept as separate functions (enterArgv, sandboxEnvironment, spawnInside,
 * runInside) so a caller can wire them to another process interface.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import type { ScriptResult } from "../driver.ts";
import { runScriptIn } from "../local-script.ts";
import { PROMPT_MARKS } from "../shell-integration.ts";

export const ENTER_SCRIPT = readFileSync(new URL("./enter.sh", import.meta.url), "utf8");

/** PATH inside: the environment's root is the host's /usr, read-only, with the usual symlinks. */
export const SANDBOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Where the environment's containerd writes its log (no journald): the page's `tail "$NWL_CONTAINERD_LOG"`. */
export const CONTAINERD_LOG = "/var/log/containerd.log";

/** The namespaces entered, in the order of the inode list and of fds 3-9 in enter.sh. */
export const NAMESPACES = ["user", "mnt", "net", "pid", "ipc", "uts", "cgroup"] as const;
export type NamespaceName = (typeof NAMESPACES)[number];

/** What identifies a live environment from the host: its PID 1 and the cgroups to join. */
export interface EnterTarget {
  /** The environment's PID 1, as the host sees it. */
  pid: number;
  /** Its start time (field 22 of /proc/PID/stat): a pid reused by another process has another. */
  start: string;
  /** Inode numbers of its namespaces, by name. */
  namespaces: Record<NamespaceName, number>;
  /** Host directories of its cgroups. */
  cgroupDirs: string[];
}

/** Absolute paths of the host tools the argv names (resolved once by the driver; NixOS has no /bin/bash). */
export interface HostTools {
  bash: string;
  env: string;
  nsenter: string;
  stat: string;
}

/** The only variables a process inside starts with: never the server's own. */
export function sandboxEnvironment(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: SANDBOX_PATH,
    HOME: "/root",
    USER: "root",
    LOGNAME: "root",
    SHELL: "/bin/bash",
    TERM: "xterm-256color",
    COLORTERM: "truecolor",
    LANG: "C.UTF-8",
    // Shell integration (OSC 133), as the other drivers' shells: see PROMPT_MARKS.
    ...PROMPT_MARKS,
    ...extra,
  };
}

/**
 * What `script` runs on its pty, as the leader of a session of its own: the
 * login shell, then (whether it exited or was hung up, its terminal closed)
 * every process left in that session, its background jobs: a shell that ends
 * takes its jobs with it, as on the host, where the server ends the pty's
 * session. (The host's session holds only nsenter and `script`.)
 */
const SESSION_SHELL = 'trap "hup=1" HUP; /bin/bash -l; status=$?; for pid in $(ps -s $$ -o pid=); do [ "$pid" = $$ ] || kill -9 "$pid" 2>/dev/null; done; exit $status';

/** A login shell on a pty of the environment's own devpts (`tty` then names /dev/pts/0, not a host pty). */
export const TERMINAL_COMMAND = ["/usr/bin/script", "-qfec", SESSION_SHELL, "/dev/null"];

/**
 * A script read from stdin: `bash -s`, given the text as scriptForStdin()
 * wraps it (one brace group with /dev/null as its stdin, parsed whole before
 * any of it runs), or `ctr run` / `ctr task start`, which forward stdin to
 * the task, would swallow the lines after them. Its stderr goes into its
 * stdout, one pipe: the output keeps the order it was written in.
 */
export const SCRIPT_COMMAND = ["/bin/bash", "--norc", "-c", "exec 2>&1; exec /bin/bash --norc -s", "nwl-script"];

/** bash inside: the environment's root has the host's /usr, and /bin where the host has one (a symlink on merged-/usr systems). */
export const INSIDE_BASH = "/bin/bash";

/** Inside, before the command: drop the fds enter.sh opened and start in /root. */
const INSIDE_PRELUDE = 'exec 3<&- 4<&- 5<&- 6<&- 7<&- 8<&- 9<&- 10<&-; cd /root 2>/dev/null || cd /; exec "$@"';

/** The host argv that runs `command` inside the environment, with exactly `env` as its environment. */
export function enterArgv(target: EnterTarget, command: readonly string[], env: Record<string, string>, tools: HostTools): string[] {
  const inodes = NAMESPACES.map((name) => String(target.namespaces[name])).join(" ");
  const fd = (name: NamespaceName) => `/proc/self/fd/${3 + NAMESPACES.indexOf(name)}`;
  return [
    // --norc everywhere: with a socket as stdin (node's pipes), bash would read ~/.bashrc, as under sshd.
    tools.bash, "--norc", "-c", ENTER_SCRIPT, "nwl-enter", String(target.pid), target.start, tools.stat, inodes, ...target.cgroupDirs, "--",
    tools.env, "-i", ...Object.entries(env).map(([name, value]) => `${name}=${value}`),
    tools.nsenter,
    `--user=${fd("user")}`, `--mount=${fd("mnt")}`, `--net=${fd("net")}`, `--pid=${fd("pid")}`,
    `--ipc=${fd("ipc")}`, `--uts=${fd("uts")}`, `--cgroup=${fd("cgroup")}`,
    // The environment's root, also as the working directory: --wd alone would keep a host one.
    "--root=/proc/self/fd/10", "--wd=/proc/self/fd/10",
    "--", "/bin/bash", "--norc", "-c", INSIDE_PRELUDE, "nwl", ...command,
  ];
}

/**
 * Starts `command` inside, in a process group of its own (so a timeout can
 * kill it all), with stdin, stdout and stderr as pipes.
 */
export function spawnInside(target: EnterTarget, command: readonly string[], env: Record<string, string>, tools: HostTools): ChildProcess {
  const [file, ...args] = enterArgv(target, command, env, tools);
  return spawn(file!, args, { cwd: "/", env, detached: true, stdio: ["pipe", "pipe", "pipe"] });
}

/**
 * Runs a script inside: its text goes on stdin (SCRIPT_COMMAND); stdout and
 * stderr are collected together (bounded); at the timeout the whole
 * process group is killed.
 */
export function runInside(
  target: EnterTarget,
  script: string,
  options: { env: Record<string, string>; tools: HostTools; timeoutMs: number; maxOutputBytes: number },
): Promise<ScriptResult> {
  return runScriptIn(spawnInside(target, SCRIPT_COMMAND, options.env, options.tools), script, options);
}
