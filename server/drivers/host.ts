/**
 * The simplest driver: the lab environment is the host itself, with a
 * working directory per environment. No isolation; for a single reader on
 * their own lab VM, and for the terminal tests.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import type { LabEnvironment, ScriptResult, SessionDriver, ShellCommand } from "./driver.ts";

export interface HostDriverOptions {
  dataDir: string;
  shell: string;
  maxScriptOutputBytes: number;
}

export function newId(): string {
  return randomBytes(16).toString("base64url");
}

export function shellEnvironment(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    // The server's own npm/node plumbing is no business of the reader's shell.
    if (value !== undefined && !key.startsWith("npm_") && key !== "NODE_OPTIONS") env[key] = value;
  }
  env.PATH = (env.PATH ?? "/usr/bin:/bin").split(":").filter((dir) => !dir.includes("node_modules")).join(":");
  // OSC 133;A before each prompt (shell integration): the page knows exactly when a Run's command is done.
  const promptMark = 'printf "\\033]133;A\\007"';
  return { ...env, TERM: "xterm-256color", COLORTERM: "truecolor", LANG: env.LANG ?? "C.UTF-8", PROMPT_COMMAND: promptMark, ...extra };
}

/** Runs a script with bash, output bounded, killed (with its process group) at the timeout. */
export function runBash(
  script: string,
  options: { cwd: string; env: Record<string, string>; timeoutMs: number; maxOutputBytes: number; wrap?: string[] },
): Promise<ScriptResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const [file, ...args] = [...(options.wrap ?? []), "bash", "-c", script];
    const child = spawn(file!, args, { cwd: options.cwd, env: options.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
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
    const env = shellEnvironment({ NWL_LAB: lab, NWL_ENVIRONMENT: id });
    const { shell, maxScriptOutputBytes } = this.options;
    const environments = this.environments;
    const environment: LabEnvironment = {
      id,
      lab,
      shellCommand: (): ShellCommand => ({ file: shell, args: ["-l"], env, cwd: workdir }),
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
