/**
 * The sandbox driver: a reader is uid 0 inside a user namespace of its own
 * and nobody outside. Each environment is
 *
 *   - a 65,536-id range of host uids and gids (slots.ts), mapped to 0-65535
 *     inside by the lab server itself (no /etc/subuid);
 *   - user, PID, mount, network, IPC, UTS and cgroup namespaces, made by
 *     `setpriv --reuid=BASE … -- unshare --user … --fork`, whose PID 1
 *     (init.sh) builds a root tree (read-only /usr, a private /etc layer,
 *     /root /tmp /var on a size-capped tmpfs charged to its memory cgroup,
 *     tmpfs /run and /dev, fresh proc and sysfs, its cgroups) and pivots
 *     into it, then supervises the environment's own registry
 *     (127.0.0.2:443, answering as registry-1.docker.io, serving the shared
 *     image storage read-only) and its own containerd at the default socket:
 *     every `ctr` command of the series works as typed;
 *   - cgroups with memory, pids and CPU limits (cgroups.ts), which every
 *     process entering (terminal, check) joins before it enters;
 *   - a folder `<dataDir>/sandboxes/<id>/` (0700, the base uid's: the files
 *     of its /etc layer, mount points) and a record `<id>.json` beside it
 *     (root's), for a later server to clean up after a killed one. Nothing
 *     the reader writes lands on the host's disk.
 *
 * Disposal kills PID 1 (the kernel then kills the whole PID namespace,
 * whatever the reader started), removes the cgroups and the folder.
 *
 * The shared image storage is seeded at prepare() through provisionSharedInfra
 * (a host or embedded containerd, used for seeding only and stopped after).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, closeSync, copyFileSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { findLab, loadLabs, type LabCatalog } from "../../labs.ts";
import { log } from "../../log.ts";
import type { ContainerdMode, ContainerdSupervision } from "../../environment/containerd.ts";
import { sleep } from "../../environment/exec.ts";
import { MissingPrerequisitesError, findCommand, requireRegistry } from "../../environment/prerequisites.ts";
import { registryConfig, REGISTRY_ADDRESS, sessionHostsFile } from "../../environment/registry.ts";
import { provisionSharedInfra } from "../../environment/shared-infra.ts";
import { LocalPtyShell } from "../../pty/local-pty-shell.ts";
import type { DriverHealth, FileReadResult, FileWriteResult, LabEnvironment, ScriptResult, SessionDriver, ShellCommand, ShellProcess, ShellRequest } from "../driver.ts";
import { sandboxAvailability, type SandboxAvailability } from "./availability.ts";
import { cgroupLayout, cgroupTreeProcesses, createEnvironmentCgroups, DEFAULT_LIMITS, destroyEnvironmentCgroups, type CgroupLayout, type EnvironmentCgroups, type SandboxLimits } from "../../environment/cgroups.ts";
import { readFileThrough, writeFileThrough } from "../environment-files.ts";
import { CONTAINERD_LOG, enterArgv, INSIDE_BASH, NAMESPACES, runInside, SANDBOX_PATH, sandboxEnvironment, spawnInside, TERMINAL_COMMAND, type EnterTarget, type HostTools, type NamespaceName } from "./enter.ts";
import { DEFAULT_SLOTS_DIR, processesInRange, RANGE_SIZE, SlotRegistry } from "./slots.ts";

export const INIT_SCRIPT = readFileSync(new URL("./init.sh", import.meta.url), "utf8");

/**
 * Before the maps exist, the new namespace's uid is unmapped: wait for the
 * server to write them, then run init.sh (given on stdin) with the
 * capabilities uid 0 gets. PID 1 dies with unshare (--pdeathsig: unshare's
 * --kill-child does not survive the exec that gains capabilities). The
 * script reaches PID 1 through a pipe (a here-string), not its command line,
 * so `ps` inside shows a short one; node's stdin is a socket, which
 * /dev/stdin cannot reopen.
 */
const STAGE0 = `m=""
until [ -n "$m" ]; do read -r m </proc/self/uid_map || m=""; [ -n "$m" ] || sleep 0.002; done
script=$(cat)
exec setpriv --pdeathsig KILL -- bash --norc /dev/fd/3 "$@" 3<<<"$script"`;

/**
 * Closes every fd but 0-2 (what the server inherited without close-on-exec
 * must not reach the environment), joins the cgroups named before "--", then
 * runs the rest: the holder starts inside its limits.
 */
const JOIN_CGROUPS = `for fd in /proc/self/fd/*; do fd=\${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done
while [ "$1" != -- ]; do echo $$ >"$1/cgroup.procs" || exit 125; shift; done
shift
exec "$@"`;

const CONTAINERD_CONFIG = `# The environment's own containerd (Nix Way Labs sandbox): default socket and namespace.
version = 2
root = "/var/lib/containerd"
state = "/run/containerd"
# Readers use ctr, which calls CNI itself; the CRI plugin is not needed (nor usable in a user namespace).
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[plugins."io.containerd.internal.v1.opt"]
  path = "/var/lib/containerd/opt"

# With the default pause_threshold (0.02) containerd 1.6's GC scheduler keeps waking up: about
# 1 % of a core per idle environment here. Without it, deletions still trigger collection.
[plugins."io.containerd.gc.v1.scheduler"]
  pause_threshold = 0.0
`;

const SANDBOXES_DIR = "sandboxes";
const LOCK_FILE = "sandbox-driver.pid";

export interface SandboxDriverOptions {
  /** Lab data dir (e.g. ".lab-data"): shared images and registry storage, environments' folders and records. */
  dataDir: string;
  /** Output of a script kept (stdout and stderr interleaved). */
  maxScriptOutputBytes?: number;
  /** The containerd used to seed the shared registry storage at prepare() (stopped right after when embedded). */
  containerd?: ContainerdMode;
  containerdSupervision?: ContainerdSupervision;
  labs?: LabCatalog;
  labsDir?: string;
  /** Limits of each environment (defaults: 1 GiB of memory, 512 pids, 1 CPU). */
  limits?: Partial<SandboxLimits>;
  /** Size of the tmpfs holding the reader's /root /tmp /var and /etc layer (default: half the memory limit, which it counts against). */
  stateBytes?: number;
  /** First host uid of the sandboxes' ranges (default 1,000,000: slot N is base + N*65536). */
  uidBase?: number;
  /** Machine-wide folder of claimed uid ranges (default /run/nix-way-labs/sandbox-slots). */
  slotsDir?: string;
  /** Folder of the environments' cgroups (v1: at the top of each hierarchy; v2: in the server's own cgroup). Default "nix-way-labs". */
  cgroupParent?: string;
  /** How long an environment may take to be ready (default 20 s). */
  readyTimeoutMs?: number;
  /** How often health() is looked at for onHealthChange listeners (default 2 s). */
  healthPollMs?: number;
}

/** Saved as `<dataDir>/sandboxes/<id>.json` (root's): enough to clean the environment up from a later server. */
export interface SandboxRecord {
  id: string;
  lab: string;
  slot: number;
  base: number;
  dir: string;
  cgroups: EnvironmentCgroups;
  /** unshare, the holder's parent on the host (outside the PID namespace). */
  holder?: { pid: number; start: string };
  /** The environment's PID 1 on the host, once it is ready. */
  init?: EnterTarget;
}

/** A LabEnvironment with what tests, diagnostics and the lab test need. */
export interface SandboxEnvironment extends LabEnvironment {
  /** The host argv node-pty runs for a login shell inside. */
  shellCommand(): ShellCommand;
  readonly record: SandboxRecord;
  readonly target: EnterTarget;
  /** Host path of the environment's folder. */
  readonly dir: string;
  /** The variables every process inside starts with. */
  readonly env: Record<string, string>;
  /** How long createEnvironment took, in ms (namespaces, mounts, registry and containerd answering). */
  readonly startMs: number;
  /** How long the last dispose took, in ms. */
  disposeMs: number;
}

function newEnvironmentId(): string {
  return randomBytes(8).toString("hex");
}

/** Field 22 of /proc/PID/stat (start time in clock ticks), or undefined when the pid is gone. */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** Whether pid is still the process that had this start time, and not a zombie. */
export function sameProcess(pid: number, start: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19] === start && fields[0] !== "Z" && fields[0] !== "X";
  } catch {
    return false;
  }
}

function namespaceInode(pid: number, name: NamespaceName): number | undefined {
  try {
    return statSync(`/proc/${pid}/ns/${name}`).ino;
  } catch {
    return undefined;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function commandName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

function killIfSame(pid: number | undefined, start: string | undefined): void {
  if (!pid || !start || !sameProcess(pid, start)) return;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // gone
  }
}

/** The first folder from top (excluded) down to dir that "others" cannot pass through, if any. */
function untraversable(top: string, dir: string): string | undefined {
  const relative = path.relative(top, dir);
  if (relative.startsWith("..")) return top;
  let current = top;
  for (const part of relative.split(path.sep).filter(Boolean)) {
    current = path.join(current, part);
    if ((statSync(current).mode & 0o001) === 0) return current;
  }
  return undefined;
}

/** The first file or folder under dir that "others" cannot read (the registry inside reads the storage as nobody). */
function unreadableUnder(dir: string): string | undefined {
  const stat = lstatSync(dir);
  if (stat.isSymbolicLink()) return undefined;
  if (!stat.isDirectory()) return (stat.mode & 0o004) === 0 ? dir : undefined;
  if ((stat.mode & 0o005) !== 0o005) return dir;
  for (const entry of readdirSync(dir)) {
    const found = unreadableUnder(path.join(dir, entry));
    if (found) return found;
  }
  return undefined;
}

function chownTree(target: string, uid: number): void {
  chownSync(target, uid, uid);
  if (!lstatSync(target).isDirectory()) return;
  for (const entry of readdirSync(target)) chownTree(path.join(target, entry), uid);
}

export class SandboxDriver implements SessionDriver {
  readonly kind = "sandbox";
  private readonly options: SandboxDriverOptions;
  private readonly dataDir: string;
  private readonly root: string;
  private readonly limits: SandboxLimits;
  private readonly slots: SlotRegistry;
  private readonly environments = new Set<SandboxEnvironmentImpl>();
  private labs: LabCatalog | undefined;
  private layout: CgroupLayout | undefined;
  private tools: HostTools | undefined;
  private shared: { registryStorage: string; caBundle: string; registryCert: string; registryKey: string } | undefined;
  private preparing: Promise<void> | undefined;
  private readonly healthListeners = new Set<(health: DriverHealth) => void>();
  private healthTimer: ReturnType<typeof setInterval> | undefined;
  private lastHealth = "";
  /** Timings of prepare() (ms per step). */
  readonly timings: Record<string, number> = {};

  /** Whether this host can run the sandbox driver, and why not (see availability.ts). */
  static available(options: { cgroupParent?: string } = {}): SandboxAvailability {
    return sandboxAvailability(options);
  }

  constructor(options: SandboxDriverOptions) {
    this.options = options;
    this.dataDir = path.resolve(options.dataDir);
    this.root = path.join(this.dataDir, SANDBOXES_DIR);
    this.labs = options.labs;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.slots = new SlotRegistry({ dir: options.slotsDir, uidBase: options.uidBase });
  }

  health(): DriverHealth {
    const reasons: string[] = [];
    for (const environment of this.environments) reasons.push(...environment.problems());
    return { status: reasons.length ? "degraded" : "ok", reasons };
  }

  onHealthChange(listener: (health: DriverHealth) => void): () => void {
    this.healthListeners.add(listener);
    if (!this.healthTimer) {
      this.lastHealth = JSON.stringify(this.health());
      this.healthTimer = setInterval(() => this.healthChanged(), this.options.healthPollMs ?? 2000);
      this.healthTimer.unref();
    }
    return () => {
      this.healthListeners.delete(listener);
      if (!this.healthListeners.size) {
        clearInterval(this.healthTimer);
        this.healthTimer = undefined;
      }
    };
  }

  private healthChanged(): void {
    if (!this.healthListeners.size) return;
    const health = this.health();
    const text = JSON.stringify(health);
    if (text === this.lastHealth) return;
    this.lastHealth = text;
    for (const listener of [...this.healthListeners]) {
      try {
        listener(health);
      } catch (err) {
        log.error({ err }, "a driver health listener failed");
      }
    }
  }

  private catalog(): LabCatalog {
    this.labs ??= loadLabs(this.options.labsDir ?? "labs");
    return this.labs;
  }

  /** Seeds the shared image storage and removes what a killed server left (once); the lab runtime has checked the labs' requirements. */
  async prepare(_labs: readonly string[]): Promise<void> {
    this.preparing ??= this.provision();
    try {
      await this.preparing;
    } catch (error) {
      this.preparing = undefined;
      throw error;
    }
  }

  private async provision(): Promise<void> {
    const timed = async <T>(name: string, step: () => Promise<T> | T): Promise<T> => {
      const started = performance.now();
      try {
        return await step();
      } finally {
        this.timings[name] = Math.round(performance.now() - started);
      }
    };
    const availability = await timed("availability", () => sandboxAvailability({ cgroupParent: this.options.cgroupParent }));
    if (!availability.ok) throw new MissingPrerequisitesError("the sandbox lab driver", availability.reasons);
    this.layout = cgroupLayout(this.options.cgroupParent ?? "nix-way-labs");
    this.tools = { bash: findCommand("bash")!, env: findCommand("env")!, nsenter: findCommand("nsenter")!, stat: findCommand("stat")! };
    mkdirSync(this.root, { recursive: true });
    // Others may pass through (an environment's uid reaches the registry storage from its folder)
    // but not list: the data dir, its sandboxes folder. Nothing above the data dir is needed.
    chmodSync(this.dataDir, statSync(this.dataDir).mode | 0o001);
    chmodSync(this.root, 0o711);
    this.claimDataDir();
    await timed("stale", () => this.removeStaleEnvironments());
    const infra = await timed("shared", () => provisionSharedInfra({ dataDir: this.dataDir, containerd: this.options.containerd ?? "auto", containerdSupervision: this.options.containerdSupervision }));
    Object.assign(this.timings, Object.fromEntries(Object.entries(infra.timings).map(([step, ms]) => [`shared.${step}`, ms])));
    // Seeding was its only use: the environments run their own containerd.
    await infra.close();
    // From an environment's folder up to the data dir and down to the storage, every folder must let its uid through.
    const blocked = untraversable(this.dataDir, infra.registryStorage);
    if (blocked) {
      throw new Error(`sandbox environments cannot reach ${infra.registryStorage}: ${blocked} is not searchable by other users (chmod o+x ${blocked})`);
    }
    const unreadable = unreadableUnder(infra.registryStorage);
    if (unreadable) throw new Error(`sandbox environments cannot read the registry storage: ${unreadable} is not readable by other users (chmod -R o+rX ${infra.registryStorage})`);
    this.shared = { registryStorage: infra.registryStorage, caBundle: infra.pki.caBundle, registryCert: infra.pki.registryCert, registryKey: infra.pki.registryKey };
  }

  /**
   * One driver per data dir: a second one would take the first one's
   * environments for stale ones and kill them. The lock file is made
   * exclusively; one whose owner (pid and start time) is gone is taken over.
   */
  private claimDataDir(): void {
    const lock = path.join(this.dataDir, LOCK_FILE);
    const me = `${process.pid} ${processStart(process.pid)}`;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = openSync(lock, "wx", 0o644);
        writeFileSync(fd, me);
        closeSync(fd);
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      let owner = "";
      try {
        owner = readFileSync(lock, "utf8").trim();
      } catch {
        continue;
      }
      if (owner === me) return;
      const [pid, start] = owner.split(" ");
      if (pid && start && sameProcess(Number(pid), start)) {
        throw new Error(`lab data dir ${this.dataDir} is in use by another lab server (pid ${pid}); give this one its own data dir`);
      }
      // Its owner is gone; an empty one is still being written, unless it was left so by a crash.
      try {
        if (owner || Date.now() - statSync(lock).mtimeMs > 2000) rmSync(lock, { force: true });
      } catch {
        // removed meanwhile
      }
    }
    throw new Error(`lab data dir ${this.dataDir}: could not claim ${lock}`);
  }

  /** Removes the data dir's lock, if it is still this server's. */
  private releaseDataDir(): void {
    const lock = path.join(this.dataDir, LOCK_FILE);
    try {
      if (readFileSync(lock, "utf8").trim() === `${process.pid} ${processStart(process.pid)}`) rmSync(lock, { force: true });
    } catch {
      // not there
    }
  }

  /** Environments of an earlier lab server that did not shut down cleanly (killed, crashed). */
  private async removeStaleEnvironments(): Promise<void> {
    for (const entry of readdirSync(this.root)) {
      if (!entry.endsWith(".json")) continue;
      let record: SandboxRecord;
      try {
        record = JSON.parse(readFileSync(path.join(this.root, entry), "utf8")) as SandboxRecord;
      } catch {
        rmSync(path.join(this.root, entry), { force: true });
        continue;
      }
      log.info({ environment: record.id, slot: record.slot }, "removing a sandbox environment an earlier lab server left");
      const left = await destroyRecord(record, this.root, this.slots);
      if (left.length) log.warn({ environment: record.id, left }, "a stale sandbox environment could not be removed entirely");
    }
    // Folders whose record was never written, and slots this data dir holds for environments it no longer knows.
    for (const entry of readdirSync(this.root)) {
      const full = path.join(this.root, entry);
      if (!entry.endsWith(".json") && !existsSync(`${full}.json`) && !entry.endsWith(".log")) rmSync(full, { recursive: true, force: true });
      if (entry.endsWith(".log") && !existsSync(full.replace(/\.log$/, ".json"))) rmSync(full, { force: true });
    }
    for (const { slot, owner } of this.slots.list()) {
      if (owner?.dataDir !== this.dataDir || existsSync(path.join(this.root, `${owner.environment}.json`))) continue;
      if (!processesInRange(this.slots.uidBase + slot * RANGE_SIZE).length) this.slots.release(slot);
    }
  }

  async createEnvironment(lab: string): Promise<LabEnvironment> {
    const layout = this.layout;
    const tools = this.tools;
    const shared = this.shared;
    if (!layout || !tools || !shared) throw new Error("sandbox driver: createEnvironment() before prepare()");
    const loaded = findLab(this.catalog(), lab);
    if (!loaded) throw new Error(`unknown lab "${lab}"`);
    const started = performance.now();
    const id = newEnvironmentId();
    const recordFile = path.join(this.root, `${id}.json`);
    const claim = this.slots.claim({ dataDir: this.dataDir, environment: id, record: recordFile, serverPid: process.pid });
    const dir = path.join(this.root, id);
    const record: SandboxRecord = { id, lab, slot: claim.slot, base: claim.base, dir, cgroups: { version: layout.version, dirs: [], mounts: [] } };
    const saveRecord = () => writeFileSync(recordFile, JSON.stringify(record), { mode: 0o600 });
    let holder: ChildProcess | undefined;
    try {
      saveRecord();
      this.stageFolder(dir, id, claim.base, shared);
      record.cgroups = createEnvironmentCgroups(layout, `sandbox-${claim.slot}`, this.limits, claim.base);
      saveRecord();
      const up = await this.startHolder(record, shared.registryStorage);
      holder = up.holder;
      record.holder = { pid: holder.pid!, start: processStart(holder.pid!) ?? "" };
      record.init = up.init;
      saveRecord();
    } catch (error) {
      holder?.kill("SIGKILL");
      await destroyRecord(record, this.root, this.slots);
      throw error;
    }
    const environment = new SandboxEnvironmentImpl({
      record,
      holder: holder!,
      tools,
      maxOutputBytes: this.options.maxScriptOutputBytes ?? 64 * 1024,
      onDispose: async (self) => {
        this.environments.delete(self);
        const left = await destroyRecord(record, this.root, this.slots);
        this.healthChanged();
        if (left.length) throw new Error(`sandbox environment ${id}: left behind after dispose: ${left.join("; ")}`);
      },
    });
    this.environments.add(environment);
    environment.startMs = Math.round(performance.now() - started);
    log.info({ environment: id, lab, slot: claim.slot, ms: environment.startMs }, "sandbox environment ready");
    return environment;
  }

  /** The environment's folder: 0700, its base uid's, holding what init.sh copies into its /etc layer. */
  private stageFolder(dir: string, id: string, base: number, shared: NonNullable<SandboxDriver["shared"]>): void {
    mkdirSync(dir, { mode: 0o700 });
    const etc = path.join(dir, "stage", "etc");
    for (const sub of ["ssl/certs", "containerd", "docker/registry", "cni/net.d"]) mkdirSync(path.join(etc, sub), { recursive: true });
    for (const sub of ["rootfs", "state"]) mkdirSync(path.join(dir, sub));
    const hostname = `lab-${id.slice(0, 8)}`;
    writeFileSync(path.join(etc, "hostname"), `${hostname}\n`);
    writeFileSync(path.join(etc, "hosts"), `${sessionHostsFile()}127.0.1.1\t${hostname}\n`);
    copyFileSync(shared.caBundle, path.join(etc, "ssl", "certs", "ca-certificates.crt"));
    writeFileSync(path.join(etc, "containerd", "config.toml"), CONTAINERD_CONFIG);
    // The registry's own certificate and key (for registry-1.docker.io); never the CA's key.
    copyFileSync(shared.registryCert, path.join(etc, "docker", "registry", "registry.pem"));
    copyFileSync(shared.registryKey, path.join(etc, "docker", "registry", "registry-key.pem"));
    chmodSync(path.join(etc, "docker", "registry", "registry-key.pem"), 0o600);
    const inside = { caCert: "", caBundle: "", registryCert: "/etc/docker/registry/registry.pem", registryKey: "/etc/docker/registry/registry-key.pem" };
    writeFileSync(path.join(etc, "docker", "registry", "config.yml"), registryConfig({ storageDir: "/var/lib/docker-registry", pki: inside, readonly: true }));
    chownTree(dir, base);
    chmodSync(dir, 0o700);
  }

  /** Starts the holder (unshare and PID 1) in the environment's cgroups, writes its maps, waits until it is ready. */
  private startHolder(record: SandboxRecord, registryStorage: string): Promise<{ holder: ChildProcess; init: EnterTarget }> {
    const { base, dir } = record;
    const stateBytes = this.options.stateBytes ?? Math.floor(this.limits.memoryBytes / 2);
    const mounts = record.cgroups.mounts.map((mount) => `${mount.version}:${mount.options}:${mount.name}`);
    const logFile = path.join(this.root, `${record.id}.log`);
    const tools = this.tools!;
    const hostname = `lab-${record.id.slice(0, 8)}`;
    const argv = [
      // --norc: bash would read ~/.bashrc, its stdin being a socket (as under sshd).
      "--norc", "-c", JOIN_CGROUPS, "nwl-holder", ...record.cgroups.dirs, "--",
      findCommand("setpriv")!, `--reuid=${base}`, `--regid=${base}`, "--clear-groups", "--",
      findCommand("unshare")!, "--user", "--mount", "--propagation", "private", "--net", "--pid", "--ipc", "--uts", "--cgroup", "--fork", "--kill-child", "--",
      // The storage relative to the environment's folder (its working directory): no host folder above the data dir is searched.
      tools.bash, "--norc", "-c", STAGE0, "nwl-init", hostname, String(stateBytes), path.relative(dir, registryStorage), ...mounts,
    ];
    const timeoutMs = this.options.readyTimeoutMs ?? 20_000;
    return new Promise((resolve, reject) => {
      const logFd = openSync(logFile, "a", 0o600);
      // Own process group: a Ctrl-C meant for the lab server must not take environments down before dispose.
      // PATH: the usual folders first (init.sh runs mount, ip, containerd… from the host's /usr), then the
      // server's own (NixOS profiles), never its node_modules.
      const hostPath = (process.env.PATH ?? "").split(":").filter((entry) => entry && !entry.includes("node_modules"));
      const PATH = [...new Set([...SANDBOX_PATH.split(":"), ...hostPath])].join(":");
      // Started in its folder: unshare carries the working directory into the new mount namespace, and
      // init.sh works relative to it, so its uid needs no search permission above the data dir.
      // The registry by name: inside, the host's /usr is the environment's, found on its PATH (docker-registry or registry).
      const holder = spawn(tools.bash, argv, { cwd: dir, env: { PATH, NWL_REGISTRY: path.basename(requireRegistry()) }, detached: true, stdio: ["pipe", "pipe", logFd] });
      closeSync(logFd);
      // init.sh goes on stdin: PID 1's command line stays short.
      holder.stdin!.on("error", () => {});
      holder.stdin!.end(INIT_SCRIPT);
      let output = "";
      let settled = false;
      const fail = (message: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        holder.kill("SIGKILL");
        let detail = output.trim();
        try {
          detail = `${detail}\n${readFileSync(logFile, "utf8").trim().split("\n").slice(-8).join("\n")}`.trim();
        } catch {
          // no log
        }
        reject(new Error(`sandbox environment ${record.id}: ${message}${detail ? `:\n${detail}` : ""}`));
      };
      const timer = setTimeout(() => fail(`was not ready within ${timeoutMs} ms`), timeoutMs);
      holder.once("error", (error) => fail(`could not start: ${error.message}`));
      holder.once("exit", (code, signal) => fail(`exited (${signal ?? `code ${code}`}) before it was ready`));
      holder.stdout!.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        if (settled || !output.includes("ready\n") || output.includes("not ready")) return;
        settled = true;
        clearTimeout(timer);
        holder.stdout!.destroy();
        holder.removeAllListeners("exit");
        const init = this.identify(holder.pid!, record.cgroups.dirs);
        if (typeof init === "string") {
          holder.kill("SIGKILL");
          reject(new Error(`sandbox environment ${record.id}: ${init}`));
          return;
        }
        resolve({ holder, init });
      });
      void this.writeMaps(holder, base).catch((error: Error) => fail(error.message));
    });
  }

  /** Waits until unshare is in its new user namespace, then maps 0-65535 inside to the environment's range. */
  private async writeMaps(holder: ChildProcess, base: number): Promise<void> {
    const own = namespaceInode(process.pid, "user");
    const deadline = Date.now() + 10_000;
    for (;;) {
      const pid = holder.pid;
      if (holder.exitCode !== null || holder.signalCode !== null) return;
      const inode = pid ? namespaceInode(pid, "user") : undefined;
      // Only unshare (not the shell or setpriv before it, same pid) ends up in a new user namespace.
      if (inode !== undefined && inode !== own) break;
      if (Date.now() > deadline) throw new Error("unshare did not make its user namespace within 10 s");
      await sleep(1);
    }
    writeFileSync(`/proc/${holder.pid}/uid_map`, `0 ${base} ${RANGE_SIZE}\n`);
    writeFileSync(`/proc/${holder.pid}/gid_map`, `0 ${base} ${RANGE_SIZE}\n`);
  }

  /** The environment's PID 1 (unshare's only child) and its namespaces, or what is wrong. */
  private identify(holderPid: number, cgroupDirs: string[]): EnterTarget | string {
    const [pid] = childrenOf(holderPid);
    if (!pid) return "its PID 1 is gone";
    const start = processStart(pid);
    const namespaces = {} as Record<NamespaceName, number>;
    for (const name of NAMESPACES) {
      const inode = namespaceInode(pid, name);
      if (inode === undefined) return "its PID 1 is gone";
      if (inode === namespaceInode(process.pid, name)) return `its PID 1 shares the lab server's ${name} namespace`;
      namespaces[name] = inode;
    }
    if (!start) return "its PID 1 is gone";
    return { pid, start, namespaces, cgroupDirs };
  }

  async close(): Promise<void> {
    clearInterval(this.healthTimer);
    this.healthTimer = undefined;
    const results = await Promise.allSettled([...this.environments].map((environment) => environment.dispose()));
    if (this.layout) this.releaseDataDir();
    this.preparing = undefined;
    this.layout = undefined;
    this.shared = undefined;
    const failed = results.filter((result) => result.status === "rejected");
    if (failed.length) throw new Error(failed.map((result) => String((result as PromiseRejectedResult).reason)).join("\n"));
  }
}

/**
 * Removes an environment, live or left by a killed server: its PID 1 and
 * unshare (the kernel then kills the rest of its PID namespace), anything
 * still in its cgroups or running with its uids, its cgroups, folder,
 * record and slot. Returns what could not be removed.
 */
export async function destroyRecord(record: SandboxRecord, root: string, slots: SlotRegistry): Promise<string[]> {
  // PID 1 first: unshare, its parent, reaps it and exits by itself (killed first, it would leave
  // PID 1 to the host's init to reap); it is killed below only if it lingers.
  killIfSame(record.init?.pid, record.init?.start);
  const left = await destroyEnvironmentCgroups(record.cgroups.dirs);
  killIfSame(record.holder?.pid, record.holder?.start);
  // Nothing should run with its uids outside its cgroups; whatever does goes too, before its range is reused.
  const deadline = Date.now() + 5000;
  let strays = processesInRange(record.base);
  while (strays.length && Date.now() < deadline) {
    for (const pid of strays) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    await sleep(10);
    strays = processesInRange(record.base);
  }
  const problems = left.map((cgroup) => `cgroup ${cgroup}`);
  if (strays.length) problems.push(`processes ${strays.join(", ")}`);
  rmSync(record.dir, { recursive: true, force: true });
  rmSync(path.join(root, `${record.id}.log`), { force: true });
  if (!problems.length) {
    // The range is free again only once nothing uses it.
    slots.release(record.slot);
    rmSync(path.join(root, `${record.id}.json`), { force: true });
  }
  return problems;
}

class SandboxEnvironmentImpl implements SandboxEnvironment {
  readonly id: string;
  readonly lab: string;
  readonly record: SandboxRecord;
  readonly target: EnterTarget;
  readonly dir: string;
  readonly env: Record<string, string>;
  startMs = 0;
  disposeMs = 0;
  private readonly tools: HostTools;
  private readonly maxOutputBytes: number;
  private readonly holder: ChildProcess;
  private readonly onDispose: (self: SandboxEnvironmentImpl) => Promise<void>;
  private disposing: Promise<void> | undefined;
  /** The registry's process name inside (comm: at most 15 characters). */
  private readonly registryName = path.basename(requireRegistry()).slice(0, 15);

  constructor(options: { record: SandboxRecord; holder: ChildProcess; tools: HostTools; maxOutputBytes: number; onDispose: (self: SandboxEnvironmentImpl) => Promise<void> }) {
    this.record = options.record;
    this.id = options.record.id;
    this.lab = options.record.lab;
    this.target = options.record.init!;
    this.dir = options.record.dir;
    this.tools = options.tools;
    this.maxOutputBytes = options.maxOutputBytes;
    this.holder = options.holder;
    this.onDispose = options.onDispose;
    this.env = sandboxEnvironment({ ETCDCTL_API: "3", NWL_LAB: this.lab, NWL_ENVIRONMENT: this.id, NWL_CONTAINERD_LOG: CONTAINERD_LOG });
  }

  /** Whether its PID 1 is still the one it started with. */
  alive(): boolean {
    return !this.disposing && sameProcess(this.target.pid, this.target.start);
  }

  /** Why the environment is not fully working, for health(); empty when it is. */
  problems(): string[] {
    if (!sameProcess(this.target.pid, this.target.start)) return [`lab environment ${this.id} has ended: its PID 1 is gone`];
    // A service just killed is a zombie until PID 1 reaps it: dead all the same.
    const names = childrenOf(this.target.pid).filter((pid) => sameProcess(pid, processStart(pid) ?? "")).map(commandName);
    const reasons: string[] = [];
    if (!names.includes(this.registryName)) reasons.push(`the image registry of lab environment ${this.id} is restarting`);
    if (!names.includes("containerd")) reasons.push(`the containerd of lab environment ${this.id} is restarting`);
    return reasons;
  }

  /** The host argv node-pty runs for a login shell inside (on a pty of the environment's own devpts). */
  shellCommand(): ShellCommand {
    if (!this.alive()) throw new Error(`environment ${this.id} has ended (its PID 1 is gone)`);
    const [file, ...args] = enterArgv(this.target, TERMINAL_COMMAND, this.env, this.tools);
    return { file: file!, args, env: this.env, cwd: "/" };
  }

  openShell(request: ShellRequest): ShellProcess {
    return new LocalPtyShell(this.shellCommand(), request, request);
  }

  async runScript(script: string, { timeoutMs }: { timeoutMs: number }): Promise<ScriptResult> {
    if (!this.alive()) return { exitCode: 125, output: `environment ${this.id} has ended`, timedOut: false, durationMs: 0 };
    return runInside(this.target, script, { env: this.env, tools: this.tools, timeoutMs, maxOutputBytes: this.maxOutputBytes });
  }

  async readFile(file: string, { maxBytes }: { maxBytes: number }): Promise<FileReadResult> {
    if (!this.alive()) return { ok: false, problem: "ended", reason: `environment ${this.id} has ended` };
    return readFileThrough(this.spawnProgram, INSIDE_BASH, file, maxBytes);
  }

  async writeFile(file: string, content: Buffer): Promise<FileWriteResult> {
    if (!this.alive()) return { ok: false, problem: "ended", reason: `environment ${this.id} has ended` };
    return writeFileThrough(this.spawnProgram, INSIDE_BASH, file, content);
  }

  /** A fixed program of the server's, run inside as a script is (the reader's uid 0, its root, its namespaces and cgroups). */
  private readonly spawnProgram = (argv: string[]) => spawnInside(this.target, argv, this.env, this.tools);

  dispose(): Promise<void> {
    this.disposing ??= (async () => {
      const started = performance.now();
      try {
        await this.onDispose(this);
      } finally {
        this.disposeMs = Math.round(performance.now() - started);
      }
    })();
    return this.disposing;
  }
}

/** What is left of a disposed environment on the host: empty when it is gone for good. */
export function sandboxLeftovers(environment: SandboxEnvironment, slotsDir?: string): string[] {
  const leftovers: string[] = [];
  const { record, target } = environment;
  const inRange = processesInRange(record.base);
  if (inRange.length) leftovers.push(`processes with its uids: ${inRange.join(", ")}`);
  const inNamespace: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!sameProcess(Number(entry), processStart(Number(entry)) ?? "")) continue;
      if (statSync(`/proc/${entry}/ns/user`).ino === target.namespaces.user || statSync(`/proc/${entry}/ns/pid`).ino === target.namespaces.pid) inNamespace.push(Number(entry));
    } catch {
      // gone
    }
  }
  if (inNamespace.length) leftovers.push(`processes in its namespaces: ${inNamespace.join(", ")}`);
  const inCgroups = cgroupTreeProcesses(record.cgroups.dirs);
  if (inCgroups.length) leftovers.push(`processes in its cgroups: ${inCgroups.join(", ")}`);
  const cgroups = record.cgroups.dirs.filter((dir) => existsSync(dir));
  if (cgroups.length) leftovers.push(`cgroups: ${cgroups.join(", ")}`);
  const mounts = readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((line) => line.includes(record.dir));
  if (mounts.length) leftovers.push(`mounts: ${mounts.join("; ")}`);
  if (existsSync(record.dir)) leftovers.push(`folder ${record.dir}`);
  const root = path.dirname(record.dir);
  for (const file of [`${record.id}.json`, `${record.id}.log`]) if (existsSync(path.join(root, file))) leftovers.push(`file ${path.join(root, file)}`);
  try {
    const owner = JSON.parse(readFileSync(path.join(slotsDir ?? DEFAULT_SLOTS_DIR, String(record.slot)), "utf8")) as { environment?: string };
    if (owner.environment === record.id) leftovers.push(`uid slot ${record.slot}`);
  } catch {
    // free
  }
  return leftovers;
}
