import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCheckpoint, runCheckpointSolve, UnknownCheckpointError } from "./checkpoints.ts";
import type { LabEnvironment } from "./drivers/driver.ts";
import { NamespacesDriver } from "./drivers/namespaces.ts";
import { findLab, loadLabs } from "./labs.ts";

const labs = loadLabs("labs");
const lab = findLab(labs, "k8s-nix-way-part-1")!;
const driver = new NamespacesDriver({ dataDir: path.resolve(".lab-data/vitest"), labs });
let environment: LabEnvironment;

beforeAll(async () => {
  await driver.prepare([lab.definition.id]);
  environment = await driver.createEnvironment(lab.definition.id);
});

afterAll(async () => {
  await driver.close();
});

describe("checkpoint runner", () => {
  it("fails with the check's feedback and the hint, then passes after the step", async () => {
    const before = await runCheckpoint(lab, "certificates", environment);
    expect(before).toMatchObject({ checkpoint: "certificates", passed: false, timedOut: false, hint: expect.stringContaining("subjectAltName") });
    expect(before.output).toContain("No pki folder");
    const solve = await runCheckpointSolve(lab, "certificates", environment);
    expect(solve.exitCode, solve.output).toBe(0);
    const after = await runCheckpoint(lab, "certificates", environment);
    expect(after.passed, after.output).toBe(true);
    expect(after.output).toContain("IP Address:0:0:0:0:0:0:0:1");
    expect(after.durationMs).toBeGreaterThan(0);
  });

  it("only runs checkpoints the lab defines", async () => {
    await expect(runCheckpoint(lab, "rm -rf /", environment)).rejects.toThrow(UnknownCheckpointError);
    await expect(runCheckpoint(lab, "nope", environment)).rejects.toThrow('lab "k8s-nix-way-part-1" has no checkpoint "nope" (it has: nix-layout, etcd-healthy, certificates');
  });

  it("refuses an environment of another lab", async () => {
    const foreign = { ...environment, lab: "another-lab" } as LabEnvironment;
    await expect(runCheckpoint(lab, "certificates", foreign)).rejects.toThrow(/belongs to lab "another-lab"/);
  });
});

describe("checkpoint runner for the lab API", () => {
  it("lists labs and checkpoints, knows which exist, and runs checks", async () => {
    const { checkpointRunner } = await import("./checkpoints.ts");
    const { labApiRoutes } = await import("./lab-api.ts");
    const runner = checkpointRunner(labs);
    labApiRoutes(runner); // type-checks against the lab API's CheckpointRunner
    expect(runner.list()[0]).toMatchObject({ id: "k8s-nix-way-part-1", checkpoints: expect.arrayContaining([{ id: "cni-fixed", title: expect.any(String) }]) });
    expect(runner.hasCheckpoint("k8s-nix-way-part-1", "cni-fixed")).toBe(true);
    expect(runner.hasCheckpoint("k8s-nix-way-part-1", "nope")).toBe(false);
    expect(runner.hasCheckpoint("nope", "cni-fixed")).toBe(false);
    const result = await runner.run("k8s-nix-way-part-1", "cni-fixed", environment);
    expect(result).toMatchObject({ passed: false, output: expect.stringContaining("/etc/cni/net.d has no") });
  });
});
