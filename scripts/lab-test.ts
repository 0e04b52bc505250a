/**
 * `npm run lab:test [lab] [--driver sandbox|host-namespaces]`: proves every
 * lab (or the one named) in a real environment of the driver (default: the
 * sandbox when this host allows it, as the server picks; NWL_LAB_TEST_DRIVER):
 * each checkpoint fails before its solve and passes after, in order; then the
 * environment is disposed and nothing may be left (containerd namespace or
 * cgroups, processes, mounts, files). Every check's output is written for a
 * reader: not empty when it fails, no raw JSON, no path of the host (the data
 * dir, the project's folder), in a new environment as well as before and
 * after its step. Then each detour of the lab (a plausible wrong step, e.g. a
 * typo in `sleep 2000`) runs in a fresh environment: the check must fail, say
 * how to get back on track, and pass once the reader types exactly what it
 * said. A checkpoint whose `needs` this host lacks (a kubelet, an API
 * server) is not run: its check and its solve must answer that the step
 * needs the lab VM (never pass), and it is reported as skipped, never counted
 * as passed. Needs root and the Debian packages the driver names when they
 * are missing.
 */
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { LabRuntime, unavailableReason } from "../server/lab-runtime.ts";
import type { Checkpoint } from "../labs/schema.ts";
import type { LabEnvironment } from "../server/drivers/driver.ts";
import { environmentLeftovers, NamespacesDriver, type NamespacesEnvironment } from "../server/drivers/namespaces.ts";
import { SandboxDriver, sandboxLeftovers, type SandboxEnvironment } from "../server/drivers/sandbox/sandbox.ts";
import type { ContainerdMode } from "../server/environment/containerd.ts";
import { listContainerdNamespaces } from "../server/environment/containerd-namespace.ts";
import { isRunning } from "../server/environment/namespace-processes.ts";
import { findLab, loadLabs, type LoadedLab } from "../server/labs.ts";
import { configureHostTools } from "../server/environment/prerequisites.ts";
import { resolveServerOptions } from "../server/options.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    "data-dir": { type: "string", default: process.env.NWL_LAB_TEST_DATA_DIR ?? ".lab-data/lab-test" },
    "labs-dir": { type: "string", default: "labs" },
    containerd: { type: "string", default: process.env.NWL_CONTAINERD ?? "auto" },
    driver: { type: "string", default: process.env.NWL_LAB_TEST_DRIVER ?? "auto" },
  },
});

// The host tools as the server finds them: NWL_CONFIG's file and the NWL_* variables (e.g. NWL_CNI_PLUGIN_DIR), else PATH.
const { config: serverConfig } = resolveServerOptions([], process.env);
configureHostTools({ cniPluginDir: serverConfig.cniPluginDir, registry: serverConfig.registry, busybox: serverConfig.busybox });

/** The project's folder: the server's, never the reader's. */
const PROJECT_DIR = path.resolve(import.meta.dirname, "..");

/**
 * Wrong turns a reader plausibly takes, per lab. After solving every checkpoint
 * up to `after` (none when it is absent), the reader types `wrong`; then each check of `expect` fails and
 * its message contains `says`. `fix` is what the first of them tells the reader
 * to type, line for line (asserted), and once it is typed every check of
 * `passes` passes.
 */
interface Detour {
  name: string;
  after?: string;
  wrong: string;
  expect: { checkpoint: string; says: string[] }[];
  fix: string[];
  passes: string[];
}

const ALPINE = "docker.io/library/alpine:latest";
const DETOURS: Record<string, Detour[]> = {
  "k8s-nix-way-part-1": [
    {
      name: "the k8s files made, but not added to git",
      wrong: "mkdir -p ~/k8s && cd ~/k8s && echo '{ ... }: { imports = [ ./etcd.nix ./containerd.nix ]; }' > default.nix && for f in lib etcd containerd; do echo '{ }' > $f.nix; done && cd ~ && git init -q .",
      expect: [{ checkpoint: "nix-layout", says: ["git does not track these yet", "~/k8s/etcd.nix"] }],
      fix: ["cd ~ && git add k8s"],
      passes: ["nix-layout"],
    },
    {
      name: "etcd started without --advertise-client-urls (it exits at once)",
      after: "nix-layout",
      wrong: "etcd --name part-1 --data-dir ~/etcd-data --listen-client-urls 'http://[::1]:2379' > ~/etcd.log 2>&1",
      expect: [{ checkpoint: "etcd-healthy", says: ["nothing listens on port 2379", "--advertise-client-urls is required"] }],
      fix: [],
      passes: [],
    },
    {
      name: "the loopback config written before the failure was seen",
      after: "containerd-reachable",
      wrong: `ctr image pull docker.io/library/busybox:latest && echo '{"cniVersion":"1.0.0","name":"lo","plugins":[{"type":"loopback"}]}' > /etc/cni/net.d/10-loopback.conflist`,
      expect: [{ checkpoint: "cni-failure-reproduced", says: ["the failure needs it empty"] }],
      fix: ["mkdir -p ~/cni-aside && mv /etc/cni/net.d/* ~/cni-aside/", "ctr run --cni docker.io/library/busybox:latest cni-test sleep 30"],
      passes: ["cni-failure-reproduced"],
    },
    {
      name: "a typo in sleep 2000 (created, never started)",
      after: "image-pulled",
      wrong: `ctr container create ${ALPINE} test sleep 200`,
      expect: [
        { checkpoint: "task-running", says: ["runs `sleep 200`, not `sleep 2000`"] },
        { checkpoint: "container-created", says: ["ctr container rm test"] },
      ],
      fix: ["ctr container rm test", `ctr container create ${ALPINE} test sleep 2000`, "ctr task start -d test"],
      passes: ["container-created", "task-running"],
    },
    {
      name: "a typo in sleep (its start failed: no such command)",
      after: "image-pulled",
      wrong: `ctr container create ${ALPINE} test slep 2000; ctr task start -d test`,
      expect: [
        { checkpoint: "task-running", says: ["runs `slep 2000`"] },
        { checkpoint: "container-created", says: ["ctr container rm test"] },
      ],
      fix: ["ctr container rm test", `ctr container create ${ALPINE} test sleep 2000`, "ctr task start -d test"],
      passes: ["container-created", "task-running"],
    },
    {
      name: "a typo in sleep 2000, started and running",
      after: "image-pulled",
      wrong: `ctr container create ${ALPINE} test sleep 200 && ctr task start -d test`,
      expect: [{ checkpoint: "task-running", says: ["its task is RUNNING"] }],
      fix: ["ctr task rm -f test", "ctr container rm test", `ctr container create ${ALPINE} test sleep 2000`, "ctr task start -d test"],
      passes: ["container-created", "task-running"],
    },
    {
      name: "the task killed and started again without removing it",
      after: "task-running",
      wrong: "ctr task kill -s SIGKILL test; sleep 0.5; ctr task start -d test",
      expect: [{ checkpoint: "task-running", says: ["has stopped"] }],
      fix: ["ctr task rm test", "ctr task start -d test"],
      passes: ["task-running"],
    },
    {
      name: "a typo in echo foo",
      after: "task-running",
      wrong: `ctr container create ${ALPINE} echo-test echo fo`,
      expect: [{ checkpoint: "echo-output", says: ["runs `echo fo`, not `echo foo`"] }],
      fix: ["ctr container rm echo-test", `ctr container create ${ALPINE} echo-test echo foo`, "ctr task start echo-test"],
      passes: ["echo-output"],
    },
    {
      name: "containers removed while a task still runs",
      after: "echo-output",
      wrong: "ctr container rm $(ctr container ls --quiet)",
      expect: [{ checkpoint: "containers-removed", says: ["Containers left: test"] }],
      fix: ["ctr task rm -f test", "ctr container rm $(ctr container ls --quiet)"],
      passes: ["containers-removed"],
    },
    {
      name: "ctr version saved from ~/pki",
      after: "certificates",
      wrong: "cd ~/pki && ctr version > containerd-version.txt",
      expect: [{ checkpoint: "containerd-reachable", says: ["Found ~/pki/containerd-version.txt"] }],
      fix: ["mv ~/pki/containerd-version.txt ~/"],
      passes: ["containerd-reachable"],
    },
    {
      name: "etcd listening on 127.0.0.1 only",
      after: "nix-layout",
      wrong: "etcd --name part-1 --data-dir ~/etcd-data --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 > ~/etcd.log 2>&1 & sleep 1.5",
      expect: [{ checkpoint: "etcd-healthy", says: ["not on [::1]:2379"] }],
      fix: [],
      passes: [],
    },
  ],
};

/**
 * What a check's output must not be: empty when it failed, raw JSON, or a path
 * of the host (the reader sees only their own environment's paths, like ~/k8s).
 */
function unreadable(output: string, options: { failed: boolean; hostPaths: string[] }): string[] {
  const problems: string[] = [];
  if (options.failed && !output.trim()) problems.push("failed with no message");
  // An object's opening, or a quoted key before a value: `{"level":…`, `"args":["sleep",…`.
  const json = /\{\s*"|"[^"\n]*"\s*:\s*[[{"]/.exec(output);
  if (json) problems.push(`shows raw JSON: ${output.slice(json.index, json.index + 60)}`);
  for (const hostPath of options.hostPaths) if (output.includes(hostPath)) problems.push(`shows a host path: ${hostPath}`);
  return problems;
}

/**
 * A step this host cannot run: its check must answer `unavailable` (not pass,
 * not fail as if the reader were wrong) and its solve must refuse to run.
 * Returns what is wrong; empty when both answered so.
 */
async function provesUnavailable(runtime: LabRuntime, labId: string, checkpoint: Checkpoint, environment: LabEnvironment): Promise<string[]> {
  const problems: string[] = [];
  const check = await runtime.check(labId, checkpoint.id, environment);
  if (check.passed) problems.push("its check passed on a host without what it needs");
  if (!check.unavailable) problems.push("its check did not answer `unavailable`");
  else if (!/lab VM/.test(check.unavailable)) problems.push(`its check's answer does not name the lab VM: ${check.unavailable}`);
  const solve = await runtime.solve(labId, checkpoint.id, environment);
  if (solve.exitCode === 0) problems.push("its solve ran (exit 0) on a host without what it needs");
  return problems;
}

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

/**
 * Holds a host-namespaces environment's namespaces open until its leftovers are counted: the
 * kernel gives a freed namespace's inode number to the next new one at once, and a process of
 * anything else on the host that got it (another lab server on a shared machine) would
 * otherwise count as left behind.
 */
function pinNamespaces(environment: LabEnvironment): () => void {
  if (!("holderPid" in environment)) return () => {};
  const holderPid = (environment as NamespacesEnvironment).holderPid;
  const fds = ["mnt", "net"].map((name) => openSync(`/proc/${holderPid}/ns/${name}`, "r"));
  return () => {
    for (const fd of fds) closeSync(fd);
  };
}

/** What is left of a disposed environment, whichever driver made it. */
async function leftoversOf(driver: NamespacesDriver | SandboxDriver, environment: LabEnvironment): Promise<string[]> {
  if (driver instanceof SandboxDriver) return sandboxLeftovers(environment as SandboxEnvironment);
  return environmentLeftovers(environment as NamespacesEnvironment, driver.containerdAddress!, listContainerdNamespaces);
}

async function testLab(runtime: LabRuntime, driver: NamespacesDriver | SandboxDriver, lab: LoadedLab, hostPaths: string[], skipped: string[]): Promise<string[]> {
  const failures: string[] = [];
  const id = lab.definition.id;
  console.log(`\nlab ${id}: ${lab.definition.title}`);
  const started = performance.now();
  const environment = await runtime.createEnvironment(id);
  const unpin = pinNamespaces(environment);
  const startMs = Math.round(performance.now() - started);
  const where = driver instanceof SandboxDriver ? `sandbox, uid ${(environment as SandboxEnvironment).record.base} on the host` : `containerd namespace ${(environment as NamespacesEnvironment).namespace}`;
  console.log(`  environment ${environment.id} started in ${startMs} ms (${where})`);
  try {
    // Every check in the new environment, before any step: each fails, in words for a reader.
    const fresh: string[] = [];
    for (const checkpoint of lab.definition.checkpoints) {
      const result = await runtime.check(id, checkpoint.id, environment);
      const problems = [...(result.passed ? ["passed"] : []), ...unreadable(result.output, { failed: !result.passed, hostPaths })];
      if (!problems.length) continue;
      fresh.push(checkpoint.id);
      failures.push(`${id}/${checkpoint.id}: in a new environment, ${problems.join("; ")}`);
      console.log(`  FAIL ${checkpoint.id} in a new environment: ${problems.join("; ")}\n${indent(result.output)}`);
    }
    console.log(`  ${fresh.length ? "FAIL" : "ok  "} every check fails in a new environment, in words for a reader`);
    for (const checkpoint of lab.definition.checkpoints) {
      // Skipped exactly when the lab server itself would refuse the step (lab-runtime's unavailableReason).
      const unmet = unavailableReason(checkpoint);
      if (unmet) {
        const problems = await provesUnavailable(runtime, id, checkpoint, environment);
        console.log(`  ${problems.length ? "FAIL" : "skip"} ${checkpoint.id.padEnd(26)} ${unmet}${problems.length ? "" : " (its check answers unavailable)"}`);
        for (const problem of problems) console.log(`        ${problem}`);
        failures.push(...problems.map((problem) => `${id}/${checkpoint.id}: ${problem}`));
        skipped.push(`${id}/${checkpoint.id}: ${unmet}`);
        continue;
      }
      const before = await runtime.check(id, checkpoint.id, environment);
      const solve = await runtime.solve(id, checkpoint.id, environment);
      const after = await runtime.check(id, checkpoint.id, environment);
      const unfit = ([["before its solve", before], ["after its solve", after]] as const).flatMap(([when, result]) => {
        const problems = unreadable(result.output, { failed: !result.passed, hostPaths });
        return problems.length ? [{ when, problems, output: result.output }] : [];
      });
      const ok = !before.passed && after.passed && !unfit.length;
      console.log(
        `  ${ok ? "ok  " : "FAIL"} ${checkpoint.id.padEnd(26)} before ${before.passed ? "passed!" : "failed "}${ms(before.durationMs)}` +
          `  solve${ms(solve.durationMs)}  after ${after.passed ? "passed" : "failed"}${ms(after.durationMs)}`,
      );
      if (before.passed) {
        failures.push(`${id}/${checkpoint.id}: passed before its solve`);
        console.log(indent(before.output));
      }
      for (const { when, problems, output } of unfit) {
        failures.push(`${id}/${checkpoint.id}: output ${when} not for a reader: ${problems.join("; ")}`);
        console.log(`        output ${when}, not for a reader (${problems.join("; ")}):\n${indent(output)}`);
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
    unpin();
    console.log(`  disposed in ${Math.round(performance.now() - started)} ms; left behind: ${leftovers.length ? leftovers.join("; ") : "nothing"}`);
    failures.push(...leftovers.map((leftover) => `${id}: left behind after dispose: ${leftover}`));
  }
  return failures;
}

/** Solves every checkpoint of the lab up to and including `last`, in order; the failure, if any. */
async function solveUpTo(runtime: LabRuntime, lab: LoadedLab, environment: LabEnvironment, last: string | undefined): Promise<string | undefined> {
  if (last === undefined) return undefined;
  for (const checkpoint of lab.definition.checkpoints) {
    if (unavailableReason(checkpoint)) {
      if (checkpoint.id === last) return undefined;
      continue;
    }
    await runtime.solve(lab.definition.id, checkpoint.id, environment);
    const result = await runtime.check(lab.definition.id, checkpoint.id, environment);
    if (!result.passed) return `${checkpoint.id} failed after its solve:\n${indent(result.output)}`;
    if (checkpoint.id === last) return undefined;
  }
  return `no checkpoint "${last}"`;
}

/**
 * The lab's detours whose checkpoints all exist, and a failure line for each that names one the
 * lab does not have (renamed, removed): checked at start, so it is a failure line, not a crash.
 */
function checkDetours(lab: LoadedLab): { detours: Detour[]; failures: string[] } {
  const id = lab.definition.id;
  const known = new Set(lab.definition.checkpoints.map((checkpoint) => checkpoint.id));
  const failures: string[] = [];
  const detours = (DETOURS[id] ?? []).filter((detour) => {
    const named = [...(detour.after ? [detour.after] : []), ...detour.expect.map((expected) => expected.checkpoint), ...detour.passes];
    const unknown = [...new Set(named.filter((checkpoint) => !known.has(checkpoint)))];
    if (!unknown.length) return true;
    failures.push(`${id}: detour "${detour.name}" names ${unknown.map((checkpoint) => `"${checkpoint}"`).join(", ")}, not a checkpoint of the lab (it has: ${[...known].join(", ")})`);
    return false;
  });
  return { detours, failures };
}

/** Runs each detour of the lab in a fresh environment (see Detour). */
async function testDetours(runtime: LabRuntime, driver: NamespacesDriver | SandboxDriver, lab: LoadedLab, hostPaths: string[], detours: readonly Detour[]): Promise<string[]> {
  const failures: string[] = [];
  const id = lab.definition.id;
  for (const detour of detours) {
    const problems: string[] = [];
    const environment = await runtime.createEnvironment(id);
    const unpin = pinNamespaces(environment);
    try {
      const setup = await solveUpTo(runtime, lab, environment, detour.after);
      if (setup) problems.push(`getting there: ${setup}`);
      else {
        await environment.runScript(detour.wrong, { timeoutMs: 30_000 });
        let firstMessage: string | undefined;
        for (const expected of detour.expect) {
          const result = await runtime.check(id, expected.checkpoint, environment);
          firstMessage ??= result.output;
          if (result.passed) problems.push(`${expected.checkpoint} passed after the wrong step`);
          for (const said of expected.says) if (!result.output.includes(said)) problems.push(`${expected.checkpoint} does not say "${said}"`);
          problems.push(...unreadable(result.output, { failed: !result.passed, hostPaths }).map((problem) => `${expected.checkpoint}: ${problem}`));
          if (problems.length) console.log(`        ${expected.checkpoint} said:\n${indent(result.output)}`);
        }
        // The reader types what the message said, line for line, and gets back on track.
        const unsaid = detour.fix.filter((line) => !firstMessage?.includes(line));
        problems.push(...unsaid.map((line) => `${detour.expect[0]!.checkpoint} does not tell the reader to type: ${line}`));
        if (detour.fix.length) await environment.runScript(detour.fix.join("\n"), { timeoutMs: 30_000 });
        for (const checkpoint of detour.passes) {
          const result = await runtime.check(id, checkpoint, environment);
          if (!result.passed) {
            problems.push(`${checkpoint} still fails after the fix the message gave`);
            console.log(`        ${checkpoint} after the fix:\n${indent(result.output)}`);
          }
        }
      }
    } finally {
      await environment.dispose();
      const leftovers = await leftoversOf(driver, environment);
      unpin();
      problems.push(...leftovers.map((leftover) => `left behind after dispose: ${leftover}`));
    }
    console.log(`  ${problems.length ? "FAIL" : "ok  "} detour: ${detour.name}`);
    for (const problem of problems) console.log(`        ${problem}`);
    failures.push(...problems.map((problem) => `${id}, detour "${detour.name}": ${problem}`));
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
  /** Checkpoints this host cannot run (unmet `needs`): reported, never counted as passed. */
  const skipped: string[] = [];
  const detoursOf = new Map(labs.map((lab) => [lab.definition.id, checkDetours(lab)]));
  for (const { failures: wrong } of detoursOf.values()) {
    for (const failure of wrong) console.log(`FAIL ${failure}`);
    failures.push(...wrong);
  }
  try {
    await runtime.prepare(labs.map((lab) => lab.definition.id));
    const steps = Object.entries(driver.timings).map(([step, time]) => `${step} ${time} ms`).join(", ");
    const where = driver instanceof SandboxDriver ? "each environment runs its own containerd" : `containerd at ${driver.containerdAddress}`;
    console.log(`${driver.kind} driver provisioned in ${Math.round(performance.now() - started)} ms (${steps}); ${where}`);
    // Paths of the server's side, which no check may show a reader.
    const hostPaths = [...new Set([dataDir, PROJECT_DIR, path.resolve(values["labs-dir"]!), ".lab-data", "/tmp/nwl", "/run/nix-way-labs"])];
    for (const lab of labs) {
      failures.push(...(await testLab(runtime, driver, lab, hostPaths, skipped)));
      failures.push(...(await testDetours(runtime, driver, lab, hostPaths, detoursOf.get(lab.definition.id)!.detours)));
    }
  } finally {
    await driver.close();
  }
  const strays = processesUsing(dataDir);
  failures.push(...strays.map((stray) => `still running after close: ${stray}`));
  if (skipped.length) console.log(`\nnot run here, needing the lab VM (${skipped.length}):\n  ${skipped.join("\n  ")}`);
  console.log(`\n${failures.length ? `FAILED (${failures.length}):\n  ${failures.join("\n  ")}` : `all ${labs.length} lab(s) passed${skipped.length ? ` (${skipped.length} step(s) not run: they need the lab VM)` : ""}`} in ${Math.round(performance.now() - started)} ms`);
  return failures.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(`lab test failed: ${error.message}`);
    process.exit(1);
  },
);
