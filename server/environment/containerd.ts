/**
 * The containerd every environment talks to: the system's own when one is
 * running (or when asked for), else an embedded daemon the lab server
 * starts, keeps alive and stops, with all its state under the lab data dir.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, closeSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { runCommand, sleep } from "./exec.ts";
import { isRunning as pidAlive } from "./namespace-processes.ts";

export const SYSTEM_CONTAINERD_ADDRESS = "/run/containerd/containerd.sock";

/**
 * auto: the system containerd when its socket answers, else embedded.
 * embedded: always our own daemon (state under the data dir).
 * system: only the system daemon; fail when it does not answer.
 */
export type ContainerdMode = "auto" | "embedded" | "system";

export interface ContainerdService {
  readonly address: string;
  /** True when this process started (and will stop) the daemon. */
  readonly embedded: boolean;
  readonly logFile: string | undefined;
  stop(): Promise<void>;
}

export async function containerdAnswers(address: string): Promise<boolean> {
  if (!existsSync(address)) return false;
  const result = await runCommand("ctr", ["--address", address, "--timeout", "2s", "version"], { timeoutMs: 5000 });
  return result.code === 0 && result.stdout.includes("Server:");
}

function embeddedConfig(dir: string): string {
  const quote = (value: string) => JSON.stringify(value);
  return `# Written by the Nix Way Labs server: an embedded containerd for lab environments.
version = 2
root = ${quote(path.join(dir, "root"))}
state = ${quote(path.join(dir, "state"))}
# Readers use ctr, which calls CNI itself; the CRI plugin is not needed.
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = ${quote(path.join(dir, "containerd.sock"))}

[ttrpc]
  address = ${quote(path.join(dir, "containerd.sock.ttrpc"))}

[debug]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = ${quote(path.join(dir, "opt"))}
`;
}


function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function waitForSocket(address: string, isAlive: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive()) return false;
    if (await containerdAnswers(address)) return true;
    await sleep(100);
  }
  return false;
}

function tail(file: string, lines = 10): string {
  try {
    return readFileSync(file, "utf8").trim().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** An embedded containerd, restarted when it dies unexpectedly (at most 5 times a minute). */
class EmbeddedContainerd implements ContainerdService {
  readonly address: string;
  readonly embedded = true;
  readonly logFile: string;
  private readonly dir: string;
  private readonly configFile: string;
  private readonly pidFile: string;
  private child: ChildProcess | undefined;
  /** A daemon left by an earlier lab server that crashed: adopted, stopped by pid. */
  private adoptedPid: number | undefined;
  private stopping = false;
  private restarts: number[] = [];

  constructor(dir: string) {
    this.dir = dir;
    this.address = path.join(dir, "containerd.sock");
    this.logFile = path.join(dir, "containerd.log");
    this.configFile = path.join(dir, "config.toml");
    this.pidFile = path.join(dir, "containerd.pid");
  }

  async start(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(this.configFile, embeddedConfig(this.dir));
    const previous = readPid(this.pidFile);
    if (previous && pidAlive(previous) && readFileSync(`/proc/${previous}/cmdline`, "utf8").includes(this.configFile)) {
      if (await containerdAnswers(this.address)) {
        this.adoptedPid = previous;
        return;
      }
      process.kill(previous, "SIGKILL");
      await sleep(200);
    }
    await this.spawnDaemon();
  }

  private async spawnDaemon(): Promise<void> {
    rmSync(this.address, { force: true });
    const log = openSync(this.logFile, "a");
    // Own process group: a Ctrl-C meant for the lab server must not kill containerd
    // before the server has cleaned the environments up through it.
    const child = spawn("containerd", ["--config", this.configFile], { detached: true, stdio: ["ignore", log, log] });
    closeSync(log);
    this.child = child;
    writeFileSync(this.pidFile, String(child.pid));
    let exited = false;
    child.once("exit", (code, signal) => {
      exited = true;
      if (this.child === child) this.child = undefined;
      if (!this.stopping) this.restartAfterCrash(code, signal);
    });
    if (!(await waitForSocket(this.address, () => !exited, 15_000))) {
      if (!exited) child.kill("SIGKILL");
      throw new Error(`embedded containerd did not answer on ${this.address} within 15 s; its log (${this.logFile}) ends:\n${tail(this.logFile)}`);
    }
  }

  private restartAfterCrash(code: number | null, signal: NodeJS.Signals | null): void {
    const now = Date.now();
    this.restarts = this.restarts.filter((time) => now - time < 60_000);
    const reason = signal ? `signal ${signal}` : `exit code ${code}`;
    if (this.restarts.length >= 5) {
      console.error(`embedded containerd died (${reason}) 5 times within a minute; not restarting. Log: ${this.logFile}`);
      return;
    }
    this.restarts.push(now);
    console.error(`embedded containerd died (${reason}); restarting. Log: ${this.logFile}`);
    setTimeout(() => {
      if (this.stopping) return;
      this.spawnDaemon().catch((error: Error) => console.error(error.message));
    }, 1000).unref();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const pid = this.child?.pid ?? this.adoptedPid;
    if (!pid) return;
    const child = this.child;
    const exited = child ? new Promise<void>((resolve) => child.once("exit", () => resolve())) : undefined;
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      return;
    }
    const deadline = Date.now() + 10_000;
    while (pidAlive(pid) && Date.now() < deadline) {
      if (exited) await Promise.race([exited, sleep(100)]);
      else await sleep(100);
      if (child && child.exitCode !== null) break;
    }
    if (pidAlive(pid) && (!child || child.exitCode === null)) process.kill(pid, "SIGKILL");
    rmSync(this.pidFile, { force: true });
  }
}

export async function startContainerd(options: { dir: string; mode: ContainerdMode; systemAddress?: string }): Promise<ContainerdService> {
  const systemAddress = options.systemAddress ?? SYSTEM_CONTAINERD_ADDRESS;
  if (options.mode !== "embedded" && (await containerdAnswers(systemAddress))) {
    return { address: systemAddress, embedded: false, logFile: undefined, stop: async () => {} };
  }
  if (options.mode === "system") {
    throw new Error(`no containerd answers on ${systemAddress} (containerd mode "system"): start the system's containerd, or use mode "auto" or "embedded"`);
  }
  const service = new EmbeddedContainerd(options.dir);
  await service.start();
  return service;
}
