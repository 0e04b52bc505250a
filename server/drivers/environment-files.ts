/**
 * Reading and writing one file inside a lab environment, for the file
 * editor, as the reader's shell would: every local driver runs one of two
 * FIXED bash programs where its shell and scripts run (inside the sandbox,
 * under nsenter, or in the host's working directory), so that environment's
 * own file system, mounts and permissions decide, never the host's. The path
 * is the program's argument ($1) and the content its stdin: neither is ever
 * part of a script's text.
 *
 * The programs answer by exit code (FILE_EXIT below) and print a header line
 * ("SIZE MTIME_SECONDS") before the content, so the server tells "no such
 * file" from "permission denied" without parsing messages.
 */
import { superviseChild } from "./local-script.ts";
import type { ChildProcess } from "node:child_process";
import type { FileProblem, FileReadResult, FileWriteResult } from "./driver.ts";

/** How long reading or writing one file may take before its process group is killed. */
export const FILE_TIMEOUT_MS = 10_000;
/** Bounded stderr: only the reason of a failure is kept. */
const MAX_STDERR_BYTES = 4096;

/** Exit codes of the two programs, and what each means. */
const FILE_EXIT: Record<number, FileProblem> = {
  10: "not-found",
  11: "is-a-folder",
  12: "not-a-file",
  13: "no-access",
  14: "folder-not-found",
  // enter.sh: the sandbox environment has ended.
  125: "ended",
};

/** `~` and `~/…` are the environment's HOME; a relative path is relative to it too (where the shell starts). */
const EXPAND_HOME = `p=$1
case $p in "~") p=$HOME ;; "~/"*) p=$HOME/\${p#"~/"} ;; esac
`;

/**
 * Reads at most $2 bytes of the file $1. Only regular files: a FIFO would
 * block and a device never ends (/proc files are regular, with size 0).
 */
export const READ_PROGRAM = `${EXPAND_HOME}[ -e "$p" ] || exit 10
[ -d "$p" ] && exit 11
[ -f "$p" ] || exit 12
[ -r "$p" ] || exit 13
# Opened once before anything is printed, so a refusal is still a clean exit code.
# (head opens it again itself: /proc/PID/environ read through an fd of an exec'd shell is empty.)
: <"$p" || exit 13
stat -L -c '%s %Y' -- "$p" || exit 1
exec head -c "$2" -- "$p"
`;

/**
 * Replaces the content of the file $1 with stdin, in place (the file keeps
 * its owner, mode and inode: a bind-mounted file such as /etc/hosts stays
 * one), or creates it when its folder exists. Prints "SIZE MTIME CREATED".
 */
export const WRITE_PROGRAM = `${EXPAND_HOME}case $p in */) exit 11 ;; esac
dir=$(dirname -- "$p")
[ -d "$dir" ] || exit 14
[ -d "$p" ] && exit 11
created=1
if [ -e "$p" ]; then
  [ -f "$p" ] || exit 12
  created=0
fi
exec 3>"$p" || exit 13
cat >&3 || exit 1
exec 3>&-
printf '%s %s\\n' "$(stat -L -c '%s %Y' -- "$p")" "$created"
`;

/** The argv that runs `program` with bash (the path of bash where it runs, e.g. /bin/bash inside a sandbox). */
export function fileProgramArgv(bash: string, program: string, ...args: string[]): string[] {
  // --norc: with pipes as stdio, bash would read ~/.bashrc, as under sshd.
  return [bash, "--norc", "-c", program, "nwl-file", ...args];
}

interface Collected {
  code: number;
  stdout: Buffer;
  stderr: string;
  timedOut: boolean;
}

/** Runs a spawned program (detached, piped stdio) to its end, stdout bounded by maxStdout, killed with its group at the timeout. */
async function collect(child: ChildProcess, stdin: Buffer | undefined, maxStdout: number, timeoutMs: number): Promise<Collected> {
  const out: Buffer[] = [];
  let outSize = 0;
  let err = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    if (outSize >= maxStdout) return;
    out.push(chunk.subarray(0, maxStdout - outSize));
    outSize += chunk.byteLength;
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    if (err.length < MAX_STDERR_BYTES) err += chunk.toString("utf8").slice(0, MAX_STDERR_BYTES - err.length);
  });
  const { exitCode, timedOut, error } = await superviseChild(child, stdin ?? Buffer.alloc(0), timeoutMs);
  return { code: exitCode, stdout: Buffer.concat(out), stderr: err + (error ?? ""), timedOut };
}

/** The last part of a tool's message ("…: Permission denied" → "Permission denied"), without the path it named. */
function reasonOf(stderr: string): string {
  const line = stderr.trim().split("\n").pop() ?? "";
  return line.slice(line.lastIndexOf(": ") + 1).trim() || line.trim();
}

function problem(result: Collected): { ok: false; problem: FileProblem; reason: string } {
  if (result.timedOut) return { ok: false, problem: "failed", reason: `took longer than ${FILE_TIMEOUT_MS / 1000} s` };
  const known = FILE_EXIT[result.code];
  return { ok: false, problem: known ?? "failed", reason: reasonOf(result.stderr) || `exit ${result.code}` };
}

/** Reads up to maxBytes + 1 bytes (one more than allowed tells "too big"), through a program spawned by `spawnProgram`. */
export async function readFileThrough(spawnProgram: (argv: string[]) => ChildProcess, bash: string, filePath: string, maxBytes: number): Promise<FileReadResult> {
  const header = 64;
  const child = spawnProgram(fileProgramArgv(bash, READ_PROGRAM, filePath, String(maxBytes + 1)));
  const result = await collect(child, undefined, header + maxBytes + 1, FILE_TIMEOUT_MS);
  if (result.code !== 0 || result.timedOut) return problem(result);
  const newline = result.stdout.indexOf(0x0a);
  const [size, mtime] = result.stdout.subarray(0, newline).toString("ascii").split(" ").map(Number);
  const content = result.stdout.subarray(newline + 1);
  return {
    ok: true,
    content: content.subarray(0, maxBytes),
    truncated: content.byteLength > maxBytes,
    // /proc and /sys files say 0: what was read is their size.
    size: size! > 0 ? size! : content.byteLength,
    mtimeMs: Number.isFinite(mtime) ? mtime! * 1000 : undefined,
  };
}

/** Writes `content` through a program spawned by `spawnProgram`. */
export async function writeFileThrough(spawnProgram: (argv: string[]) => ChildProcess, bash: string, filePath: string, content: Buffer): Promise<FileWriteResult> {
  const child = spawnProgram(fileProgramArgv(bash, WRITE_PROGRAM, filePath));
  const result = await collect(child, content, 256, FILE_TIMEOUT_MS);
  if (result.code !== 0 || result.timedOut) return problem(result);
  const [size, mtime, created] = result.stdout.toString("ascii").trim().split(" ").map(Number);
  return { ok: true, size: size ?? content.byteLength, mtimeMs: Number.isFinite(mtime) ? mtime! * 1000 : undefined, created: created === 1 };
}
