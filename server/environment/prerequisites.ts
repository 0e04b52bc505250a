/**
 * What the host must have before any environment can be made. A missing
 * piece fails early with the Debian package that provides it, instead of a
 * confusing error deep inside a reader's session.
 */
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import path from "node:path";

/** Debian 12 packages providing the commands the labs and the environment use. */
export const DEBIAN_PACKAGES: Readonly<Record<string, string>> = {
  containerd: "containerd",
  ctr: "containerd",
  runc: "runc",
  etcd: "etcd-server",
  etcdctl: "etcd-client",
  "docker-registry": "docker-registry",
  openssl: "openssl",
  cfssl: "golang-cfssl",
  "nix-instantiate": "nix-bin",
  unshare: "util-linux",
  nsenter: "util-linux",
  setpriv: "util-linux",
  pivot_root: "util-linux",
  script: "bsdutils",
  umount: "mount",
  hostname: "hostname",
  env: "coreutils",
  stat: "coreutils",
  cp: "coreutils",
  mount: "mount",
  ip: "iproute2",
  tar: "tar",
  gzip: "gzip",
  bash: "bash",
  git: "git",
  watch: "procps",
};

export const CNI_PLUGIN_DIR = "/usr/lib/cni";
export const BUSYBOX_PATH = "/bin/busybox";

export interface Requirement {
  name: string;
  /** How to get it, when it is not a Debian package we know. */
  install?: string;
}

/** Absolute path of a command on PATH (plus the sbin directories root has), or undefined. */
export function findCommand(name: string, searchPath = process.env.PATH ?? ""): string | undefined {
  const dirs = [...searchPath.split(":"), "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];
  for (const dir of dirs) {
    if (!dir || dir.includes("node_modules")) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function installAdvice(requirement: Requirement): string {
  if (requirement.install) return requirement.install;
  const pkg = DEBIAN_PACKAGES[requirement.name];
  return pkg ? `apt-get install ${pkg}` : "it is not packaged for Debian: use the NixOS lab VM";
}

/** Names every missing command with how to install it; empty when all are there. */
export function missingCommands(requirements: readonly Requirement[]): string[] {
  return requirements
    .filter((requirement) => !findCommand(requirement.name))
    .map((requirement) => `\`${requirement.name}\` not found (${installAdvice(requirement)})`);
}

export function missingCniPlugins(plugins: readonly string[]): string[] {
  return plugins
    .filter((plugin) => !existsSync(path.join(CNI_PLUGIN_DIR, plugin)))
    .map((plugin) => `CNI plugin \`${plugin}\` not found in ${CNI_PLUGIN_DIR} (apt-get install containernetworking-plugins)`);
}

/** The image is built from busybox-static: a dynamically linked busybox would not run in an empty rootfs. */
export function missingStaticBusybox(): string[] {
  if (!existsSync(BUSYBOX_PATH)) return [`${BUSYBOX_PATH} not found (apt-get install busybox-static)`];
  const header = readFileSync(BUSYBOX_PATH).subarray(0, 4096).toString("latin1");
  // A dynamic ELF names its interpreter (ld-linux) in the first page.
  if (header.includes("ld-linux")) return [`${BUSYBOX_PATH} is dynamically linked (apt-get install busybox-static)`];
  return [];
}

/** The commands the host-namespaces driver itself runs. */
export const DRIVER_COMMANDS: readonly Requirement[] = [
  "containerd",
  "ctr",
  "runc",
  "docker-registry",
  "openssl",
  "unshare",
  "nsenter",
  "mount",
  "ip",
  "tar",
  "gzip",
  "bash",
].map((name) => ({ name }));

export class MissingPrerequisitesError extends Error {
  readonly missing: readonly string[];
  constructor(what: string, missing: readonly string[]) {
    super(`${what} cannot start on this host:\n${missing.map((line) => `  - ${line}`).join("\n")}`);
    this.name = "MissingPrerequisitesError";
    this.missing = missing;
  }
}

export function assertDriverPrerequisites(): void {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push("must run as root (mount and network namespaces, containerd)");
  if (process.platform !== "linux") missing.push("needs Linux namespaces");
  missing.push(...missingCommands(DRIVER_COMMANDS), ...missingStaticBusybox(), ...missingCniPlugins(["loopback"]));
  if (missing.length > 0) throw new MissingPrerequisitesError("the host-namespaces lab driver", missing);
}
