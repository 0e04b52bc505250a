/**
 * The simplest driver: the lab environment is the host itself, with a
 * working directory per environment. No isolation; for a single reader on
 * their own lab VM, and for the terminal tests.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { userInfo } from "node:os";
import path from "node:path";
import { LocalPtyShell } from "../pty/local-pty-shell.ts";
import { runScriptIn } from "./local-script.ts";
import { PROMPT_MARKS } from "./shell-integration.ts";
import { readFileThrough, writeFileThrough } from "./environment-files.ts";
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
  return {
    PATH: [...sbin, path].filter(Boolean).join(":"),
    TERM: "xterm-256color",
    COLORTERM: "truecolor",
    LANG: "C.UTF-8",
    USER: user,
    LOGNAME: user,
    // Shell integration (OSC 133): the page knows when a command runs and when the prompt is back.
    ...PROMPT_MARKS,
    ...extra,
  };
}

/** Runs a script with `bash -s` (through `wrap`, e.g. nsenter), output bounded, killed with its process group at the timeout. */
export function runBash(
  script: string,
  options: { cwd: string; env: Record<string, string>; timeoutMs: number; maxOutputBytes: number; wrap?: string[] },
): Promise<ScriptResult> {
  const [file, ...args] = [...(options.wrap ?? []), "bash", "-s"];
  const child = spawn(file!, args, { cwd: options.cwd, env: options.env, detached: true, stdio: ["pipe", "pipe", "pipe"] });
  return runScriptIn(child, script, options);
}

/** Spawns a fixed program (through `wrap`, e.g. nsenter) as a script runs: its own process group, piped stdio, only `env`. */
export function spawnIn(argv: string[], options: { cwd: string; env: Record<string, string>; wrap?: string[] }): ChildProcess {
  const [file, ...args] = [...(options.wrap ?? []), ...argv];
  return spawn(file!, args, { cwd: options.cwd, env: options.env, detached: true, stdio: ["pipe", "pipe", "pipe"] });
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
    const spawnProgram = (argv: string[]) => spawnIn(argv, { cwd: workdir, env });
    const environment: LabEnvironment = {
      id,
      lab,
      openShell: (request) => new LocalPtyShell({ file: shell, args: ["-l"], env, cwd: workdir }, request, request),
      runScript: (script, { timeoutMs }) => runBash(script, { cwd: workdir, env, timeoutMs, maxOutputBytes: maxScriptOutputBytes }),
      readFile: (file, { maxBytes }) => readFileThrough(spawnProgram, "bash", file, maxBytes),
      writeFile: (file, content) => writeFileThrough(spawnProgram, "bash", file, content),
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
