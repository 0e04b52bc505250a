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

/** nixpkgs attributes of the commands, for the NixOS half of the advice. */
export const NIXOS_PACKAGES: Readonly<Record<string, string>> = {
  containerd: "containerd",
  ctr: "containerd",
  runc: "runc",
  etcd: "etcd",
  etcdctl: "etcd",
  openssl: "openssl",
  cfssl: "cfssl",
  "nix-instantiate": "nix",
  unshare: "util-linux",
  nsenter: "util-linux",
  setpriv: "util-linux",
  pivot_root: "util-linux",
  script: "util-linux",
  mount: "util-linux",
  umount: "util-linux",
  su: "shadow (NixOS's setuid wrapper /run/wrappers/bin/su)",
  hostname: "hostname-debian",
  env: "coreutils",
  stat: "coreutils",
  cp: "coreutils",
  ip: "iproute2",
  ss: "iproute2",
  tar: "gnutar",
  gzip: "gzip",
  bash: "bash",
  git: "git",
  watch: "procps",
};

/**
 * Where CNI plugins usually are, in the order looked at when the config names
 * no folder: Debian's containernetworking-plugins, the upstream default, and
 * NixOS's system profile. Plugins are found by folder, not on PATH.
 */
export const USUAL_CNI_PLUGIN_DIRS = ["/usr/lib/cni", "/opt/cni/bin", "/run/current-system/sw/bin"] as const;

/** Where `ctr run --cni` looks for plugins, built into ctr (upstream, Debian's patch): environments bind the configured folder there. */
export const CTR_CNI_PLUGIN_DIRS = ["/opt/cni/bin", "/usr/lib/cni"] as const;

/** The registry binary's names: Debian's docker-registry, nixpkgs' `distribution` package (`registry`). */
export const REGISTRY_COMMANDS = ["docker-registry", "registry"] as const;

/** What the config may name instead of a search (NWL_CNI_PLUGIN_DIR, NWL_REGISTRY, NWL_BUSYBOX). */
export interface HostToolSettings {
  cniPluginDir?: string;
  registry?: string;
  busybox?: string;
}

let hostToolSettings: HostToolSettings = {};

/** Set once at startup from the server's config (main.ts, lab-test.ts); unset names are searched for. */
export function configureHostTools(settings: HostToolSettings): void {
  hostToolSettings = { ...settings };
}

export function hostToolConfiguration(): Readonly<HostToolSettings> {
  return hostToolSettings;
}

/** The CNI plugin folder: the configured one, else the first usual one that exists. */
export function cniPluginDir(): string | undefined {
  if (hostToolSettings.cniPluginDir) return path.resolve(hostToolSettings.cniPluginDir);
  return USUAL_CNI_PLUGIN_DIRS.find((dir) => existsSync(path.join(dir, "loopback")));
}

/** The registry binary: the configured command (a name on PATH or a path), else docker-registry or registry on PATH. */
export function registryCommand(): string | undefined {
  if (hostToolSettings.registry) return findCommand(hostToolSettings.registry);
  for (const name of REGISTRY_COMMANDS) {
    const found = findCommand(name);
    if (found) return found;
  }
  return undefined;
}

/** The busybox the lab images are built from: the configured one, else busybox on PATH. */
export function busyboxPath(): string | undefined {
  return findCommand(hostToolSettings.busybox ?? "busybox");
}

/** A required tool's path, or an error that says how to install it. */
export function requireCommand(name: string): string {
  const found = findCommand(name);
  if (!found) throw new MissingPrerequisitesError("the lab server", [`\`${name}\` not found on PATH (${installAdvice({ name })})`]);
  return found;
}

export function requireRegistry(): string {
  const found = registryCommand();
  if (!found) throw new MissingPrerequisitesError("the lab server", missingRegistry());
  return found;
}

export function requireBusybox(): string {
  const found = busyboxPath();
  if (!found) throw new MissingPrerequisitesError("the lab server", missingStaticBusybox());
  return found;
}

export interface Requirement {
  name: string;
  /** How to get it, when it is not a Debian package we know. */
  install?: string;
}

/**
 * Absolute path of a command: a path is taken as it is (when executable), a
 * name is looked for on PATH, then in the sbin folders root has (a PATH from
 * sudo or a login may lack them). Never a fixed /usr/bin: a host keeps its
 * tools where it likes (NixOS: /run/current-system/sw/bin, a unit's path).
 */
export function findCommand(name: string, searchPath = process.env.PATH ?? ""): string | undefined {
  if (name.includes("/")) {
    try {
      accessSync(name, constants.X_OK);
      return path.resolve(name);
    } catch {
      return undefined;
    }
  }
  const dirs = [...searchPath.split(":"), "/usr/local/sbin", "/usr/sbin", "/sbin"];
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

/**
 * What to do about a missing command, in the same words everywhere (doctor, a driver's or a lab's
 * missing commands): the lab's own `install` when it gives one, else the Debian package and the
 * nixpkgs one.
 */
export function installAdvice(requirement: Requirement): string {
  if (requirement.install) return requirement.install;
  const pkg = DEBIAN_PACKAGES[requirement.name];
  const nixos = NIXOS_PACKAGES[requirement.name];
  if (!pkg) return nixos ? `not packaged for Debian: use the NixOS lab VM; NixOS: pkgs.${nixos} on the service's path` : "it is not packaged for Debian: use the NixOS lab VM";
  return nixos ? `Debian: apt-get install ${pkg}; NixOS: pkgs.${nixos} on the service's path` : `Debian: apt-get install ${pkg}`;
}

/** Names every missing command with how to install it; empty when all are there. */
export function missingCommands(requirements: readonly Requirement[]): string[] {
  return requirements
    .filter((requirement) => !findCommand(requirement.name))
    .map((requirement) => `\`${requirement.name}\` not found (${installAdvice(requirement)})`);
}

const CNI_ADVICE = "Debian: apt-get install containernetworking-plugins; NixOS: pkgs.cni-plugins, its bin folder as cniPluginDir";

export function missingCniPlugins(plugins: readonly string[]): string[] {
  const dir = cniPluginDir();
  if (!dir) {
    if (!plugins.length) return [];
    return [`no CNI plugin folder: none of ${USUAL_CNI_PLUGIN_DIRS.join(", ")} holds loopback, and the config names none (--cni-plugin-dir) (${CNI_ADVICE})`];
  }
  return plugins
    .filter((plugin) => !existsSync(path.join(dir, plugin)))
    .map((plugin) => `CNI plugin \`${plugin}\` not found in ${dir} (${CNI_ADVICE})`);
}

export function missingRegistry(): string[] {
  if (registryCommand()) return [];
  const named = hostToolSettings.registry;
  return [
    named
      ? `the registry \`${named}\` (--registry) is not an executable on PATH`
      : `no image registry: neither docker-registry nor registry is on PATH (Debian: apt-get install docker-registry; NixOS: pkgs.distribution)`,
  ];
}

/** The image is built from busybox-static: a dynamically linked busybox would not run in an empty rootfs. */
export function missingStaticBusybox(): string[] {
  const advice = "Debian: apt-get install busybox-static; NixOS: pkgs.pkgsStatic.busybox";
  const busybox = busyboxPath();
  if (!busybox) return [`busybox not found${hostToolSettings.busybox ? ` at ${hostToolSettings.busybox} (--busybox)` : " on PATH"} (${advice})`];
  const header = readFileSync(busybox).subarray(0, 4096).toString("latin1");
  // A dynamic ELF names its interpreter (ld-linux) in the first page.
  if (header.includes("ld-linux")) return [`${busybox} is dynamically linked: the lab images need a static one (${advice})`];
  return [];
}

/** The commands the host-namespaces driver itself runs. */
export const DRIVER_COMMANDS: readonly Requirement[] = [
  "containerd",
  "ctr",
  "runc",
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

/** What the host-namespaces driver lacks here, one line each; empty when it can run. */
export function driverPrerequisiteProblems(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push("must run as root (mount and network namespaces, containerd)");
  if (process.platform !== "linux") missing.push("needs Linux namespaces");
  missing.push(...sharedInfraProblems());
  return missing;
}

/**
 * What provisionSharedInfra needs besides root and Linux (the same check every driver that
 * starts containerd meets): the driver's commands, the registry, a static busybox and the CNI
 * loopback plugin. `skipCommands`: commands the caller already reports in its own words.
 */
export function sharedInfraProblems(skipCommands: readonly string[] = []): string[] {
  return [
    ...missingCommands(DRIVER_COMMANDS.filter((command) => !skipCommands.includes(command.name))),
    ...missingRegistry(),
    ...missingStaticBusybox(),
    ...missingCniPlugins(["loopback"]),
  ];
}

export function assertDriverPrerequisites(): void {
  const missing = driverPrerequisiteProblems();
  if (missing.length > 0) throw new MissingPrerequisitesError("the host-namespaces lab driver", missing);
}
