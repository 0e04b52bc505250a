/**
 * The host-namespaces driver: each lab environment is a long-lived holder
 * process in a private mount namespace and its own network namespace, which
 * every shell and check script enters with nsenter. Inside, the reader has:
 *
 *   - a containerd namespace of its own (CONTAINERD_NAMESPACE, CONTAINERD_ADDRESS);
 *   - a home/working directory of its own;
 *   - its own /etc/cni/net.d (empty at start), /etc/hosts (registry-1.docker.io
 *     → the local registry, localhost on ::1 too) and CA bundle (+ the lab CA),
 *     as bind mounts no other environment sees;
 *   - its own loopback network, so two readers can both run etcd on [::1]:2379,
 *     with a read-only registry on 127.0.0.2:443 serving the shared image storage.
 *
 * No PID namespace: the CNI plugins `ctr run --cni` calls open
 * /proc/<their pid>/task/<tid>/ns/net and the task's /proc/<host pid>/ns/net,
 * which cannot both resolve in one /proc. The environment's processes are
 * instead found by namespace membership and killed on dispose.
 *
 * health() is degraded while the shared containerd is down (the embedded one
 * is being restarted) or an environment's registry is (its holder restarts
 * it). An environment disposed while containerd is down still goes at once;
 * its containerd namespace is removed when containerd is back (kept in
 * <dataDir>/pending-namespaces.json until then, for a later server too).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, openSync, closeSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { findLab, loadLabs, readLabScript, type LabCatalog } from "../labs.ts";
import { log } from "../log.ts";
import { containerdOutage, type ContainerdMode, type ContainerdSupervision } from "../environment/containerd.ts";
import { ENVIRONMENT_NAMESPACE_PREFIX, PendingNamespaceRemovals, removeContainerdNamespace } from "../environment/containerd-namespace.ts";
import { LAB_IMAGES } from "../environment/images.ts";
import { isRunning, killNamespaceProcesses, namespaceIds, processesInNamespaces, type NamespaceIds } from "../environment/namespace-processes.ts";
import { CTR_CNI_PLUGIN_DIRS, MissingPrerequisitesError, cniPluginDir, findCommand, missingCniPlugins, missingCommands, requireRegistry } from "../environment/prerequisites.ts";
import { registryConfig, sessionHostsFile, WAIT_FOR_REGISTRY_BASH } from "../environment/registry.ts";
import { CNI_CONFIG_DIR, provisionSharedInfra, type SharedInfra } from "../environment/shared-infra.ts";
import { SYSTEM_CA_BUNDLE } from "../environment/pki.ts";
import { cgroupMounts, destroyEnvironmentCgroups } from "../environment/cgroups.ts";
import { LocalPtyShell } from "../pty/local-pty-shell.ts";
import type { DriverHealth, LabEnvironment, ScriptResult, SessionDriver } from "./driver.ts";
import { runBash, shellEnvironment, spawnIn } from "./host.ts";
import { readFileThrough, writeFileThrough } from "./environment-files.ts";

export interface NamespacesDriverOptions {
  /** Lab data dir (e.g. ".lab-data"): containerd state, images, registry, environments. */
  dataDir: string;
  /** Login shell started in each terminal (run with -l). */
  shell?: string;
  /** Output of a script kept (stdout and stderr interleaved). */
  maxScriptOutputBytes?: number;
  /** "auto" (default): the system containerd at /run/containerd/containerd.sock when it answers, else an embedded one. */
  containerd?: ContainerdMode;
  /** Lab definitions, for each lab's requirements and environment settings; loaded from labsDir when omitted. */
  labs?: LabCatalog;
  labsDir?: string;
  /** Restart delays and poll intervals of containerd (defaults: restart after 1 s doubling to 30 s; tests use short ones). */
  containerdSupervision?: ContainerdSupervision;
}

/** What a new environment's holder runs: set up the mounts and the registry, then hold the namespaces. */
const HOLDER_SCRIPT = `set -eu
dir=$1 registry=$2 cni_plugins=$3
ip link set lo up
mount --bind "$dir/hosts" /etc/hosts
mount --bind "$dir/ca-bundle.crt" ${SYSTEM_CA_BUNDLE}
mount --bind "$dir/cni" ${CNI_CONFIG_DIR}
# ctr run --cni looks for plugins in a folder built into it (upstream /opt/cni/bin, Debian /usr/lib/cni):
# the configured folder is bound over those, in this environment only, wherever the host keeps it.
# (A host with neither, NixOS, has had the upstream one made once by provisionSharedInfra.)
for builtin in ${CTR_CNI_PLUGIN_DIRS.join(" ")}; do
  if [ -n "$cni_plugins" ] && [ -d "$builtin" ] && ! [ "$builtin" -ef "$cni_plugins" ]; then mount --bind "$cni_plugins" "$builtin"; fi
done
# Kept alive for the environment's lifetime; a crash is retried a second later.
# Each registry's pid goes to registry.pid, for the driver's health().
(while :; do
  "$registry" serve "$dir/registry.yml" >> "$dir/registry.log" 2>&1 &
  echo $! > "$dir/registry.pid.new" && mv -f "$dir/registry.pid.new" "$dir/registry.pid" || true
  wait $! || true
  sleep 1
done) </dev/null >/dev/null 2>&1 &
${WAIT_FOR_REGISTRY_BASH}
echo ready
exec sleep infinity
`;

const ENVIRONMENTS_DIR = "ns-environments";
const PENDING_NAMESPACES_FILE = "pending-namespaces.json";

/**
 * Whether the registry the holder last started in an environment dir is running (a cheap look at
 * /proc). `registry` is the binary the holders run, resolved once at prepare (no PATH scan per health()).
 */
function registryRunning(dir: string, registry: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(path.join(dir, "registry.pid"), "utf8").trim());
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isRunning(pid)) return false;
  try {
    // The pid of a registry that died may have gone to another process since.
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === path.basename(registry).slice(0, 15);
  } catch {
    return false;
  }
}

/** Saved beside each environment so a later lab server can clean up after a crashed one. */
interface EnvironmentRecord {
  id: string;
  lab: string;
  namespace: string;
  holderPid: number;
  namespaces: NamespaceIds;
}

function newEnvironmentId(): string {
  // Hex: valid both as a protocol id and inside a containerd namespace name.
  return randomBytes(8).toString("hex");
}

function startHolder(dir: string, registry: string): Promise<{ pid: number; namespaces: NamespaceIds }> {
  return new Promise((resolve, reject) => {
    const log = openSync(path.join(dir, "holder.log"), "a");
    const holder = spawn("unshare", ["--mount", "--propagation", "private", "--net", "bash", "-c", HOLDER_SCRIPT, "holder", dir, registry, cniPluginDir() ?? ""], {
      // Own process group: the lab server's Ctrl-C must not take environments down before dispose.
      detached: true,
      stdio: ["ignore", "pipe", log],
    });
    closeSync(log);
    const fail = (message: string) => {
      holder.kill("SIGKILL");
      let detail = "";
      try {
        detail = readFileSync(path.join(dir, "holder.log"), "utf8").trim().split("\n").slice(-5).join("\n");
      } catch {
        // no log
      }
      reject(new Error(`environment holder ${message}${detail ? `:\n${detail}` : ""}`));
    };
    const timer = setTimeout(() => fail("was not ready within 15 s"), 15_000);
    let output = "";
    holder.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (!output.includes("ready\n")) return;
      clearTimeout(timer);
      holder.stdout!.destroy();
      const namespaces = namespaceIds(holder.pid!);
      const host = namespaceIds(process.pid);
      if (!namespaces || !host || namespaces.mnt === host.mnt || namespaces.net === host.net) {
        fail("is not in namespaces of its own");
        return;
      }
      resolve({ pid: holder.pid!, namespaces });
    });
    holder.once("exit", (code) => {
      clearTimeout(timer);
      if (!output.includes("ready\n")) fail(`exited (code ${code}) before it was ready`);
    });
    holder.once("error", (error) => fail(`could not start: ${error.message}`));
  });
}

/** The cgroups runc makes for a containerd namespace's containers, in every hierarchy of this host. */
function containerdNamespaceCgroups(namespace: string): string[] {
  return cgroupMounts(readFileSync("/proc/self/mountinfo", "utf8"))
    .map((mount) => path.join(mount.mountPoint, namespace))
    .filter((dir) => existsSync(dir));
}

export class NamespacesDriver implements SessionDriver {
  readonly kind = "host-namespaces";
  private readonly options: NamespacesDriverOptions;
  private readonly dataDir: string;
  private readonly environments = new Set<NamespacesEnvironment>();
  private labs: LabCatalog | undefined;
  private infra: SharedInfra | undefined;
  /** The registry binary every holder runs, resolved once at prepare. */
  private registry: string | undefined;
  private preparing: Promise<void> | undefined;
  private readonly healthListeners = new Set<(health: DriverHealth) => void>();
  private unsubscribeContainerd: (() => void) | undefined;
  /** Namespaces of environments disposed while containerd was down. */
  private readonly pendingRemovals: PendingNamespaceRemovals;
  private retryingRemovals: Promise<void> | undefined;
  /** containerd restarts counted by services stopped since (a close() and a new prepare()). */
  private earlierRestarts = 0;

  constructor(options: NamespacesDriverOptions) {
    this.options = options;
    this.dataDir = path.resolve(options.dataDir);
    this.labs = options.labs;
    this.pendingRemovals = new PendingNamespaceRemovals(path.join(this.dataDir, PENDING_NAMESPACES_FILE));
  }

  /** Provisioning timings of the shared infrastructure (ms per step), once prepared. */
  get timings(): Readonly<Record<string, number>> {
    return this.infra?.timings ?? {};
  }

  get containerdAddress(): string | undefined {
    return this.infra?.containerd.address;
  }

  /** Times containerd was brought back up since this driver first started it (for metrics). */
  get containerdRestarts(): number {
    return this.earlierRestarts + (this.infra?.containerd.state().restarts ?? 0);
  }

  /** Namespaces of disposed environments still waiting for containerd to be removed. */
  get pendingNamespaces(): string[] {
    return this.pendingRemovals.list();
  }

  health(): DriverHealth {
    const reasons: string[] = [];
    const outage = this.infra && containerdOutage(this.infra.containerd);
    if (outage) reasons.push(outage);
    for (const environment of this.environments) {
      const dir = path.dirname(environment.home);
      if (!isRunning(environment.holderPid)) reasons.push(`lab environment ${environment.id} has ended: its holder process is gone`);
      else if (!registryRunning(dir, this.registry ??= requireRegistry())) reasons.push(`the image registry of lab environment ${environment.id} is restarting`);
    }
    return { status: reasons.length ? "degraded" : "ok", reasons };
  }

  onHealthChange(listener: (health: DriverHealth) => void): () => void {
    this.healthListeners.add(listener);
    return () => {
      this.healthListeners.delete(listener);
    };
  }

  private healthChanged(): void {
    if (!this.healthListeners.size) return;
    const health = this.health();
    for (const listener of [...this.healthListeners]) {
      try {
        listener(health);
      } catch (err) {
        log.error({ err }, "a driver health listener failed");
      }
    }
  }

  /** Retries the pending namespace removals when containerd is up; never rejects. */
  private retryPendingRemovals(): Promise<void> {
    const infra = this.infra;
    if (!infra || !infra.containerd.state().up || !this.pendingRemovals.list().length) return Promise.resolve();
    const run = this.pendingRemovals.retry(infra.containerd.address);
    this.retryingRemovals = run;
    return run;
  }

  /**
   * Removes an environment's containerd namespace, or, when containerd is
   * down or the removal fails, keeps it pending: never throws, so an
   * environment always goes whatever state containerd is in.
   */
  private async removeNamespace(infra: SharedInfra, namespace: string, environment: string): Promise<void> {
    const before = infra.containerd.state();
    let reason: unknown = new Error(containerdOutage(infra.containerd) ?? "containerd is down");
    if (before.up) {
      try {
        await removeContainerdNamespace(infra.containerd.address, namespace);
        return;
      } catch (err) {
        reason = err;
      }
    }
    this.pendingRemovals.add(namespace);
    log.warn({ environment, namespace, err: reason }, "containerd namespace not removed; its removal is retried when containerd is back up");
    // Back up while we were trying (no state change left to trigger the retry).
    const now = infra.containerd.state();
    if (now.up && (!before.up || now.restarts !== before.restarts)) void this.retryPendingRemovals();
  }

  private catalog(): LabCatalog {
    this.labs ??= loadLabs(this.options.labsDir ?? "labs");
    return this.labs;
  }

  /** Brings up containerd, the lab images and their registry storage (once); the lab runtime has checked the labs' requirements. */
  async prepare(_labs: readonly string[]): Promise<void> {
    this.preparing ??= (async () => {
      mkdirSync(path.join(this.dataDir, ENVIRONMENTS_DIR), { recursive: true });
      this.claimDataDir();
      const infra = await provisionSharedInfra({
        dataDir: this.dataDir,
        containerd: this.options.containerd ?? "auto",
        containerdSupervision: this.options.containerdSupervision,
      });
      this.infra = infra;
      this.registry = requireRegistry();
      this.unsubscribeContainerd = infra.containerd.onStateChange((state) => {
        this.healthChanged();
        if (state.up) void this.retryPendingRemovals();
      });
      await this.removeStaleEnvironments();
    })();
    try {
      await this.preparing;
    } catch (error) {
      this.preparing = undefined;
      throw error;
    }
    // Left by an environment disposed while containerd was down, here or under an earlier server.
    await this.retryPendingRemovals();
  }

  /**
   * One driver per data dir: a second one would take the first one's
   * environments for stale ones and remove them.
   */
  private claimDataDir(): void {
    const lock = path.join(this.dataDir, "ns-driver.pid");
    let owner: number | undefined;
    try {
      owner = Number(readFileSync(lock, "utf8"));
    } catch {
      // unclaimed
    }
    const ownerIsNode = () => readFileSync(`/proc/${owner}/cmdline`, "utf8").includes("node");
    if (owner && owner !== process.pid && isRunning(owner) && ownerIsNode()) {
      throw new Error(`lab data dir ${this.dataDir} is in use by another lab server (pid ${owner}); give this one its own data dir`);
    }
    writeFileSync(lock, String(process.pid));
  }

  /** Environments of an earlier lab server that did not shut down cleanly. */
  private async removeStaleEnvironments(): Promise<void> {
    const root = path.join(this.dataDir, ENVIRONMENTS_DIR);
    for (const id of readdirSync(root)) {
      const dir = path.join(root, id);
      let record: EnvironmentRecord | undefined;
      try {
        record = JSON.parse(readFileSync(path.join(dir, "environment.json"), "utf8")) as EnvironmentRecord;
      } catch {
        // never finished starting: only files to remove
      }
      if (record) {
        await killNamespaceProcesses(record.namespaces);
        await this.removeNamespace(this.infra!, record.namespace, record.id);
      }
      rmSync(dir, { recursive: true, force: true });
    }
  }

  async createEnvironment(lab: string): Promise<LabEnvironment> {
    if (!this.infra) throw new Error("host-namespaces driver: createEnvironment() before prepare()");
    const loaded = findLab(this.catalog(), lab);
    if (!loaded) throw new Error(`unknown lab "${lab}"`);
    const infra = this.infra;
    const started = performance.now();
    const id = newEnvironmentId();
    const namespace = `${ENVIRONMENT_NAMESPACE_PREFIX}${id}`;
    const dir = path.join(this.dataDir, ENVIRONMENTS_DIR, id);
    const home = path.join(dir, "home");
    mkdirSync(home, { recursive: true });
    mkdirSync(path.join(dir, "cni"));
    // Copies, not the shared files: a reader may edit /etc/hosts without touching anyone else's.
    writeFileSync(path.join(dir, "hosts"), sessionHostsFile());
    copyFileSync(infra.pki.caBundle, path.join(dir, "ca-bundle.crt"));
    writeFileSync(path.join(dir, "registry.yml"), registryConfig({ storageDir: infra.registryStorage, pki: infra.pki, readonly: true }));

    let holder: { pid: number; namespaces: NamespaceIds };
    try {
      holder = await startHolder(dir, this.registry ??= requireRegistry());
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
    const record: EnvironmentRecord = { id, lab, namespace, holderPid: holder.pid, namespaces: holder.namespaces };
    writeFileSync(path.join(dir, "environment.json"), JSON.stringify(record));

    const env = shellEnvironment({
      CONTAINERD_ADDRESS: infra.containerd.address,
      CONTAINERD_NAMESPACE: namespace,
      HOME: home,
      HISTFILE: path.join(home, ".bash_history"),
      ETCDCTL_API: "3",
      NWL_LAB: lab,
      NWL_ENVIRONMENT: id,
      // No journald here: where `journalctl -u containerd` would look, for the logs step.
      ...(infra.containerd.logFile ? { NWL_CONTAINERD_LOG: infra.containerd.logFile } : {}),
    });
    const enter = ["nsenter", "--target", String(holder.pid), "--mount", "--net", `--wd=${home}`, "--"];
    // Found on PATH, never a fixed /bin/bash: NixOS has none.
    const shell = this.options.shell ?? findCommand("bash") ?? "bash";
    const maxOutputBytes = this.options.maxScriptOutputBytes ?? 64 * 1024;
    const environments = this.environments;
    const removeNamespace = () => this.removeNamespace(infra, namespace, id);
    const alive = () => isRunning(holder.pid) && namespaceIds(holder.pid)?.mnt === holder.namespaces.mnt;
    let disposing: Promise<void> | undefined;
    const spawnProgram = (argv: string[]) => spawnIn(argv, { cwd: home, env, wrap: enter });

    const environment: NamespacesEnvironment = {
      id,
      lab,
      namespace,
      home,
      holderPid: holder.pid,
      namespaces: holder.namespaces,
      startMs: 0,
      openShell: (request) => {
        if (!alive()) throw new Error(`environment ${id} has ended (its holder process is gone)`);
        return new LocalPtyShell({ file: enter[0]!, args: [...enter.slice(1), shell, "-l"], env, cwd: home }, request, request);
      },
      runScript: async (script, { timeoutMs }): Promise<ScriptResult> => {
        if (!alive()) return { exitCode: 125, output: `environment ${id} has ended`, timedOut: false, durationMs: 0 };
        return runBash(script, { cwd: home, env, timeoutMs, maxOutputBytes, wrap: enter });
      },
      readFile: async (file, { maxBytes }) => {
        if (!alive()) return { ok: false, problem: "ended", reason: `environment ${id} has ended` };
        return readFileThrough(spawnProgram, "bash", file, maxBytes);
      },
      writeFile: async (file, content) => {
        if (!alive()) return { ok: false, problem: "ended", reason: `environment ${id} has ended` };
        return writeFileThrough(spawnProgram, "bash", file, content);
      },
      dispose: () => {
        disposing ??= (async () => {
          environments.delete(environment);
          // Processes first, so nothing recreates containers while they are removed.
          const first = await killNamespaceProcesses(holder.namespaces);
          // Never fails for containerd's sake: when it is down, the namespace goes once it is back.
          await removeNamespace();
          // A container process runc was still bringing into the environment's network namespace can
          // show up after the first sweep (seen: a task's `sleep 2000`): sweep again once containerd let go.
          const survivors = [...new Set([...first, ...(await killNamespaceProcesses(holder.namespaces))])];
          // runc leaves the per-namespace parent of its containers' cgroups (/<hierarchy>/nwl-<id>) behind.
          await destroyEnvironmentCgroups(containerdNamespaceCgroups(namespace));
          if (survivors.length) throw new Error(`environment ${id}: processes ${survivors.join(", ")} survived SIGKILL`);
          rmSync(dir, { recursive: true, force: true });
        })();
        return disposing;
      },
    };
    environments.add(environment);
    environment.startMs = Math.round(performance.now() - started);
    return environment;
  }

  async close(): Promise<void> {
    const results = await Promise.allSettled([...this.environments].map((environment) => environment.dispose()));
    await this.retryingRemovals;
    this.unsubscribeContainerd?.();
    this.unsubscribeContainerd = undefined;
    this.earlierRestarts += this.infra?.containerd.state().restarts ?? 0;
    await this.infra?.close();
    if (this.infra) rmSync(path.join(this.dataDir, "ns-driver.pid"), { force: true });
    this.infra = undefined;
    this.preparing = undefined;
    const failed = results.filter((result) => result.status === "rejected");
    if (failed.length) throw new Error(failed.map((result) => String((result as PromiseRejectedResult).reason)).join("\n"));
  }
}

/** A LabEnvironment with what tests and diagnostics need to look inside. */
export interface NamespacesEnvironment extends LabEnvironment {
  readonly namespace: string;
  readonly home: string;
  readonly holderPid: number;
  readonly namespaces: NamespaceIds;
  /** How long createEnvironment took, in ms. */
  startMs: number;
}

/** A process's command line, for a message (empty once it is gone). */
function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim().slice(0, 120);
  } catch {
    return "gone";
  }
}

/** What is left of a disposed environment on the host: empty when it is gone for good. */
export async function environmentLeftovers(
  environment: NamespacesEnvironment,
  containerdAddress: string,
  listNamespaces: (address: string) => Promise<string[]>,
): Promise<string[]> {
  const leftovers: string[] = [];
  if ((await listNamespaces(containerdAddress)).includes(environment.namespace)) leftovers.push(`containerd namespace ${environment.namespace}`);
  const pids = processesInNamespaces(environment.namespaces);
  if (pids.length) leftovers.push(`processes ${pids.map((pid) => `${pid} (${commandOf(pid)})`).join(", ")}`);
  const mounts = readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((line) => line.includes(environment.home) || line.includes(path.dirname(environment.home) + "/"));
  if (mounts.length) leftovers.push(`mounts: ${mounts.join("; ")}`);
  if (existsSync(path.dirname(environment.home))) leftovers.push(`files in ${path.dirname(environment.home)}`);
  const cgroups = containerdNamespaceCgroups(environment.namespace);
  if (cgroups.length) leftovers.push(`cgroups: ${cgroups.join(", ")}`);
  return leftovers;
}
