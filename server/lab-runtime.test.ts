/**
 * The lab runtime above the drivers: requirements before anything opens,
 * the lab's setup in every new environment (whatever the driver), checks and
 * solves only from the lab's own files. Real environments: the
 * host-namespaces driver for Part 1, the host driver for the fixtures.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LabEnvironment } from "./drivers/driver.ts";
import { HostDriver } from "./drivers/host.ts";
import { NamespacesDriver } from "./drivers/namespaces.ts";
import { LabRuntime, UnknownCheckpointError } from "./lab-runtime.ts";
import { loadLabs } from "./labs.ts";

const LAB = "k8s-nix-way-part-1";
const labs = loadLabs("labs");
const fixtures = loadLabs(path.join(import.meta.dirname, "testing/fixtures/labs"));
const runtime = new LabRuntime(new NamespacesDriver({ dataDir: path.resolve(".lab-data/vitest"), labs }), labs);
let environment: LabEnvironment;

beforeAll(async () => {
  await runtime.prepare([LAB]);
  environment = await runtime.createEnvironment(LAB);
});
afterAll(async () => {
  await runtime.driver.close();
});

describe("lab runtime", () => {
  it("fails a check with its feedback and the hint, then passes it after the step's solve", async () => {
    const before = await runtime.check(LAB, "certificates", environment);
    expect(before).toMatchObject({ checkpoint: "certificates", passed: false, timedOut: false, hint: expect.stringContaining("subjectAltName") });
    expect(before.output).toContain("No pki folder");
    const solve = await runtime.solve(LAB, "certificates", environment);
    expect(solve.exitCode, solve.output).toBe(0);
    const after = await runtime.check(LAB, "certificates", environment);
    expect(after.passed, after.output).toBe(true);
    expect(after.output).toContain("IP Address:0:0:0:0:0:0:0:1");
  });

  it("only runs checkpoints the lab defines, in environments of that lab", async () => {
    await expect(runtime.check(LAB, "rm -rf /", environment)).rejects.toThrow(UnknownCheckpointError);
    await expect(runtime.check(LAB, "nope", environment)).rejects.toThrow('lab "k8s-nix-way-part-1" has no checkpoint "nope" (it has: nix-layout, etcd-healthy, certificates');
    const foreign = { ...environment, lab: "another-lab" } as LabEnvironment;
    await expect(runtime.check(LAB, "certificates", foreign)).rejects.toThrow(/belongs to lab "another-lab"/);
  });

  it("lists labs and their checkpoints for the API", () => {
    expect(runtime.list()[0]).toMatchObject({ id: LAB, checkpoints: expect.arrayContaining([{ id: "cni-fixed", title: expect.any(String) }]) });
    expect(runtime.hasCheckpoint(LAB, "cni-fixed")).toBe(true);
    expect(runtime.hasCheckpoint(LAB, "nope")).toBe(false);
    expect(runtime.hasCheckpoint("nope", "cni-fixed")).toBe(false);
  });

  it("refuses a lab whose requirements the host lacks, for every driver, naming what to install", async () => {
    const needy = new Map(labs);
    const part1 = labs.get(LAB)!;
    needy.set("needs-kubelet", {
      ...part1,
      definition: { ...part1.definition, id: "needs-kubelet", requires: { ...part1.definition.requires, commands: [{ name: "kubelet", install: "only on the NixOS lab VM" }] } },
    });
    const dataDir = mkdtempSync(path.join(tmpdir(), "nwl-runtime-"));
    const host = new LabRuntime(new HostDriver({ dataDir, shell: "/bin/bash", maxScriptOutputBytes: 4096 }), needy);
    await expect(host.prepare(["needs-kubelet"])).rejects.toThrow("lab needs-kubelet: `kubelet` not found (only on the NixOS lab VM)");
    await expect(host.prepare(["no-such-lab"])).rejects.toThrow('unknown lab "no-such-lab"');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("runs the lab's setup in a new environment of the host driver too", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "nwl-runtime-"));
    const host = new LabRuntime(new HostDriver({ dataDir, shell: "/bin/bash", maxScriptOutputBytes: 4096 }), fixtures);
    await host.prepare(["fixture-setup"]);
    const made = await host.createEnvironment("fixture-setup");
    const result = await host.check("fixture-setup", "marker", made);
    expect(result.passed, result.output).toBe(true);
    await host.driver.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
});
