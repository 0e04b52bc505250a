/**
 * The simplest driver: the lab environment is the host itself, with a
 * working directory per environment. No isolation; for a single reader on
 * their own lab VM, and for the terminal tests.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { userInfo } from "node:os";
import path from "node:path";
import { LocalPtyShell } from "../pty/local-pty-shell.ts";
import type { DriverHealth, LabEnvironment, ScriptResult, SessionDriver } from "./driver.ts";

export interface HostDriverOptions {
  dataDir: string;
  shell: string;
  maxScriptOutputBytes: number;
}

export function newId(): string {
  return randomBytes(16).toString("base64url");
}

/** The only variables a reader's shell or a lab script starts with: never the server's own environment (its secrets included). */
export function shellEnvironment(extra: Record<string, string> & { HOME: string }): Record<string, string> {
  // PATH is where the tools are (on NixOS, profile folders), minus the server's own node_modules/.bin.
  const path = (process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin").split(":").filter((dir) => dir && !dir.includes("node_modules")).join(":");
  const sbin = ["/usr/local/sbin", "/usr/sbin", "/sbin"].filter((dir) => !path.split(":").includes(dir));
  const user = userInfo().username;
  // OSC 133;A before each prompt (shell integration): the page knows exactly when a Run's command is done.
  const promptMark = 'printf "\\033]133;A\\007"';
  return {
    PATH: [...sbin, path].filter(Boolean).join(":"),
    TERM: "xterm-256color",
    COLORTERM: "truecolor",
    LANG: "C.UTF-8",
    USER: user,
    LOGNAME: user,
    PROMPT_COMMAND: promptMark,
    ...extra,
  };
}

/**
 * A script as `bash -s` must read it: one brace group, which bash parses
 * whole before running any of it, with stdin from /dev/null, so a command
 * that reads stdin (`ctr run` attached) cannot swallow the lines after it.
 */
export function scriptForStdin(script: string): string {
  return `{\n${script}\n} </dev/null\n`;
}

/** Runs a script with bash, output bounded, killed (with its process group) at the timeout. */
export function runBash(
  script: string,
  options: { cwd: string; env: Record<string, string>; timeoutMs: number; maxOutputBytes: number; wrap?: string[] },
): Promise<ScriptResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    // The script's text goes on stdin, as it would through ssh or `kubectl exec -i`: nothing of it is in an argv.
    const [file, ...args] = [...(options.wrap ?? []), "bash", "-s"];
    const child = spawn(file!, args, { cwd: options.cwd, env: options.env, detached: true, stdio: ["pipe", "pipe", "pipe"] });
    child.stdin.on("error", () => {});
    child.stdin.end(scriptForStdin(script));
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
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    }, options.timeoutMs);
    const finish = (exitCode: number) => {
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
    child.on("close", (code) => finish(timedOut ? 124 : (code ?? 1)));
  });
}

export class HostDriver implements SessionDriver {
  readonly kind = "host";
  /** Nothing shared to go down: the host driver is always healthy. */
  health(): DriverHealth {
    return { status: "ok", reasons: [] };
  }
  onHealthChange(_listener: (health: DriverHealth) => void): () => void {
    return () => {};
  }
  private readonly options: HostDriverOptions;
  private readonly environments = new Set<LabEnvironment>();

  constructor(options: HostDriverOptions) {
    this.options = options;
  }

  async prepare(): Promise<void> {
    mkdirSync(path.join(this.options.dataDir, "environments"), { recursive: true });
  }

  async createEnvironment(lab: string): Promise<LabEnvironment> {
    const id = newId();
    const workdir = path.resolve(this.options.dataDir, "environments", id);
    mkdirSync(workdir, { recursive: true });
    const env = shellEnvironment({ HOME: workdir, NWL_LAB: lab, NWL_ENVIRONMENT: id });
    const { shell, maxScriptOutputBytes } = this.options;
    const environments = this.environments;
    const environment: LabEnvironment = {
      id,
      lab,
      openShell: (request) => new LocalPtyShell({ file: shell, args: ["-l"], env, cwd: workdir }, request, request),
      runScript: (script, { timeoutMs }) => runBash(script, { cwd: workdir, env, timeoutMs, maxOutputBytes: maxScriptOutputBytes }),
      dispose: async () => {
        environments.delete(environment);
        rmSync(workdir, { recursive: true, force: true });
      },
    };
    environments.add(environment);
    return environment;
  }

  async close(): Promise<void> {
    await Promise.all([...this.environments].map((environment) => environment.dispose()));
  }
}
