/**
 * A real lab server for `bench/workshop.ts`: `node server/main.ts` in a
 * process group of its own, with its own data dir, config and invited
 * readers (one token each, written with the server's own `inviteReader`).
 *
 * Everything it starts is tracked (pid and start time, so a reused pid is
 * never mistaken for one of ours): its process tree, and any process whose
 * command line names the work dir (containerd's shims leave the tree).
 * stop() asks the server to close (SIGTERM), then kills whatever is left,
 * process groups included, unmounts what is mounted under the work dir and
 * removes it, and says what it had to clean up after the server.
 *
 * When this machine lets it (cgroup v1 memory controller), the server runs in
 * a memory cgroup of its own under the bench's: what it and everything it
 * forks are charged (anonymous, page cache, kernel) is then read exactly,
 * whatever else runs on the machine. Containers' processes are charged to
 * containerd's cgroups, not this one.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, rmdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { inviteReader } from "../../server/access.ts";
import { cleanEnv, processTree, sleep } from "./procs.ts";
import { startTime } from "./workshop-host.ts";

export interface Invited {
  name: string;
  token: string;
}

export interface StopReport {
  /** ms from SIGTERM until the server process exited (undefined: it did not, and was killed). */
  exitedAfterMs: number | undefined;
  exitCode: number | null;
  /** Processes of the run still alive after the server exited (then killed here): "pid command". */
  leftoverProcesses: string[];
  /** Mounts left under the work dir (then unmounted here). */
  leftoverMounts: string[];
  /**
   * Cgroups left by the run's environments after they were disposed: runc makes
   * /<containerd namespace>/<container> in every v1 hierarchy, and the namespace's
   * folder stays. Removed here (they are empty).
   */
  leftoverCgroups: number;
  /** Environments the server said it started (its log). */
  environments: number;
  removed: boolean;
}

/** What the server's memory cgroup is charged, bytes. */
export interface CgroupMemory {
  /** memory.usage_in_bytes: anonymous + page cache + kernel. */
  usage: number;
  /** Anonymous memory (total_rss) plus shared memory (total_shmem). */
  anon: number;
  /** memory.kmem.usage_in_bytes: kernel memory (page tables, slab, sockets, namespaces). */
  kernel: number;
  /** Page cache (total_cache), reclaimable for the most part. */
  cache: number;
}

/** A cgroup (v1) of ours for one server, under the bench's own, or undefined when this machine does not let us make one. */
function makeCgroup(controller: "memory" | "cpuacct", name: string): string | undefined {
  try {
    const line = readFileSync("/proc/self/cgroup", "utf8")
      .split("\n")
      .find((entry) => entry.split(":")[1]?.split(",").includes(controller));
    if (!line) return undefined;
    const mount = path.join("/sys/fs/cgroup", controller);
    if (!existsSync(mount)) return undefined;
    const dir = path.join(mount, line.split(":")[2]!, name);
    mkdirSync(dir);
    return dir;
  } catch {
    return undefined;
  }
}

function readCgroupMemory(dir: string): CgroupMemory | undefined {
  try {
    const stat = readFileSync(path.join(dir, "memory.stat"), "utf8");
    const field = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, "m").exec(stat)?.[1] ?? 0);
    const number = (file: string) => Number(readFileSync(path.join(dir, file), "utf8").trim());
    return {
      usage: number("memory.usage_in_bytes"),
      anon: field("total_rss") + field("total_shmem"),
      kernel: existsSync(path.join(dir, "memory.kmem.usage_in_bytes")) ? number("memory.kmem.usage_in_bytes") : 0,
      cache: field("total_cache"),
    };
  } catch {
    return undefined;
  }
}

export interface WorkshopServer {
  readonly driver: string;
  readonly pid: number;
  /** http://127.0.0.1:PORT/ */
  readonly url: string;
  readonly operatorToken: string;
  readonly readers: readonly Invited[];
  readonly workDir: string;
  readonly startSeconds: number;
  /** Last lines it printed. */
  log(): string;
  /** Warnings and errors it logged (pino level ≥ 40), the first few of each message, with counts. */
  problems(): { level: number; msg: string; count: number; example: string }[];
  /** Records the processes of the run (call now and then: short-lived ones are only seen while alive). */
  track(): number[];
  /** Processes of the run alive now. */
  ours(): number[];
  /** The server's memory cgroup now (undefined when none could be made). */
  cgroupMemory(): CgroupMemory | undefined;
  /** CPU time of the server and everything it forked, exited processes included (cpuacct), ms; undefined without a cgroup. */
  cgroupCpuMs(): number | undefined;
  stop(): Promise<StopReport>;
}

const live = new Set<WorkshopServer>();

/** Stops every server still running (the bench is failing or interrupted). */
export async function stopAll(): Promise<void> {
  await Promise.allSettled([...live].map((server) => server.stop()));
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
  } catch {
    return "";
  }
}

function namesDir(pid: number, dir: string): boolean {
  if (commandLine(pid).includes(dir)) return true;
  try {
    return readlinkSync(`/proc/${pid}/cwd`).startsWith(dir);
  } catch {
    return false;
  }
}

function allPids(): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number);
}

function pgidOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
  } catch {
    return undefined;
  }
}

function stateOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
  } catch {
    return undefined;
  }
}

/** Removes the empty cgroups named after these environments' containerd namespaces (nwl-<id>), in every v1 hierarchy; returns how many there were. */
function removeEnvironmentCgroups(environments: ReadonlySet<string>): number {
  let found = 0;
  let hierarchies: string[] = [];
  try {
    hierarchies = readdirSync("/sys/fs/cgroup").map((name) => path.join("/sys/fs/cgroup", name));
  } catch {
    return 0;
  }
  const removeTree = (dir: string, depth: number): void => {
    if (depth > 3) return;
    try {
      for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) removeTree(path.join(dir, entry.name), depth + 1);
      rmdirSync(dir);
    } catch {
      // not empty (a process is still in it) or gone
    }
  };
  for (const id of environments) {
    if (!/^[0-9a-f]{1,64}$/.test(id)) continue;
    for (const hierarchy of hierarchies) {
      const dir = path.join(hierarchy, `nwl-${id}`);
      if (!existsSync(dir)) continue;
      found++;
      removeTree(dir, 0);
    }
  }
  return found;
}

function mountsUnder(dir: string): string[] {
  try {
    return readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .map((line) => line.split(" ")[4] ?? "")
      .filter((point) => point.startsWith(dir + "/"))
      .map((point) => point.replace(/\\040/g, " "));
  } catch {
    return [];
  }
}

export async function startWorkshopServer(options: {
  root: string;
  driver: string;
  readers: readonly string[];
  config: unknown;
  timeoutMs: number;
}): Promise<WorkshopServer> {
  const workDir = mkdtempSync(path.join(os.tmpdir(), `nwl-workshop-${options.driver}-`));
  const dataDir = path.join(workDir, "data");
  mkdirSync(dataDir);
  const configFile = path.join(workDir, "config.json");
  writeFileSync(configFile, JSON.stringify(options.config, null, 2));
  const readersFile = path.join(dataDir, "readers");
  const readers = options.readers.map((name) => ({ name, token: inviteReader(readersFile, name) }));
  // An empty HOME for the server (its shells get their environment's own): this machine's ~/.bashrc runs pyenv.
  const home = path.join(workDir, "home");
  mkdirSync(home);
  const env = { ...cleanEnv(), HOME: home };
  const started = performance.now();
  const child: ChildProcess = spawn(
    process.execPath,
    ["server/main.ts", "--port", "0", "--data-dir", dataDir, "--driver", options.driver, "--config", configFile],
    // Its own process group, so the whole group can be ended whatever happens to the bench.
    { cwd: options.root, env, stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  // Before it forks anything (node takes ~100 ms to start): everything it starts is charged there.
  const join = (dir: string | undefined) => {
    if (!dir) return undefined;
    try {
      writeFileSync(path.join(dir, "cgroup.procs"), String(child.pid));
      return dir;
    } catch {
      // It stays in ours: no figures from this cgroup.
      try {
        rmdirSync(dir);
      } catch {
        // gone already
      }
      return undefined;
    }
  };
  const cgroupName = `nwl-workshop-${process.pid}-${options.driver}`;
  const cgroup = join(makeCgroup("memory", cgroupName));
  const cpuCgroup = join(makeCgroup("cpuacct", cgroupName));
  const tracked = new Map<number, number>();
  const remember = (pid: number) => {
    if (tracked.has(pid)) return;
    const start = startTime(pid);
    if (start !== undefined) tracked.set(pid, start);
  };
  remember(child.pid!);
  let output = "";
  let buffered = "";
  const problems = new Map<string, { level: number; msg: string; count: number; example: string }>();
  const environments = new Set<string>();
  const collect = (data: Buffer) => {
    const text = data.toString("utf8");
    output = (output + text).slice(-16_000);
    buffered += text;
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) {
      if (!line.startsWith("{")) continue;
      try {
        const entry = JSON.parse(line) as { level?: number; msg?: string; environment?: string };
        if (entry.msg === "lab environment started" && entry.environment) environments.add(entry.environment);
        if ((entry.level ?? 0) < 40) continue;
        const key = `${entry.level}:${entry.msg}`;
        const known = problems.get(key);
        if (known) known.count++;
        else problems.set(key, { level: entry.level!, msg: entry.msg ?? "", count: 1, example: line.slice(0, 600) });
      } catch {
        // not a log line
      }
    }
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  let exitCode: number | null = null;
  let exitedAt: number | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      exitCode = code ?? (signal ? 128 : null);
      exitedAt = performance.now();
      resolve();
    }),
  );

  // A zombie is gone as far as the bench is concerned (its parent reaps it).
  const alive = (pid: number) => tracked.get(pid) !== undefined && startTime(pid) === tracked.get(pid) && stateOf(pid) !== "Z";
  const track = () => {
    if (exitedAt === undefined) for (const pid of processTree(child.pid!)) remember(pid);
    // Shims, containers and anything reparented to init still name the work dir (or run in it).
    for (const pid of allPids()) if (!tracked.has(pid) && pid !== process.pid && namesDir(pid, workDir)) remember(pid);
    return [...tracked.keys()].filter(alive);
  };
  let stopping: Promise<StopReport> | undefined;

  const server: WorkshopServer = {
    driver: options.driver,
    pid: child.pid!,
    url: "",
    operatorToken: "",
    readers,
    workDir,
    startSeconds: 0,
    log: () => output,
    problems: () => [...problems.values()],
    track,
    ours: () => {
      track();
      return [...tracked.keys()].filter(alive);
    },
    cgroupMemory: () => (cgroup ? readCgroupMemory(cgroup) : undefined),
    cgroupCpuMs: () => {
      if (!cpuCgroup) return undefined;
      try {
        return Number(readFileSync(path.join(cpuCgroup, "cpuacct.usage"), "utf8").trim()) / 1e6;
      } catch {
        return undefined;
      }
    },
    stop() {
      stopping ??= (async (): Promise<StopReport> => {
        track();
        const signalledAt = performance.now();
        if (exitedAt === undefined) {
          try {
            process.kill(child.pid!, "SIGTERM");
          } catch {
            // gone
          }
          // The server gives itself 30 s to close its environments.
          await Promise.race([exited, sleep(40_000)]);
        }
        const exitedAfterMs = exitedAt !== undefined ? Math.max(0, Math.round(exitedAt - signalledAt)) : undefined;
        await sleep(300);
        track();
        const leftovers = [...tracked.keys()].filter((pid) => pid !== child.pid && alive(pid));
        const leftoverProcesses = leftovers.map((pid) => `${pid} ${commandLine(pid).slice(0, 160)}`);
        // Whole process groups we started (the server's, holders', shells', daemons'), then every tracked process.
        const groups = new Set<number>([child.pid!]);
        for (const pid of tracked.keys()) {
          const pgid = pgidOf(pid);
          if (pgid !== undefined && tracked.has(pgid) && pgid !== process.pid) groups.add(pgid);
        }
        for (let round = 0; round < 3; round++) {
          for (const pgid of groups) {
            try {
              process.kill(-pgid, "SIGKILL");
            } catch {
              // no such group
            }
          }
          for (const pid of tracked.keys()) {
            if (!alive(pid)) continue;
            try {
              process.kill(pid, "SIGKILL");
            } catch {
              // gone
            }
          }
          await sleep(200);
          track();
          if (![...tracked.keys()].some(alive)) break;
        }
        const leftoverMounts = mountsUnder(workDir);
        for (const point of [...leftoverMounts].reverse()) {
          try {
            execFileSync("umount", ["-l", point], { stdio: "ignore", timeout: 10_000 });
          } catch {
            // not mounted any more
          }
        }
        for (const dir of [cgroup, cpuCgroup]) {
          for (let attempt = 0; dir && attempt < 10; attempt++) {
            try {
              rmdirSync(dir);
              break;
            } catch {
              await sleep(300);
            }
          }
        }
        const leftoverCgroups = removeEnvironmentCgroups(environments);
        let removed = false;
        for (let attempt = 0; attempt < 5 && !removed; attempt++) {
          try {
            rmSync(workDir, { recursive: true, force: true, maxRetries: 3 });
            removed = true;
          } catch {
            await sleep(500);
          }
        }
        live.delete(server);
        return { exitedAfterMs, exitCode, leftoverProcesses, leftoverMounts, leftoverCgroups, environments: environments.size, removed };
      })();
      return stopping;
    },
  };
  live.add(server);

  // Ready when it prints its link: http://127.0.0.1:PORT/#token=T
  const deadline = Date.now() + options.timeoutMs;
  let link: string | undefined;
  while (!link) {
    if (exitedAt !== undefined) {
      await server.stop();
      // What it said first (a usage text may follow the reason).
      throw new Error(`the server exited (code ${exitCode}) before it was ready: ${output.trim().split("\n").slice(0, 6).join("\n")}`);
    }
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`the server was not ready within ${options.timeoutMs / 1000} s:\n${output.trim().split("\n").slice(-12).join("\n")}`);
    }
    link = output
      .split("\n")
      .map((line) => line.trim())
      .find((line) => /^http:\/\/\S+#token=\S+$/.test(line));
    if (!link) {
      track();
      await sleep(100);
    }
  }
  const parsed = new URL(link);
  const operatorToken = new URLSearchParams(parsed.hash.slice(1)).get("token") ?? "";
  parsed.hash = "";
  Object.assign(server, { url: parsed.toString(), operatorToken, startSeconds: (performance.now() - started) / 1000 });
  track();
  return server;
}

/** The operator's view of the server: counts of sessions and environments. */
export async function serverCounts(server: WorkshopServer): Promise<{ status: string; sessions: number; environments: number; reasons: string[] }> {
  const response = await fetch(new URL("healthz", server.url), {
    headers: { authorization: `Bearer ${server.operatorToken}` },
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await response.json()) as { status: string; sessions?: number; environments?: number; reasons?: string[] };
  return { status: body.status, sessions: body.sessions ?? -1, environments: body.environments ?? -1, reasons: body.reasons ?? [] };
}

/** Environment namespaces (nwl-<id>) in the run's embedded containerd, or undefined when it has none of its own or ctr fails. */
function environmentNamespaces(server: WorkshopServer): Promise<string[] | undefined> {
  const socket = path.join(server.workDir, "data", "containerd", "containerd.sock");
  if (!existsSync(socket)) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    execFile("ctr", ["--address", socket, "--connect-timeout", "2s", "namespaces", "ls", "-q"], { timeout: 10_000 }, (error, stdout) => {
      if (error) resolve(undefined);
      else resolve(stdout.split("\n").filter((name) => name.startsWith("nwl-") && !name.startsWith("nwl-seed-")));
    });
  });
}

/**
 * Waits (bounded) until the environments are gone for good: the server holds
 * none, the run's processes are back to the baseline, and its containerd has
 * no environment namespace left, three polls in a row. (The server stops
 * counting an environment as soon as its disposal begins, while the disposal,
 * killing its processes and removing its containerd namespace with a few
 * `ctr` runs one after another, goes on.) Returns how long it took, or
 * undefined at the deadline.
 */
export async function waitForNoEnvironments(server: WorkshopServer, timeoutMs: number, baselineProcesses?: number): Promise<number | undefined> {
  const started = performance.now();
  let quietPolls = 0;
  let goneAt = started;
  while (performance.now() - started < timeoutMs) {
    let gone = false;
    try {
      const counts = await serverCounts(server);
      const processesBack = baselineProcesses === undefined || server.ours().length <= baselineProcesses;
      gone = counts.environments === 0 && counts.sessions === 0 && processesBack && ((await environmentNamespaces(server))?.length ?? 0) === 0;
    } catch {
      // busy or gone: try again
    }
    quietPolls = gone ? quietPolls + 1 : 0;
    if (quietPolls === 1) goneAt = performance.now();
    if (quietPolls >= 3) return goneAt - started;
    await sleep(250);
  }
  return undefined;
}
