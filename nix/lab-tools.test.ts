/**
 * Every command a lab requires (requires.commands) is on the NixOS unit's
 * PATH: LabRuntime.prepare refuses to start the server when one is missing.
 * The map below says which nixpkgs attribute gives each command; the test
 * fails when a lab names a command that is not in the map, or whose
 * attribute is not listed in nix/lab-tools.nix (`server` or `labs`).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadLabs } from "../server/labs.ts";

const root = path.resolve(import.meta.dirname, "..");

/**
 * command → nixpkgs attribute or output (as named in lab-tools.nix). This map
 * is what the test trusts about nixpkgs' layout: e.g. su is in shadow's `su`
 * output, not in `shadow` (checked against nixpkgs' shadow package, whose
 * postInstall moves bin/su there; NixOS's own users write `${shadow.su}/bin/su`).
 */
const providedBy: Record<string, string> = {
  etcd: "etcd",
  etcdctl: "etcd",
  openssl: "openssl",
  cfssl: "cfssl",
  git: "git",
  nix: "nix",
  "nix-instantiate": "nix",
  kubelet: "kubernetes",
  "kube-apiserver": "kubernetes",
  jq: "jq",
  su: "shadow.su",
  getent: "getent",
  ctr: "containerd",
  containerd: "containerd",
  runc: "runc",
  ss: "iproute2",
  ip: "iproute2",
  watch: "procps",
  mount: "util-linux",
  hostname: "hostname",
  tar: "gnutar",
  gzip: "gzip",
  bash: "bashInteractive",
};

/**
 * Commands NixOS itself puts on every unit's PATH (systemd.services.<name>.path
 * starts with coreutils, findutils, gnugrep, gnused and systemd).
 */
const unitDefault = new Set(["systemd-tmpfiles", "grep", "sed", "find"]);

/** The attribute names of a `name = [ … ];` list in lab-tools.nix. */
function listed(text: string, name: string): string[] {
  const match = new RegExp(`\\n\\s*${name}\\s*=\\s*\\[([^\\]]*)\\]`).exec(text);
  if (!match) throw new Error(`lab-tools.nix has no ${name} list`);
  return match[1]!.split(/\s+/).filter(Boolean);
}

describe("nix/lab-tools.nix gives every command the labs require", () => {
  const text = readFileSync(path.join(root, "nix/lab-tools.nix"), "utf8");
  const attributes = new Set([...listed(text, "server"), ...listed(text, "labs")]);
  const commands = new Set<string>();
  for (const lab of loadLabs(path.join(root, "labs")).values()) {
    for (const command of lab.definition.requires.commands) commands.add(typeof command === "string" ? command : command.name);
  }

  it("finds the labs' commands and the lists", () => {
    expect(commands.size).toBeGreaterThan(5);
    expect(attributes).toContain("etcd");
    expect(attributes).toContain("containerd");
  });

  it.each([...commands].sort())("%s", (command) => {
    if (unitDefault.has(command)) return;
    const attribute = providedBy[command];
    expect(attribute, `no nixpkgs attribute mapped for ${command} in nix/lab-tools.test.ts`).toBeDefined();
    expect([...attributes], `${command} needs ${attribute} in lab-tools.nix`).toContain(attribute);
  });
});
