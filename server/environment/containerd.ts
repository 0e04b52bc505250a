/**
 * The containerd every environment talks to: the system's own when one is
 * running (or when asked for), else an embedded daemon the lab server
 * starts, keeps alive and stops, with all its state under the lab data dir.
 *
 * Either way the service says whether the daemon is up (state(), and
 * onStateChange() on every change): the embedded one is restarted whenever
 * it dies, with a growing delay, and never given up on; the system one is
 * not ours to restart, so it is only asked every few seconds whether it
 * still answers.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, closeSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { log } from "../log.ts";
import { runCommand, sleep } from "./exec.ts";
import { isRunning as pidAlive } from "./namespace-processes.ts";

export const SYSTEM_CONTAINERD_ADDRESS = "/run/containerd/containerd.sock";

/**
 * auto: the system containerd when its socket answers, else embedded.
 * embedded: always our own daemon (state under the data dir).
 * system: only the system daemon; fail when it does not answer.
 */
export type ContainerdMode = "auto" | "embedded" | "system";

/** Whether the daemon answers, and since when; what the driver's health is made of. */
export interface ContainerdState {
  up: boolean;
  /** When it last went up or down (ms since the epoch). */
  since: number;
  /** While down: the number of the restart attempt under way or next (1, 2, …); 0 while up or when not ours to restart. */
  attempt: number;
  /** Times the daemon was brought back up since the service started. */
  restarts: number;
  /** The daemon's pid, when it is ours (embedded) and running. */
  pid: number | undefined;
}

/** How the embedded daemon is kept alive and how often a daemon is looked at; every field has a default. */
export interface ContainerdSupervision {
  /** Delay before the first restart after a crash (default 1000 ms); doubled after each crash or failed restart. */
  restartDelayMs?: number;
  /** Upper bound of the restart delay (default 30 000 ms). */
  maxRestartDelayMs?: number;
  /** A daemon that stayed up this long is restarted after restartDelayMs again (default 60 000 ms). */
  stableAfterMs?: number;
  /** How often the pid of an adopted daemon (not our child: no exit event) is checked (default 500 ms). */
  adoptedPollMs?: number;
  /** How often the system containerd is asked whether it answers (default 5000 ms). */
  systemPollMs?: number;
}

const SUPERVISION_DEFAULTS: Required<ContainerdSupervision> = {
  restartDelayMs: 1000,
  maxRestartDelayMs: 30_000,
  stableAfterMs: 60_000,
  adoptedPollMs: 500,
  systemPollMs: 5000,
};

export interface ContainerdService {
  readonly address: string;
  /** True when this process started (and will stop) the daemon. */
  readonly embedded: boolean;
  readonly logFile: string | undefined;
  state(): ContainerdState;
  /** Called on every change of state() (down, each restart attempt, up again); returns an unsubscribe. */
  onStateChange(listener: (state: ContainerdState) => void): () => void;
  stop(): Promise<void>;
}

/** One line for a reader and an operator about a containerd that is down; undefined while it is up. */
export function containerdOutage(service: ContainerdService): string | undefined {
  const state = service.state();
  if (state.up) return undefined;
  const at = new Date(state.since).toTimeString().slice(0, 8);
  if (service.embedded) return `the lab's containerd stopped at ${at}; ${state.attempt ? `restarting it (attempt ${state.attempt})` : "it is not being restarted (the lab server is stopping)"}`;
  return `the system's containerd (${service.address}) has not answered since ${at}; the lab server does not manage it, so it must be started again on the host`;
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


/** The listeners and the state every service keeps alike. */
class StateKeeper {
  private current: ContainerdState;
  private readonly listeners = new Set<(state: ContainerdState) => void>();

  constructor(pid: number | undefined) {
    this.current = { up: true, since: Date.now(), attempt: 0, restarts: 0, pid };
  }

  get(): ContainerdState {
    return { ...this.current };
  }

  subscribe(listener: (state: ContainerdState) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  set(change: Partial<ContainerdState>): void {
    const next = { ...this.current, ...change };
    if (next.up !== this.current.up) next.since = Date.now();
    if (JSON.stringify(next) === JSON.stringify(this.current)) return;
    this.current = next;
    for (const listener of [...this.listeners]) {
      try {
        listener(this.get());
      } catch (err) {
        log.error({ err }, "a containerd state listener failed");
      }
    }
  }
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

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return "";
  }
}

/**
 * An embedded containerd, restarted whenever it dies: after restartDelayMs,
 * doubled with each crash or failed restart up to maxRestartDelayMs, and
 * back to restartDelayMs once a daemon has stayed up stableAfterMs. It is
 * never given up on: whatever killed it (the OOM killer, a full disk) may
 * pass, and a lab server without containerd is of no use to anyone.
 *
 * A daemon left running by an earlier lab server that crashed is adopted:
 * it is not our child, so its pid is watched instead of an exit event.
 */
class EmbeddedContainerd implements ContainerdService {
  readonly address: string;
  readonly embedded = true;
  readonly logFile: string;
  private readonly dir: string;
  private readonly configFile: string;
  private readonly pidFile: string;
  private readonly supervision: Required<ContainerdSupervision>;
  private readonly status = new StateKeeper(undefined);
  /** The running daemon when we started it. */
  private child: ChildProcess | undefined;
  /** The running daemon when an earlier lab server started it, and the timer watching its pid. */
  private adoptedPid: number | undefined;
  private adoptedWatch: ReturnType<typeof setInterval> | undefined;
  /** When the running daemon came up, to tell a young death from one after a long, stable run. */
  private upSince = 0;
  /** The restart delay's exponent: deaths and failed restarts in a row. */
  private backoffLevel = 0;
  private recovering: Promise<void> | undefined;
  /** Ends the pause before the next restart attempt early (on stop). */
  private wake: (() => void) | undefined;
  private stopping = false;

  constructor(dir: string, supervision: ContainerdSupervision = {}) {
    this.dir = dir;
    this.address = path.join(dir, "containerd.sock");
    this.logFile = path.join(dir, "containerd.log");
    this.configFile = path.join(dir, "config.toml");
    this.pidFile = path.join(dir, "containerd.pid");
    this.supervision = { ...SUPERVISION_DEFAULTS, ...supervision };
  }

  state(): ContainerdState {
    return this.status.get();
  }

  onStateChange(listener: (state: ContainerdState) => void): () => void {
    return this.status.subscribe(listener);
  }

  async start(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(this.configFile, embeddedConfig(this.dir));
    const previous = readPid(this.pidFile);
    if (previous && pidAlive(previous) && commandLine(previous).includes(this.configFile)) {
      if (await containerdAnswers(this.address)) {
        this.adopt(previous);
        return;
      }
      try {
        process.kill(previous, "SIGKILL");
      } catch {
        // gone meanwhile
      }
      await sleep(200);
    }
    await this.spawnDaemon();
    this.status.set({ up: true, since: Date.now(), pid: this.child?.pid });
  }

  private adopt(pid: number): void {
    this.adoptedPid = pid;
    this.upSince = Date.now();
    this.status.set({ up: true, since: Date.now(), pid });
    log.info({ pid, address: this.address }, "adopted the embedded containerd an earlier lab server left running");
    const watch = setInterval(() => {
      if (pidAlive(pid)) return;
      clearInterval(watch);
      if (this.adoptedWatch === watch) this.adoptedWatch = undefined;
      if (this.adoptedPid === pid) this.adoptedPid = undefined;
      this.daemonDied(pid, "its process is gone (adopted from an earlier lab server: no exit status)");
    }, this.supervision.adoptedPollMs);
    watch.unref();
    this.adoptedWatch = watch;
  }

  /** Starts a daemon and waits until it answers; throws (the daemon killed) when it does not. */
  private async spawnDaemon(): Promise<void> {
    rmSync(this.address, { force: true });
    const logFd = openSync(this.logFile, "a");
    // Own process group: a Ctrl-C meant for the lab server must not kill containerd
    // before the server has cleaned the environments up through it.
    const child = spawn("containerd", ["--config", this.configFile], { detached: true, stdio: ["ignore", logFd, logFd] });
    closeSync(logFd);
    let exited = false;
    child.once("error", (err) => {
      exited = true;
      log.warn({ err }, "containerd could not be started");
    });
    child.once("exit", (code, signal) => {
      exited = true;
      // Only a daemon that had come up counts as died; one that never answered is the starter's failure.
      if (this.child !== child) return;
      this.child = undefined;
      this.daemonDied(child.pid!, signal ? `signal ${signal}` : `exit code ${code}`);
    });
    if (child.pid) writeFileSync(this.pidFile, String(child.pid));
    const answered = await waitForSocket(this.address, () => !exited, 15_000);
    if (!answered || exited) {
      if (!exited) child.kill("SIGKILL");
      const what = exited ? "exited before it answered" : "did not answer within 15 s";
      throw new Error(`embedded containerd ${what} on ${this.address}; its log (${this.logFile}) ends:\n${tail(this.logFile)}`);
    }
    this.child = child;
    this.upSince = Date.now();
  }

  private daemonDied(pid: number, reason: string): void {
    if (this.stopping) return;
    if (Date.now() - this.upSince >= this.supervision.stableAfterMs) this.backoffLevel = 0;
    log.warn({ pid, reason, logFile: this.logFile }, "the embedded containerd died; restarting it");
    this.status.set({ up: false, attempt: 1, pid: undefined });
    this.recovering ??= this.recover().finally(() => {
      this.recovering = undefined;
    });
  }

  /** Restart attempts until one answers (or the service is stopped), each after a longer pause. */
  private async recover(): Promise<void> {
    for (let attempt = 1; !this.stopping; attempt++) {
      const { restartDelayMs, maxRestartDelayMs } = this.supervision;
      const delay = Math.min(restartDelayMs * 2 ** this.backoffLevel, maxRestartDelayMs);
      this.backoffLevel = Math.min(this.backoffLevel + 1, 30);
      this.status.set({ up: false, attempt });
      await this.pause(delay);
      if (this.stopping) return;
      try {
        await this.spawnDaemon();
      } catch (err) {
        log.warn({ err, attempt }, "the embedded containerd did not come back; trying again");
        continue;
      }
      const restarts = this.status.get().restarts + 1;
      this.status.set({ up: true, attempt: 0, restarts, pid: this.child?.pid });
      log.info({ attempt, restarts, pid: this.child?.pid }, "the embedded containerd is back");
      return;
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.wake = done;
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.adoptedWatch);
    this.wake?.();
    await this.recovering;
    const child = this.child;
    const pid = child?.pid ?? this.adoptedPid;
    this.status.set({ up: false, attempt: 0, pid: undefined });
    if (!pid) return;
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

/** The host's own containerd: not ours to restart, only asked every few seconds whether it still answers. */
class SystemContainerd implements ContainerdService {
  readonly address: string;
  readonly embedded = false;
  readonly logFile = undefined;
  private readonly pollMs: number;
  private readonly status = new StateKeeper(undefined);
  private timer: ReturnType<typeof setTimeout> | undefined;
  private polling: Promise<void> | undefined;
  private stopped = false;

  constructor(address: string, pollMs: number) {
    this.address = address;
    this.pollMs = pollMs;
    this.schedule();
  }

  state(): ContainerdState {
    return this.status.get();
  }

  onStateChange(listener: (state: ContainerdState) => void): () => void {
    return this.status.subscribe(listener);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.polling = this.poll();
    }, this.pollMs);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    const answers = await containerdAnswers(this.address);
    if (this.stopped) return;
    const was = this.status.get();
    if (answers && !was.up) {
      log.info({ address: this.address }, "the system containerd answers again");
      this.status.set({ up: true, restarts: was.restarts + 1 });
    } else if (!answers && was.up) {
      log.warn({ address: this.address }, "the system containerd does not answer");
      this.status.set({ up: false });
    }
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.polling;
  }
}

export async function startContainerd(options: {
  dir: string;
  mode: ContainerdMode;
  systemAddress?: string;
  supervision?: ContainerdSupervision;
}): Promise<ContainerdService> {
  const systemAddress = options.systemAddress ?? SYSTEM_CONTAINERD_ADDRESS;
  if (options.mode !== "embedded" && (await containerdAnswers(systemAddress))) {
    return new SystemContainerd(systemAddress, options.supervision?.systemPollMs ?? SUPERVISION_DEFAULTS.systemPollMs);
  }
  if (options.mode === "system") {
    throw new Error(`no containerd answers on ${systemAddress} (containerd mode "system"): start the system's containerd, or use mode "auto" or "embedded"`);
  }
  const service = new EmbeddedContainerd(options.dir, options.supervision);
  await service.start();
  return service;
}
