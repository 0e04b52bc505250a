/**
 * Running a lab script in a local child process, for every local driver: the
 * script's text goes to `bash -s` on stdin (as it would through ssh or
 * `kubectl exec -i`: nothing of it is in an argv), stdout and stderr are kept
 * together up to a bound, and at the timeout the child's whole process group
 * is killed.
 */
import type { ChildProcess } from "node:child_process";
import type { ScriptResult } from "./driver.ts";

/**
 * A script as `bash -s` must read it: one brace group, which bash parses
 * whole before running any of it, with stdin from /dev/null, so a command
 * that reads stdin (`ctr run` attached) cannot swallow the lines after it.
 */
export function scriptForStdin(script: string): string {
  return `{\n${script}\n} </dev/null\n`;
}

/**
 * Waits for a child spawned detached with piped stdio to end, after giving it
 * `stdin`; at the timeout its whole process group is killed. Exit code 124 on
 * a timeout, 127 when it could not start (`error` says why). What it prints is
 * the caller's to collect.
 */
export function superviseChild(child: ChildProcess, stdin: string | Buffer, timeoutMs: number): Promise<{ exitCode: number; timedOut: boolean; error?: string }> {
  return new Promise((resolve) => {
    // A program that exits before reading all of its input closes the pipe: not an error.
    child.stdin!.on("error", () => {});
    child.stdin!.end(stdin);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    }, timeoutMs);
    let done = false;
    const finish = (exitCode: number, error?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ exitCode, timedOut, error });
    };
    child.on("error", (error) => finish(127, String(error)));
    child.on("close", (code, signal) => finish(timedOut ? 124 : (code ?? (signal ? 128 + 9 : 1))));
  });
}

/** Feeds `script` to a child spawned detached with piped stdio (running `bash -s`), and collects what it prints. */
export async function runScriptIn(child: ChildProcess, script: string, options: { timeoutMs: number; maxOutputBytes: number }): Promise<ScriptResult> {
  const started = performance.now();
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  const collect = (chunk: Buffer) => {
    if (size >= options.maxOutputBytes) {
      truncated = true;
      return;
    }
    chunks.push(chunk.subarray(0, options.maxOutputBytes - size));
    size += chunk.byteLength;
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  const { exitCode, timedOut, error } = await superviseChild(child, scriptForStdin(script), options.timeoutMs);
  if (error) chunks.push(Buffer.from(error));
  let output = Buffer.concat(chunks).toString("utf8");
  if (truncated) output += "\n[output truncated]";
  if (timedOut) output += `\n[timed out after ${options.timeoutMs} ms]`;
  return { exitCode, output, timedOut, durationMs: Math.round(performance.now() - started) };
}
