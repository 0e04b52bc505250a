/**
 * Whether this host can run sandbox environments, and why not: root, user
 * namespaces an unprivileged uid may create (with mount, network and PID
 * namespaces inside), the util-linux tools, and cgroups the server can make
 * and limit. Cheap enough (about 20 ms: one real probe) to call at startup
 * to pick the default driver.
 */
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, readFileSync, rmdirSync, mkdirSync } from "node:fs";
import path from "node:path";
import { findCommand, registryCommand, sharedInfraProblems } from "../../environment/prerequisites.ts";
import { INSIDE_BASH, SANDBOX_PATH, TERMINAL_COMMAND } from "./enter.ts";
import { cgroupLayout, type CgroupHost } from "../../environment/cgroups.ts";

export type SandboxAvailability = { ok: true; cgroupVersion: 1 | 2 } | { ok: false; reasons: string[] };

/** Host commands the driver itself runs (the labs' own, like etcd, are checked per lab). */
export const SANDBOX_COMMANDS = [
  "bash", "env", "stat", "setpriv", "unshare", "nsenter", "script", "pivot_root", "mount", "umount", "ip", "hostname", "cp",
  "containerd", "ctr", "runc",
] as const;

/**
 * What an environment runs inside, by name on its own PATH (its root is the host's /usr, /bin,
 * /sbin, /lib…) or at a fixed path of that root: a host that keeps these elsewhere (NixOS's
 * /nix/store) has a sandbox without them, however the host's own PATH finds them.
 */
const INSIDE_COMMANDS = ["containerd", "containerd-shim-runc-v2", "ctr", "runc", "ip", "mount", "umount", "pivot_root", "hostname", "ps"] as const;

/** The CNI loopback plugin as ctr inside a sandbox finds it (the host's /usr/lib/cni; --cni-plugin-dir is not used there). */
export const SANDBOX_CNI_LOOPBACK = "/usr/lib/cni/loopback";

export function missingInsideSandbox(): string[] {
  const registry = registryCommand();
  const names = [...INSIDE_COMMANDS, ...(registry ? [path.basename(registry)] : [])];
  const missing = names.filter((name) => !findCommandIn(name, SANDBOX_PATH));
  // ctr run --cni finds plugins in its built-in folder: the sandbox's is the host's /usr/lib/cni
  // (it does not bind --cni-plugin-dir there), so loopback must be in that one.
  const fixed = [INSIDE_BASH, TERMINAL_COMMAND[0]!, SANDBOX_CNI_LOOPBACK].filter((file) => !isExecutable(file));
  const all = [...missing, ...fixed];
  if (!all.length) return [];
  return [
    `a sandbox environment's root is the host's /usr: ${all.join(", ")} ${all.length === 1 ? "is" : "are"} not in ${SANDBOX_PATH.replace(/:/g, ", ")} (tools kept elsewhere, e.g. /nix/store, are not seen inside: use the host-namespaces driver)`,
  ];
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findCommandIn(name: string, searchPath: string): boolean {
  return searchPath.split(":").some((dir) => isExecutable(path.join(dir, name)));
}

function readNumber(file: string): number | undefined {
  try {
    return Number(readFileSync(file, "utf8").trim());
  } catch {
    return undefined;
  }
}

/**
 * The kernel's knobs that forbid unprivileged user namespaces, on the distributions that have them.
 * `procRoot` is where /proc is read from ("/" here; a fake tree in tests).
 */
export function userNamespaceKnobs(procRoot = "/"): string[] {
  const proc = (file: string) => path.join(procRoot, "proc", file);
  const reasons: string[] = [];
  if (!existsSync(proc("self/ns/user"))) reasons.push("the kernel has no user namespaces (CONFIG_USER_NS)");
  if (readNumber(proc("sys/user/max_user_namespaces")) === 0) reasons.push("user.max_user_namespaces is 0 (sysctl -w user.max_user_namespaces=15000)");
  if (readNumber(proc("sys/kernel/unprivileged_userns_clone")) === 0) reasons.push("kernel.unprivileged_userns_clone is 0 (sysctl -w kernel.unprivileged_userns_clone=1)");
  if (readNumber(proc("sys/kernel/apparmor_restrict_unprivileged_userns")) === 1) {
    reasons.push("AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1)");
  }
  return reasons;
}

/** overlayfs inside a user namespace needs Linux 5.11. */
export function kernelTooOld(procRoot = "/"): string | undefined {
  const match = /^(\d+)\.(\d+)/.exec(readFileSync(path.join(procRoot, "proc/sys/kernel/osrelease"), "utf8"));
  if (!match) return undefined;
  const [major, minor] = [Number(match[1]), Number(match[2])];
  return major < 5 || (major === 5 && minor < 11) ? `Linux ${major}.${minor} is too old: overlayfs in a user namespace needs 5.11` : undefined;
}

/**
 * Says whether sandbox environments can be made here. Probes for real: an
 * unprivileged uid makes a user namespace with mount, network and PID
 * namespaces, and the cgroup layout is created and removed once.
 */
export function sandboxAvailability(options: { cgroupParent?: string; probeUid?: number; host?: CgroupHost; procRoot?: string } = {}): SandboxAvailability {
  const reasons: string[] = [];
  if (process.platform !== "linux") return { ok: false, reasons: ["needs Linux namespaces"] };
  if (process.getuid?.() !== 0) reasons.push("the lab server must run as root (it writes uid maps and makes cgroups)");
  const missing = SANDBOX_COMMANDS.filter((command) => !findCommand(command));
  if (missing.length) reasons.push(`commands not found: ${missing.join(", ")} (util-linux, iproute2, containerd, runc)`);
  // SandboxDriver.start() provisions the shared infrastructure, which asserts these too
  // (root is checked above, the commands both name once, in the words above).
  reasons.push(...sharedInfraProblems(SANDBOX_COMMANDS), ...missingInsideSandbox());
  reasons.push(...userNamespaceKnobs(options.procRoot));
  const old = kernelTooOld(options.procRoot);
  if (old) reasons.push(old);
  let cgroupVersion: 1 | 2 = 1;
  try {
    const layout = cgroupLayout(options.cgroupParent ?? "nix-way-labs", options.host);
    cgroupVersion = layout.version;
    // The parent must be makeable: try one (and leave it empty).
    const probe = path.join(layout.parents[0]!, `probe-${process.pid}`);
    mkdirSync(probe, { recursive: true });
    rmdirSync(probe);
  } catch (error) {
    reasons.push(`cgroups: ${(error as Error).message}`);
  }
  if (!reasons.length) {
    const uid = String(options.probeUid ?? 65_534);
    const probe = spawnSync(
      findCommand("setpriv")!,
      ["--reuid", uid, "--regid", uid, "--clear-groups", "--", findCommand("unshare")!, "--user", "--mount", "--net", "--pid", "--ipc", "--uts", "--cgroup", "--fork", "true"],
      { encoding: "utf8", timeout: 5000 },
    );
    if (probe.status !== 0) reasons.push(`an unprivileged uid cannot create user namespaces here: ${(probe.stderr || probe.error?.message || `exit ${probe.status}`).trim()}`);
  }
  return reasons.length ? { ok: false, reasons } : { ok: true, cgroupVersion };
}
