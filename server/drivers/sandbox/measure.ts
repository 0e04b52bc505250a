/**
 * `node server/drivers/sandbox/measure.ts [N]`: what a sandbox environment
 * costs, beside the host-namespaces driver's. For each driver, N
 * environments (default 10) are created one after another (ready = namespaces,
 * mounts, registry and, for the sandbox, its own containerd answering), kept
 * idle a few seconds to measure their processes' memory (RSS and PSS,
 * smaps_rollup), then disposed one by one. Needs root; not part of CI.
 */
import { readdirSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";
import path from "node:path";
import { sleep } from "../../environment/exec.ts";
import { processesInNamespaces } from "../../environment/namespace-processes.ts";
import { loadLabs } from "../../labs.ts";
import { NamespacesDriver, type NamespacesEnvironment } from "../namespaces.ts";
import { cgroupTreeProcesses } from "../../environment/cgroups.ts";
import { SandboxDriver, type SandboxEnvironment } from "./sandbox.ts";
import { memoryOf, percentile } from "./test-helpers.ts";

const LAB = "k8s-nix-way-part-1";
const count = Number(process.argv[2] ?? 10);
const labs = loadLabs("labs");
const summary = (values: number[]) => `p50 ${percentile(values, 50)} ms, p95 ${percentile(values, 95)} ms (min ${Math.min(...values)}, max ${Math.max(...values)}, n=${values.length})`;

function cpuTicks(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone
    }
  }
  return ticks;
}

async function measure<E>(name: string, create: () => Promise<E>, ready: (environment: E) => number, pids: (environment: E) => number[], dispose: (environment: E) => Promise<void>) {
  const environments: E[] = [];
  const readyMs: number[] = [];
  for (let i = 0; i < count; i++) {
    const environment = await create();
    environments.push(environment);
    readyMs.push(ready(environment));
  }
  await sleep(3000);
  const memory = environments.map((environment) => memoryOf(pids(environment)));
  const processes = environments.map((environment) => pids(environment).length);
  const allPids = environments.flatMap(pids);
  const ticksBefore = cpuTicks(allPids);
  await sleep(5000);
  const idleCpu = (cpuTicks(allPids) - ticksBefore) / 100 / 5 / environments.length;
  const disposeMs: number[] = [];
  for (const environment of environments) {
    const started = performance.now();
    await dispose(environment);
    disposeMs.push(Math.round(performance.now() - started));
  }
  const mib = (kib: number) => (kib / 1024).toFixed(1);
  const rss = memory.map((entry) => entry.rssKiB);
  const pss = memory.map((entry) => entry.pssKiB);
  console.log(`\n${name}`);
  console.log(`  ready:    ${summary(readyMs)}`);
  console.log(`  dispose:  ${summary(disposeMs)}`);
  console.log(`  idle memory per environment (${processes[0]} processes): RSS ${mib(percentile(rss, 50))} MiB, PSS ${mib(percentile(pss, 50))} MiB (median of ${count})`);
  console.log(`  idle CPU per environment: ${(idleCpu * 100).toFixed(2)} % of a core`);
  return { readyMs, disposeMs };
}

async function main(): Promise<void> {
  console.log(`${count} environments per driver; load average before: ${loadavg().map((load) => load.toFixed(2)).join(" ")}`);
  const sandbox = new SandboxDriver({ dataDir: path.resolve(".lab-data/measure-sandbox"), labs, containerd: "embedded" });
  await sandbox.prepare([LAB]);
  try {
    await measure<SandboxEnvironment>(
      "sandbox",
      async () => (await sandbox.createEnvironment(LAB)) as SandboxEnvironment,
      (environment) => environment.startMs,
      (environment) => cgroupTreeProcesses(environment.record.cgroups.dirs),
      (environment) => environment.dispose(),
    );
  } finally {
    await sandbox.close();
  }
  const namespaces = new NamespacesDriver({ dataDir: path.resolve(".lab-data/measure-namespaces"), labs, containerd: "embedded" });
  await namespaces.prepare([LAB]);
  try {
    await measure<NamespacesEnvironment>(
      "host-namespaces (shared containerd not counted)",
      async () => (await namespaces.createEnvironment(LAB)) as NamespacesEnvironment,
      (environment) => environment.startMs,
      (environment) => processesInNamespaces(environment.namespaces),
      (environment) => environment.dispose(),
    );
  } finally {
    await namespaces.close();
  }
  console.log(`\nload average after: ${loadavg().map((load) => load.toFixed(2)).join(" ")}; ${readdirSync("/proc").filter((entry) => /^\d+$/.test(entry)).length} processes on the host`);
}

await main();
