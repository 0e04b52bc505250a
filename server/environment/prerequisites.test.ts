import { describe, expect, it } from "vitest";
import { findCommand, installAdvice, missingCniPlugins, missingCommands } from "./prerequisites.ts";

describe("prerequisites", () => {
  it("names the Debian package of a missing command", () => {
    expect(missingCommands([{ name: "etcd" }])).toEqual([]);
    expect(installAdvice({ name: "etcdctl" })).toBe("Debian: apt-get install etcd-client; NixOS: pkgs.etcd on the service's path");
    expect(installAdvice({ name: "docker-registry" })).toBe("Debian: apt-get install docker-registry");
  });

  it("says how to get a command Debian does not have", () => {
    expect(missingCommands([{ name: "kubelet-of-the-future" }])).toEqual([
      "`kubelet-of-the-future` not found (it is not packaged for Debian: use the NixOS lab VM)",
    ]);
    expect(missingCommands([{ name: "kubelet-of-the-future", install: "only on the NixOS lab VM" }])).toEqual([
      "`kubelet-of-the-future` not found (only on the NixOS lab VM)",
    ]);
  });

  it("finds commands in sbin directories too, and missing CNI plugins", () => {
    expect(findCommand("ip", "/nonexistent")).toMatch(/\/ip$/);
    expect(missingCniPlugins(["no-such-plugin"])).toEqual([expect.stringContaining("apt-get install containernetworking-plugins")]);
  });
});
