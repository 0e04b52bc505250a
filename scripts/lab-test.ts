/**
 * `npm run lab:test [lab] [--driver sandbox|host-namespaces]`: proves every
 * lab (or the one named) in a real environment of the driver (default: the
 * sandbox when this host allows it, as the server picks; NWL_LAB_TEST_DRIVER):
 * each checkpoint fails before its solve and passes after, in order; then the
 * environment is disposed and nothing may be left (containerd namespace or
 * cgroups, processes, mounts, files). Needs root and the Debian packages the
 * driver names when they are missing.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { LabRuntime } from "../server/lab-runtime.ts";
import type { LabEnvironment } from "../server/drivers/driver.ts";
import { environmentLeftovers, NamespacesDriver, type NamespacesEnvironment } from "../server/drivers/namespaces.ts";
import { SandboxDriver, sandboxLeftovers, type SandboxEnvironment } from "../server/drivers/sandbox/sandbox.ts";
import type { ContainerdMode } from "../server/environment/containerd.ts";
import { listContainerdNamespaces } from "../server/environment/containerd-namespace.ts";
import { isRunning } from "../server/environment/namespace-processes.ts";
import { findLab, loadLabs, type LoadedLab } from "../server/labs.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    "data-dir": { type: "string", default: process.env.NWL_LAB_TEST_DATA_DIR ?? ".lab-data/lab-test" },
    "labs-dir": { type: "string", default: "labs" },
    containerd: { type: "string", default: process.env.NWL_CONTAINERD ?? "auto" },
    driver: { type: "string", default: process.env.NWL_LAB_TEST_DRIVER ?? "auto" },
  },
});

const ms = (value: number) => `${Math.round(value)} ms`.padStart(8);
const indent = (text: string) => text.trim().split("\n").map((line) => `        | ${line}`).join("\n");

/** Processes still running whose command line names the data dir (daemons, holders, registries). */
function processesUsing(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmdline.includes(dir) && isRunning(Number(entry))) found.push(`${entry}: ${cmdline.trim()}`);
    } catch {
      // gone
    }
  }
  return found;
}

/** What is left of a disposed environment, whichever driver made it. */
async function leftoversOf(driver: NamespacesDriver | SandboxDriver, environment: LabEnvironment): Promise<string[]> {
  if (driver instanceof SandboxDriver) return sandboxLeftovers(environment as SandboxEnvironment);
  return environmentLeftovers(environment as NamespacesEnvironment, driver.containerdAddress!, listContainerdNamespaces);
}

async function testLab(runtime: LabRuntime, driver: NamespacesDriver | SandboxDriver, lab: LoadedLab): Promise<string[]> {
  const failures: string[] = [];
  const id = lab.definition.id;
  console.log(`\nlab ${id}: ${lab.definition.title}`);
  const started = performance.now();
  const environment = await runtime.createEnvironment(id);
  const startMs = Math.round(performance.now() - started);
  const where = driver instanceof SandboxDriver ? `sandbox, uid ${(environment as SandboxEnvironment).record.base} on the host` : `containerd namespace ${(environment as NamespacesEnvironment).namespace}`;
  console.log(`  environment ${environment.id} started in ${startMs} ms (${where})`);
  try {
    for (const checkpoint of lab.definition.checkpoints) {
      const before = await runtime.check(id, checkpoint.id, environment);
      const solve = await runtime.solve(id, checkpoint.id, environment);
      const after = await runtime.check(id, checkpoint.id, environment);
      const ok = !before.passed && after.passed;
      console.log(
        `  ${ok ? "ok  " : "FAIL"} ${checkpoint.id.padEnd(26)} before ${before.passed ? "passed!" : "failed "}${ms(before.durationMs)}` +
          `  solve${ms(solve.durationMs)}  after ${after.passed ? "passed" : "failed"}${ms(after.durationMs)}`,
      );
      if (before.passed) {
        failures.push(`${id}/${checkpoint.id}: passed before its solve`);
        console.log(indent(before.output));
      }
      if (!after.passed) {
        failures.push(`${id}/${checkpoint.id}: failed after its solve${after.timedOut ? " (timed out)" : ""}`);
        console.log(`        solve (exit ${solve.exitCode}):\n${indent(solve.output)}\n        check:\n${indent(after.output)}`);
        break;
      }
    }
  } finally {
    const started = performance.now();
    await environment.dispose();
    const leftovers = await leftoversOf(driver, environment);
    console.log(`  disposed in ${Math.round(performance.now() - started)} ms; left behind: ${leftovers.length ? leftovers.join("; ") : "nothing"}`);
    failures.push(...leftovers.map((leftover) => `${id}: left behind after dispose: ${leftover}`));
  }
  return failures;
}

async function main(): Promise<number> {
  const dataDir = path.resolve(values["data-dir"]!);
  const catalog = loadLabs(values["labs-dir"]);
  const selected = positionals.length ? positionals.map((name) => findLab(catalog, name) ?? name) : [...catalog.values()];
  const unknown = selected.filter((lab): lab is string => typeof lab === "string");
  if (unknown.length) {
    console.error(`unknown lab(s): ${unknown.join(", ")} (labs: ${[...catalog.keys()].join(", ")})`);
    return 2;
  }
  const labs = selected as LoadedLab[];
  const containerd = values.containerd as ContainerdMode;
  let kind = values.driver!;
  if (kind === "auto") {
    const availability = SandboxDriver.available();
    kind = availability.ok ? "sandbox" : "host-namespaces";
    if (!availability.ok) console.log(`the sandbox driver cannot run here (${availability.reasons.join("; ")}): host-namespaces`);
  }
  if (kind !== "sandbox" && kind !== "host-namespaces") {
    console.error(`unknown driver "${kind}" (sandbox, host-namespaces, auto)`);
    return 2;
  }
  const driver = kind === "sandbox" ? new SandboxDriver({ dataDir, labs: catalog, containerd }) : new NamespacesDriver({ dataDir, labs: catalog, containerd });
  const runtime = new LabRuntime(driver, catalog);
  const started = performance.now();
  const failures: string[] = [];
  try {
    await runtime.prepare(labs.map((lab) => lab.definition.id));
    const steps = Object.entries(driver.timings).map(([step, time]) => `${step} ${time} ms`).join(", ");
    const where = driver instanceof SandboxDriver ? "each environment runs its own containerd" : `containerd at ${driver.containerdAddress}`;
    console.log(`${driver.kind} driver provisioned in ${Math.round(performance.now() - started)} ms (${steps}); ${where}`);
    for (const lab of labs) failures.push(...(await testLab(runtime, driver, lab)));
  } finally {
    await driver.close();
  }
  const strays = processesUsing(dataDir);
  failures.push(...strays.map((stray) => `still running after close: ${stray}`));
  console.log(`\n${failures.length ? `FAILED (${failures.length}):\n  ${failures.join("\n  ")}` : `all ${labs.length} lab(s) passed`} in ${Math.round(performance.now() - started)} ms`);
  return failures.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(`lab test failed: ${error.message}`);
    process.exit(1);
  },
);
