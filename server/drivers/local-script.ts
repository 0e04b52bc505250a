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

/** Feeds `script` to a child spawned detached with piped stdio (running `bash -s`), and collects what it prints. */
export function runScriptIn(child: ChildProcess, script: string, options: { timeoutMs: number; maxOutputBytes: number }): Promise<ScriptResult> {
  const started = performance.now();
  return new Promise((resolve) => {
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
    // A script that exits before reading all of it closes the pipe: not an error.
    child.stdin!.on("error", () => {});
    child.stdin!.end(scriptForStdin(script));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    }, options.timeoutMs);
    let done = false;
    const finish = (exitCode: number) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      let output = Buffer.concat(chunks).toString("utf8");
      if (truncated) output += "\n[output truncated]";
      if (timedOut) output += `\n[timed out after ${options.timeoutMs} ms]`;
      resolve({ exitCode, output, timedOut, durationMs: Math.round(performance.now() - started) });
    };
    child.on("error", (error) => {
      chunks.push(Buffer.from(String(error)));
      finish(127);
    });
    child.on("close", (code, signal) => finish(timedOut ? 124 : (code ?? (signal ? 128 + 9 : 1))));
  });
}
