/**
 * The cgroups of sandbox environments: one per environment, its limits
 * (memory, pids, CPU) written by the lab server and owned by root, so the
 * reader (root inside its user namespace only) can read them but never raise
 * them. Only the environment's directory is given to the reader's uid: its
 * own containerd (runc's rootless cgroup manager) makes sub-cgroups there,
 * which the limits above still bound.
 *
 * cgroup v1 (Debian here, hybrid): one cgroup per environment in every v1
 * hierarchy the server is in (memory, pids, cpu, cpuacct, devices, freezer,
 * and the others too, so that the environment's cgroup namespace never has
 * a host cgroup as its root), under `<hierarchy>/<parent>/`, plus the empty
 * unified hierarchy of a hybrid host.
 *
 * cgroup v2 (unified: NixOS): a delegated subtree of the server's own cgroup
 * (systemd's Delegate=yes): the server moves itself into a `server` leaf
 * (no processes in inner nodes), enables memory, pids and cpu below, and
 * makes `<own>/<parent>/<environment>` with memory.max, pids.max, cpu.max.
 * The directory and its cgroup.procs, cgroup.threads and
 * cgroup.subtree_control are chowned (cgroups(7), "Delegation"). This path
 * is written from the kernel documentation and tested against a fake tree
 * only: this machine has no v2 controllers.
 *
 * Every function takes the cgroup file system root (default /sys/fs/cgroup)
 * and the /proc/self files as parameters, so the planning is testable on a
 * fake tree; the tests of the real thing run on v1.
 */
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { sleep } from "./exec.ts";

export interface SandboxLimits {
  /** Memory (RAM, and RAM + swap where swap is accounted) of the whole environment, in bytes. */
  memoryBytes: number;
  /** Processes and threads of the whole environment. */
  pids: number;
  /** CPU time, in cores (1 = one core's worth every period). */
  cpus: number;
}

export const DEFAULT_LIMITS: SandboxLimits = { memoryBytes: 1024 ** 3, pids: 512, cpus: 1 };

/** Devices an environment may open (its /dev and runc's containers): null zero full random urandom tty ptmx, and its ptys. */
export const ALLOWED_DEVICES = ["c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm", "c 5:2 rwm", "c 136:* rwm"];

/** One mounted v1 hierarchy, or the unified (v2) one. */
export interface CgroupHierarchy {
  /** "memory", "cpu,cpuacct", "name=systemd", or "" for the unified hierarchy. */
  options: string;
  /** Where it is mounted on the host. */
  mountPoint: string;
  version: 1 | 2;
}

/** How the environments' cgroups are laid out on this host. */
export interface CgroupLayout {
  version: 1 | 2;
  /** v1: every hierarchy, plus the unified one on a hybrid host; v2: the unified one. */
  hierarchies: CgroupHierarchy[];
  /** Per hierarchy (same order): the host directory under which environments' cgroups are made. */
  parents: string[];
}

/** The cgroups of one environment, as recorded on disk (for a later server's clean-up) and used to enter it. */
export interface EnvironmentCgroups {
  version: 1 | 2;
  /** Host directories, one per hierarchy: a process joins the environment by writing its pid to each cgroup.procs. */
  dirs: string[];
  /** What the environment mounts inside (under /sys/fs/cgroup): v1 hierarchy options (as `mount -o`), or "cgroup2". */
  mounts: { options: string; name: string; version: 1 | 2 }[];
}

export interface CgroupHost {
  /** Default /proc/self/mountinfo. */
  mountinfo?: string;
  /** Default /proc/self/cgroup. */
  selfCgroup?: string;
}

const V1_REQUIRED = ["memory", "pids", "cpu", "cpuacct", "devices", "freezer"];
const V2_REQUIRED = ["memory", "pids", "cpu"];

function unescapeMount(text: string): string {
  return text.replace(/\\(\d{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** The cgroup mounts of this mount namespace, with the root of each (a container may see a subtree). */
export function cgroupMounts(mountinfo: string): (CgroupHierarchy & { root: string })[] {
  const found: (CgroupHierarchy & { root: string })[] = [];
  for (const line of mountinfo.split("\n")) {
    const [left, right] = line.split(" - ");
    if (!left || !right) continue;
    const fields = left.split(" ");
    const [type, , superOptions] = right.split(" ");
    if (type !== "cgroup" && type !== "cgroup2") continue;
    const root = unescapeMount(fields[3]!);
    const mountPoint = unescapeMount(fields[4]!);
    if (type === "cgroup2") {
      found.push({ options: "", mountPoint, version: 2, root });
      continue;
    }
    const options = (superOptions ?? "")
      .split(",")
      .filter((option) => !["rw", "ro", "relatime", "noatime", "nosuid", "nodev", "noexec", "clone_children", "xattr", "noprefix"].includes(option) && !option.startsWith("release_agent="))
      .join(",");
    // The same hierarchy mounted twice: keep the first.
    if (!found.some((other) => other.version === 1 && other.options === options)) found.push({ options, mountPoint, version: 1, root });
  }
  return found;
}

/** The server's own cgroup path in each hierarchy, from /proc/self/cgroup: key "" for the unified one. */
export function ownCgroups(selfCgroup: string): Map<string, string> {
  const own = new Map<string, string>();
  for (const line of selfCgroup.trim().split("\n")) {
    const match = /^\d+:([^:]*):(.*)$/.exec(line);
    if (match) own.set(match[1]!, match[2]!);
  }
  return own;
}

function hostPath(mount: { mountPoint: string; root: string }, cgroupPath: string): string {
  const relative = mount.root === "/" ? cgroupPath : path.posix.relative(mount.root, cgroupPath);
  if (relative.startsWith("..")) throw new Error(`cgroup ${cgroupPath} is outside the mounted subtree ${mount.root} at ${mount.mountPoint}`);
  return path.posix.join(mount.mountPoint, relative);
}

/**
 * Where environments' cgroups go on this host, or why there is no place for
 * them. `parent` is the name of the folder of environments (v1: at the top
 * of each hierarchy; v2: inside the server's own cgroup).
 */
export function cgroupLayout(parent: string, host: CgroupHost = {}): CgroupLayout {
  const mounts = cgroupMounts(host.mountinfo ?? readFileSync("/proc/self/mountinfo", "utf8"));
  const own = ownCgroups(host.selfCgroup ?? readFileSync("/proc/self/cgroup", "utf8"));
  const v1 = mounts.filter((mount) => mount.version === 1);
  const unified = mounts.find((mount) => mount.version === 2);
  if (v1.length) {
    const controllers = new Set(v1.flatMap((mount) => mount.options.split(",")));
    const missing = V1_REQUIRED.filter((controller) => !controllers.has(controller));
    if (missing.length) throw new Error(`cgroup v1 controllers not mounted: ${missing.join(", ")}`);
    // The server's own cgroup in each hierarchy is not ours to share: environments go at the top (as /docker does).
    const hierarchies: CgroupHierarchy[] = v1.map(({ options, mountPoint }) => ({ options, mountPoint, version: 1 }));
    const parents = v1.map((mount) => hostPath(mount, path.posix.join("/", parent)));
    // A hybrid host's unified hierarchy (no controllers): joined too, so the environment's cgroup namespace is its own there.
    if (unified && own.has("")) {
      hierarchies.push({ options: "", mountPoint: unified.mountPoint, version: 2 });
      parents.push(hostPath(unified, path.posix.join("/", parent)));
    }
    return { version: 1, hierarchies, parents };
  }
  if (!unified) throw new Error("no cgroup file system is mounted");
  const self = own.get("");
  if (self === undefined) throw new Error("this process is in no cgroup v2 (no 0:: line in /proc/self/cgroup)");
  const ownDir = hostPath(unified, self);
  const available = readFileSync(path.join(ownDir, "cgroup.controllers"), "utf8").trim().split(/\s+/);
  const missing = V2_REQUIRED.filter((controller) => !available.includes(controller));
  if (missing.length) {
    throw new Error(`cgroup v2 controllers not delegated to the lab server's cgroup ${self}: ${missing.join(", ")} (run it in a unit with Delegate=yes)`);
  }
  return { version: 2, hierarchies: [{ options: "", mountPoint: unified.mountPoint, version: 2 }], parents: [path.join(ownDir, parent)] };
}

function write(file: string, value: string): void {
  writeFileSync(file, value);
}

function procsOf(dir: string): number[] {
  try {
    return readFileSync(path.join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** v2: the server leaves its own cgroup for a `server` leaf, and the controllers are enabled down to the parent of environments. */
function prepareV2Parent(parent: string): void {
  const own = path.dirname(parent);
  const enable = (dir: string) => {
    const enabled = readFileSync(path.join(dir, "cgroup.subtree_control"), "utf8").trim().split(/\s+/);
    const wanted = V2_REQUIRED.filter((controller) => !enabled.includes(controller));
    if (wanted.length) write(path.join(dir, "cgroup.subtree_control"), wanted.map((controller) => `+${controller}`).join(" "));
  };
  if (procsOf(own).length) {
    const leaf = path.join(own, "server");
    mkdirSync(leaf, { recursive: true });
    // Every process of the unit (the server and what it started) moves: an inner node may hold none.
    for (let round = 0; round < 10 && procsOf(own).length; round++) {
      for (const pid of procsOf(own)) {
        try {
          write(path.join(leaf, "cgroup.procs"), String(pid));
        } catch {
          // exited meanwhile
        }
      }
    }
  }
  enable(own);
  mkdirSync(parent, { recursive: true });
  enable(parent);
}

/** The v1 cpuset of a new cgroup is empty, and a cgroup with an empty cpuset takes no process: inherit the parent's. */
function inheritCpuset(dir: string): void {
  for (const file of ["cpuset.cpus", "cpuset.mems"]) {
    const own = path.join(dir, file);
    if (!existsSync(own) || readFileSync(own, "utf8").trim()) continue;
    write(own, readFileSync(path.join(path.dirname(dir), file), "utf8").trim());
  }
}

/**
 * Makes an environment's cgroups with their limits; the directories (and on
 * v2 the delegation files) are given to `owner`, the limit files stay root's.
 */
export function createEnvironmentCgroups(layout: CgroupLayout, name: string, limits: SandboxLimits, owner: number): EnvironmentCgroups {
  const dirs: string[] = [];
  const mounts: EnvironmentCgroups["mounts"] = [];
  try {
    layout.hierarchies.forEach((hierarchy, index) => {
      const parent = layout.parents[index]!;
      if (layout.version === 2) prepareV2Parent(parent);
      else {
        mkdirSync(parent, { recursive: true });
        if (hierarchy.options.split(",").includes("cpuset")) inheritCpuset(parent);
      }
      const dir = path.join(parent, name);
      mkdirSync(dir);
      dirs.push(dir);
      const controllers = hierarchy.options.split(",");
      if (hierarchy.version === 1) {
        if (controllers.includes("cpuset")) inheritCpuset(dir);
        if (controllers.includes("memory")) {
          write(path.join(dir, "memory.limit_in_bytes"), String(limits.memoryBytes));
          const swap = path.join(dir, "memory.memsw.limit_in_bytes");
          if (existsSync(swap)) write(swap, String(limits.memoryBytes));
        }
        if (controllers.includes("pids")) write(path.join(dir, "pids.max"), String(limits.pids));
        if (controllers.includes("cpu")) {
          write(path.join(dir, "cpu.cfs_period_us"), "100000");
          write(path.join(dir, "cpu.cfs_quota_us"), String(Math.max(1000, Math.round(limits.cpus * 100_000))));
        }
        if (controllers.includes("devices")) {
          write(path.join(dir, "devices.deny"), "a");
          for (const device of ALLOWED_DEVICES) write(path.join(dir, "devices.allow"), device);
        }
        mounts.push({ options: hierarchy.options, name: hierarchy.options.replace(/^name=/, ""), version: 1 });
        chownSync(dir, owner, owner);
      } else {
        if (layout.version === 2) {
          write(path.join(dir, "memory.max"), String(limits.memoryBytes));
          if (existsSync(path.join(dir, "memory.swap.max"))) write(path.join(dir, "memory.swap.max"), "0");
          write(path.join(dir, "pids.max"), String(limits.pids));
          write(path.join(dir, "cpu.max"), `${Math.max(1000, Math.round(limits.cpus * 100_000))} 100000`);
        }
        // Delegation: the directory and the files that move processes and enable controllers below.
        chownSync(dir, owner, owner);
        for (const file of ["cgroup.procs", "cgroup.threads", "cgroup.subtree_control"]) {
          if (existsSync(path.join(dir, file))) chownSync(path.join(dir, file), owner, owner);
        }
        mounts.push({ options: "", name: layout.version === 2 ? "" : "unified", version: 2 });
      }
    });
  } catch (error) {
    removeCgroupTrees(dirs);
    throw error;
  }
  return { version: layout.version, dirs, mounts };
}

/** Every cgroup directory under (and including) dir, deepest first. */
function treeDepthFirst(dir: string): string[] {
  const found: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir, { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
  } catch {
    return [];
  }
  for (const entry of entries) found.push(...treeDepthFirst(path.join(dir, entry)));
  found.push(dir);
  return found;
}

/** Pids in any cgroup of these trees (the environment's and those its containerd made). */
export function cgroupTreeProcesses(dirs: readonly string[]): number[] {
  const pids = new Set<number>();
  for (const dir of dirs) for (const cgroup of treeDepthFirst(dir)) for (const pid of procsOf(cgroup)) pids.add(pid);
  return [...pids];
}

/** One pass of rmdir, deepest first; returns the directories still there. */
function removeCgroupTrees(dirs: readonly string[]): string[] {
  const left: string[] = [];
  for (const dir of dirs) {
    for (const cgroup of treeDepthFirst(dir)) {
      try {
        rmdirSync(cgroup);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") left.push(cgroup);
      }
    }
  }
  return left;
}

/**
 * SIGKILLs whatever is still in the environment's cgroups, then removes them
 * depth first, retrying while the kernel finishes reaping (EBUSY). Returns
 * what could not be removed within the time (empty when all went).
 */
export async function destroyEnvironmentCgroups(dirs: readonly string[], timeoutMs = 5000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const pid of cgroupTreeProcesses(dirs)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    const left = removeCgroupTrees(dirs);
    if (!left.length) return [];
    if (Date.now() > deadline) return left;
    await sleep(10);
  }
}

/** Whether a cgroup directory's limits are as written: for tests and diagnostics. */
export function readLimit(dir: string, file: string): string | undefined {
  try {
    return readFileSync(path.join(dir, file), "utf8").trim();
  } catch {
    return undefined;
  }
}
