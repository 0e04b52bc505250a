/**
 * `npm run lab:test` for Part 1, in a sandbox environment: every checkpoint
 * of labs/k8s-nix-way/part-1 fails before its solve and passes after, in
 * order (the lab runtime's check and solve, as `npm run lab:test` runs them),
 * with the series' commands as typed (the environment's own
 * containerd at the default socket and namespace); then the environment is
 * disposed and nothing may be left.
 *
 * Two checks of the lab name `$CONTAINERD_NAMESPACE`, which only the
 * host-namespaces driver sets: the test runs a copy of the lab in which
 * they read `${CONTAINERD_NAMESPACE:-default}` (the edit proposed for the
 * lab itself), and asserts that it is the only difference.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LabRuntime } from "../../lab-runtime.ts";
import { loadLabs, type LoadedLab } from "../../labs.ts";
import { SandboxDriver, sandboxLeftovers, type SandboxEnvironment } from "./sandbox.ts";

const LAB = "k8s-nix-way-part-1";
const SOURCE = path.resolve("labs/k8s-nix-way/part-1");
const NAMESPACE_EDIT = { from: '"$CONTAINERD_NAMESPACE"', to: '"${CONTAINERD_NAMESPACE:-default}"' };

const labsDir = mkdtempSync(path.join(tmpdir(), "nwl-sandbox-labs-"));
const copy = path.join(labsDir, "k8s-nix-way", "part-1");
let lab: LoadedLab;
let driver: SandboxDriver;
let runtime: LabRuntime;

/** The lab as it is, but for the checks that assume the host-namespaces driver's variable; returns the files edited. */
function copyLab(): string[] {
  cpSync(SOURCE, copy, { recursive: true });
  const edited: string[] = [];
  for (const file of readdirSync(path.join(copy, "checks"))) {
    const full = path.join(copy, "checks", file);
    const text = readFileSync(full, "utf8");
    if (!text.includes(NAMESPACE_EDIT.from)) continue;
    writeFileSync(full, text.replaceAll(NAMESPACE_EDIT.from, NAMESPACE_EDIT.to));
    edited.push(`checks/${file}`);
  }
  return edited;
}

beforeAll(async () => {
  const edited = copyLab();
  // Once the lab reads ${CONTAINERD_NAMESPACE:-default} itself, nothing is left to edit.
  expect(edited.every((file) => ["checks/containers-removed.sh", "checks/images-removed.sh"].includes(file))).toBe(true);
  const labs = loadLabs(labsDir);
  lab = labs.get(LAB)!;
  driver = new SandboxDriver({ dataDir: path.resolve(".lab-data/vitest-sandbox"), labs, containerd: "embedded" });
  runtime = new LabRuntime(driver, labs);
  await runtime.prepare([LAB]);
});

afterAll(async () => {
  await driver?.close();
  rmSync(labsDir, { recursive: true, force: true });
});

describe("Part 1 in a sandbox environment", () => {
  it("passes every checkpoint after its solve, and none before, in order; dispose leaves nothing", async () => {
    const environment = (await runtime.createEnvironment(LAB)) as SandboxEnvironment;
    const report: string[] = [];
    try {
      for (const checkpoint of lab.definition.checkpoints) {
        const before = await runtime.check(LAB, checkpoint.id, environment);
        const solve = await runtime.solve(LAB, checkpoint.id, environment);
        const after = await runtime.check(LAB, checkpoint.id, environment);
        report.push(`${checkpoint.id}: before ${before.passed ? "passed" : "failed"} ${before.durationMs} ms, solve ${solve.durationMs} ms, after ${after.passed ? "passed" : "failed"} ${after.durationMs} ms`);
        expect(before.passed, `${checkpoint.id} passed before its solve:\n${before.output}`).toBe(false);
        expect(after.passed, `${checkpoint.id} failed after its solve (exit ${solve.exitCode}):\n${solve.output}\ncheck:\n${after.output}`).toBe(true);
      }
      // The logs step of the page: containerd's log where NWL_CONTAINERD_LOG says.
      const logs = await environment.runScript('tail -n 20 "$NWL_CONTAINERD_LOG" | grep -c . && echo "$NWL_CONTAINERD_LOG"', { timeoutMs: 5000 });
      expect(logs.output).toMatch(/^[1-9]\d*\n\/var\/log\/containerd\.log\n$/);
    } finally {
      await environment.dispose();
      console.log(`Part 1 in sandbox ${environment.id} (ready in ${environment.startMs} ms, disposed in ${environment.disposeMs} ms):\n  ${report.join("\n  ")}`);
    }
    expect(sandboxLeftovers(environment)).toEqual([]);
  });
});
