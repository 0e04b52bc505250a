/**
 * `node server/main.ts doctor`: what this host has and lacks for the lab
 * server, per driver and per lab, in words an operator can act on. It reuses
 * the checks the drivers make before they start (prerequisites.ts,
 * sandbox/availability.ts, cgroups.ts), so it cannot say yes where the
 * server would then say no. OK when the configured driver (auto: the one the
 * server would pick) and every lab can run.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { cgroupLayout, type CgroupHost } from "./environment/cgroups.ts";
import {
  DEBIAN_PACKAGES,
  busyboxPath,
  cniPluginDir,
  driverPrerequisiteProblems,
  findCommand,
  missingCniPlugins,
  missingRegistry,
  missingStaticBusybox,
  registryCommand,
  installAdvice,
} from "./environment/prerequisites.ts";
import { kernelTooOld, sandboxAvailability, SANDBOX_COMMANDS, userNamespaceKnobs } from "./drivers/sandbox/availability.ts";
import { missingRequirements } from "./lab-runtime.ts";
import { loadLabs } from "./labs.ts";

/** What to do about a missing command, on Debian and on NixOS: the same words as every other missing-command message. */
export function adviceFor(name: string, install?: string): string {
  return installAdvice({ name, install });
}

/** The programs whose version is worth a line, and how each tells it. */
const VERSION_ARGS: Readonly<Record<string, readonly string[]>> = {
  containerd: ["--version"],
  runc: ["--version"],
  ctr: ["--version"],
  etcd: ["--version"],
  etcdctl: ["version"],
  openssl: ["version"],
  unshare: ["--version"],
  nsenter: ["--version"],
  bash: ["--version"],
  git: ["--version"],
  registry: ["--version"],
  busybox: ["--help"],
};

function versionOf(file: string, args: readonly string[]): string {
  const result = spawnSync(file, args, { encoding: "utf8", timeout: 5000, env: { PATH: process.env.PATH ?? "" } });
  const line = `${result.stdout ?? ""}\n${result.stderr ?? ""}`.split("\n").map((text) => text.trim()).find(Boolean);
  return line ? line.slice(0, 100) : "version unknown";
}

export interface DoctorOptions {
  /** The configured driver: auto | sandbox | host-namespaces | host. */
  driver: string;
  labsDir: string;
  /** The host driver's login shell. */
  shell: string;
  /** Where /proc is read from: "/" on a real host, a fake tree in tests. */
  procRoot?: string;
  /** The cgroup mounts and own cgroup, for a fake tree in tests. */
  cgroupHost?: CgroupHost;
}

export interface DoctorReport {
  ok: boolean;
  /** The driver the server would use. */
  driver: string;
  /** Per driver: empty when it can run, else what it lacks. */
  drivers: Record<string, string[]>;
  /** Per lab id: empty when it can run (under `driver`), else what it lacks. */
  labs: Record<string, string[]>;
  text: string;
}

const OK = "ok     ";
const NO = "MISSING";
const line = (ok: boolean, text: string) => `  ${ok ? OK : NO}  ${text}`;

export function runDoctor(options: DoctorOptions): DoctorReport {
  const procRoot = options.procRoot ?? "/";
  const out: string[] = ["Nix Way Labs doctor: what this host has and lacks for the lab server", ""];

  out.push("Host");
  const root = process.getuid?.() === 0;
  out.push(line(process.platform === "linux", `platform ${process.platform}${process.platform === "linux" ? "" : ": the lab drivers but host need Linux namespaces"}`));
  out.push(line(root, root ? "running as root" : "not root: the sandbox and host-namespaces drivers need root (run the server as root, or as the NixOS service)"));

  out.push("", "Kernel");
  let release = "unknown";
  try {
    release = readFileSync(path.join(procRoot, "proc/sys/kernel/osrelease"), "utf8").trim();
  } catch {
    // no /proc here
  }
  const old = release === "unknown" ? undefined : kernelTooOld(procRoot);
  out.push(line(!old, old ?? `Linux ${release}`));
  const knobs = userNamespaceKnobs(procRoot);
  const maxUserNamespaces = readText(path.join(procRoot, "proc/sys/user/max_user_namespaces"));
  out.push(
    knobs.length
      ? knobs.map((reason) => line(false, `user namespaces: ${reason}`)).join("\n")
      : line(true, `user namespaces: unprivileged ones allowed${maxUserNamespaces ? ` (user.max_user_namespaces = ${maxUserNamespaces})` : ""}`),
  );
  try {
    const layout = cgroupLayout("nix-way-labs", options.cgroupHost);
    out.push(line(true, layout.version === 2 ? "cgroups: v2, memory, pids and cpu delegated to this process's cgroup" : "cgroups: v1, the memory, pids and cpu controllers mounted"));
  } catch (error) {
    out.push(line(false, `cgroups: ${(error as Error).message}`));
  }

  out.push("", "Programs (found on PATH, or as the config names them)");
  const labs = loadLabs(options.labsDir);
  const labCommands: { name: string; install?: string }[] = [...labs.values()].flatMap((lab) =>
    lab.definition.requires.commands.map((command) => (typeof command === "string" ? { name: command } : command)),
  );
  const names = [...new Set(["containerd", "runc", "ctr", "etcd", "etcdctl", "openssl", "unshare", "nsenter", ...SANDBOX_COMMANDS, "tar", "gzip", ...labCommands.map((command) => command.name)])];
  const width = Math.max(...names.map((name) => name.length), "CNI plugins".length) + 2;
  for (const name of names) {
    const found = name === "bash" ? findCommand(options.shell) ?? findCommand("bash") : findCommand(name);
    const install = labCommands.find((command) => command.name === name)?.install;
    if (!found) out.push(line(false, `${name.padEnd(width)}not found: ${adviceFor(name, install)}`));
    else out.push(line(true, `${name.padEnd(width)}${found}${VERSION_ARGS[name] ? `  (${versionOf(found, VERSION_ARGS[name])})` : ""}`));
  }
  const registry = registryCommand();
  out.push(registry ? line(true, `${"registry".padEnd(width)}${registry}  (${versionOf(registry, VERSION_ARGS.registry!)})`) : line(false, `${"registry".padEnd(width)}${missingRegistry().join("; ")}`));
  const busybox = busyboxPath();
  const busyboxProblems = missingStaticBusybox();
  out.push(
    busyboxProblems.length
      ? line(false, `${"busybox".padEnd(width)}${busyboxProblems.join("; ")}`)
      : line(true, `${"busybox".padEnd(width)}${busybox}, static  (${versionOf(busybox!, VERSION_ARGS.busybox!)})`),
  );
  const cniPlugins = [...new Set(["loopback", ...[...labs.values()].flatMap((lab) => lab.definition.requires.cniPlugins)])];
  const cniProblems = missingCniPlugins(cniPlugins);
  out.push(cniProblems.length ? line(false, `${"CNI plugins".padEnd(width)}${cniProblems.join("; ")}`) : line(true, `${"CNI plugins".padEnd(width)}${cniPluginDir()} (${cniPlugins.join(", ")})`));

  out.push("", "Drivers");
  const sandbox = sandboxAvailability({ procRoot, host: options.cgroupHost });
  const drivers: Record<string, string[]> = {
    sandbox: sandbox.ok ? [] : sandbox.reasons,
    "host-namespaces": driverPrerequisiteProblems(),
    host: findCommand(options.shell) ? [] : [`its shell ${options.shell} not found (${adviceFor("bash")})`],
  };
  for (const [kind, problems] of Object.entries(drivers)) {
    out.push(line(!problems.length, `${kind}: ${problems.length ? `cannot run:\n${problems.map((problem) => `             - ${problem}`).join("\n")}` : "can run"}`));
  }
  const driver = options.driver === "auto" ? (sandbox.ok ? "sandbox" : "host-namespaces") : options.driver;
  const driverOk = (drivers[driver] ?? [`unknown driver ${driver}`]).length === 0;

  out.push("", `Labs (${options.labsDir}, under the ${driver} driver)`);
  const labProblems: Record<string, string[]> = {};
  for (const [id, lab] of labs) {
    const problems = missingRequirements(lab).map((problem) => problem.replace(`lab ${id}: `, ""));
    const services = lab.definition.requires.services;
    if (driver === "host" && services.length) problems.push(`needs ${services.join(" and ")} per environment: the sandbox or host-namespaces driver`);
    if (!driverOk) problems.push(`the ${driver} driver cannot run here (above)`);
    labProblems[id] = problems;
    out.push(line(!problems.length, `${id}: ${problems.length ? `cannot run:\n${problems.map((problem) => `             - ${problem}`).join("\n")}` : "can run"}`));
  }
  if (!labs.size) out.push(line(false, `no lab found in ${options.labsDir}`));

  const ok = driverOk && labs.size > 0 && Object.values(labProblems).every((problems) => !problems.length);
  out.push(
    "",
    ok
      ? `OK: the ${driver} driver${options.driver === "auto" ? " (auto)" : ""} and every lab can run on this host.`
      : `NOT READY: ${driverOk ? "" : `the ${driver} driver cannot run; `}${Object.entries(labProblems).filter(([, problems]) => problems.length).map(([id]) => id).join(", ") || "no lab"} cannot run. Install what is marked MISSING (or name it in the config), then run doctor again.`,
  );
  return { ok, driver, drivers, labs: labProblems, text: out.join("\n") };
}

function readText(file: string): string | undefined {
  try {
    return existsSync(file) ? readFileSync(file, "utf8").trim() : undefined;
  } catch {
    return undefined;
  }
}
