/**
 * `node server/main.ts doctor` on this host, then with a program taken off
 * PATH (a folder of symlinks to every tool but one) and with a kernel knob
 * that forbids user namespaces (a fake /proc tree).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runDoctor } from "./doctor.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const work = mkdtempSync(path.join(tmpdir(), "nwl-doctor-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A folder holding a symlink to every program of this PATH but the ones left out (and renamed ones: name → target name). */
function pathWithout(name: string, leaveOut: readonly string[], rename: Record<string, string> = {}): string {
  const bin = path.join(work, name, "bin");
  mkdirSync(bin, { recursive: true });
  const made = new Set<string>();
  const dirs = [...(process.env.PATH ?? "").split(":"), "/usr/bin", "/bin"].filter((dir) => dir && !dir.includes("node_modules"));
  for (const dir of dirs) {
    let entries: string[] = [];
    try {
      entries = readdirSync(dir);
    } catch {
      continue;
    }
    for (const entry of entries) {
      const target = path.join(dir, entry);
      const as = rename[entry] ?? entry;
      if (leaveOut.includes(entry) || made.has(as)) continue;
      try {
        if (!statSync(target).isFile()) continue;
        symlinkSync(target, path.join(bin, as));
        made.add(as);
      } catch {
        // a dangling link or a race: skip
      }
    }
  }
  // node itself, for the CLI.
  return [bin, path.dirname(process.execPath)].join(":");
}

function doctor(env: Record<string, string>, args: string[] = []) {
  return spawnSync(process.execPath, ["server/main.ts", "doctor", ...args], { cwd: ROOT, encoding: "utf8", env, timeout: 60_000 });
}

describe("doctor", () => {
  it("says OK and exits 0 on this host, where everything is installed", () => {
    const run = doctor({ PATH: process.env.PATH ?? "" }, ["--driver", "host-namespaces"]);
    expect(run.stdout).toMatch(/ok {7}etcd {2,}\/\S+\/etcd {2}\(etcd Version: /);
    expect(run.stdout).toMatch(/ok {7}CNI plugins {2,}\/\S+ \(loopback\)/);
    expect(run.stdout).toContain("k8s-nix-way-part-1: can run");
    expect(run.stdout).toContain("OK: the host-namespaces driver and every lab can run on this host.");
    expect(run.status).toBe(0);
  });

  it("reports a program missing from PATH, what to install, and the lab that needs it; exits non-zero", () => {
    const PATH = pathWithout("no-etcd", ["etcd"]);
    const run = doctor({ PATH }, ["--driver", "host-namespaces"]);
    // (The name column is as wide as the longest program name the labs need.)
    expect(run.stdout).toMatch(/MISSING {2}etcd +not found: Debian: apt-get install etcd-server; NixOS: pkgs\.etcd on the service's path/);
    expect(run.stdout).toMatch(/ok {7}etcdctl/);
    expect(run.stdout).toContain("MISSING  k8s-nix-way-part-1: cannot run:\n             - `etcd` not found (Debian: apt-get install etcd-server; NixOS: pkgs.etcd on the service's path)");
    // Every lab that needs etcd is named (Part 1 first), and what to do.
    expect(run.stdout).toMatch(/NOT READY: k8s-nix-way-part-1(, [\w-]+)* cannot run\. Install what is marked MISSING/);
    expect(run.status).toBe(1);
  });

  it("finds nixpkgs' registry under its own name, and says when neither name is there", () => {
    const renamed = doctor({ PATH: pathWithout("registry-renamed", [], { "docker-registry": "registry" }) }, ["--driver", "host-namespaces"]);
    expect(renamed.stdout).toMatch(new RegExp(`ok {7}registry {2,}${work}/registry-renamed/bin/registry {2}\\(`));
    expect(renamed.status).toBe(0);
    const none = doctor({ PATH: pathWithout("no-registry", ["docker-registry", "registry"]) }, ["--driver", "host-namespaces"]);
    expect(none.stdout).toContain("no image registry: neither docker-registry nor registry is on PATH (Debian: apt-get install docker-registry; NixOS: pkgs.distribution)");
    expect(none.stdout).toContain("MISSING  host-namespaces: cannot run:");
    expect(none.status).toBe(1);
  });

  it("reports a kernel that forbids user namespaces: the sandbox cannot run, the other drivers still can", () => {
    const proc = path.join(work, "fake-root", "proc");
    mkdirSync(path.join(proc, "sys", "user"), { recursive: true });
    mkdirSync(path.join(proc, "sys", "kernel"), { recursive: true });
    mkdirSync(path.join(proc, "self", "ns"), { recursive: true });
    writeFileSync(path.join(proc, "self", "ns", "user"), "");
    writeFileSync(path.join(proc, "sys", "kernel", "osrelease"), "6.1.0-13-amd64\n");
    writeFileSync(path.join(proc, "sys", "user", "max_user_namespaces"), "0\n");
    writeFileSync(path.join(proc, "sys", "kernel", "unprivileged_userns_clone"), "0\n");
    const options = { labsDir: path.join(ROOT, "labs"), shell: "bash", procRoot: path.dirname(proc) };
    const sandbox = runDoctor({ ...options, driver: "sandbox" });
    expect(sandbox.text).toContain("MISSING  user namespaces: user.max_user_namespaces is 0 (sysctl -w user.max_user_namespaces=15000)");
    expect(sandbox.text).toContain("MISSING  user namespaces: kernel.unprivileged_userns_clone is 0 (sysctl -w kernel.unprivileged_userns_clone=1)");
    expect(sandbox.text).toContain("ok       Linux 6.1.0-13-amd64");
    expect(sandbox.drivers.sandbox).toContain("user.max_user_namespaces is 0 (sysctl -w user.max_user_namespaces=15000)");
    expect(sandbox.labs["k8s-nix-way-part-1"]).toEqual(["the sandbox driver cannot run here (above)"]);
    expect(sandbox.ok).toBe(false);
    // auto then picks host-namespaces, as the server would.
    const auto = runDoctor({ ...options, driver: "auto" });
    expect(auto.driver).toBe("host-namespaces");
    expect(auto.ok).toBe(true);

    writeFileSync(path.join(proc, "sys", "kernel", "osrelease"), "5.10.0\n");
    writeFileSync(path.join(proc, "sys", "user", "max_user_namespaces"), "15000\n");
    writeFileSync(path.join(proc, "sys", "kernel", "unprivileged_userns_clone"), "1\n");
    const old = runDoctor({ ...options, driver: "sandbox" });
    expect(old.text).toContain("MISSING  Linux 5.10 is too old: overlayfs in a user namespace needs 5.11");
    expect(old.text).toContain("ok       user namespaces: unprivileged ones allowed (user.max_user_namespaces = 15000)");
    expect(old.ok).toBe(false);
  });

  it("says the sandbox cannot run when what its start provisions is missing (a busybox that is not there), and exits non-zero", () => {
    const run = doctor({ PATH: process.env.PATH ?? "" }, ["--driver", "sandbox", "--busybox", "/nonexistent/busybox"]);
    expect(run.stdout).toContain("MISSING  sandbox: cannot run:\n             - busybox not found at /nonexistent/busybox (--busybox)");
    expect(run.stdout).not.toContain("sandbox: can run");
    expect(run.stdout).toContain("NOT READY: the sandbox driver cannot run;");
    expect(run.status).toBe(1);
  });

  it("reports cgroup v2 controllers not delegated to the server", () => {
    const cgroupRoot = path.join(work, "cgroup2");
    mkdirSync(cgroupRoot, { recursive: true });
    writeFileSync(path.join(cgroupRoot, "cgroup.controllers"), "cpuset io\n");
    const report = runDoctor({
      driver: "sandbox",
      labsDir: path.join(ROOT, "labs"),
      shell: "bash",
      cgroupHost: { mountinfo: `30 23 0:26 / ${cgroupRoot} rw - cgroup2 cgroup2 rw\n`, selfCgroup: "0::/\n" },
    });
    expect(report.text).toContain("MISSING  cgroups: cgroup v2 controllers not delegated to the lab server's cgroup /: memory, pids, cpu (run it in a unit with Delegate=yes)");
    expect(report.ok).toBe(false);
  });
});
