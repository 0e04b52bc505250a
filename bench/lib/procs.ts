/**
 * Server processes the bench starts (each its own process, like a real
 * deployment) and their memory as /proc tells it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, readdirSync, readlinkSync, realpathSync } from "node:fs";
import { request } from "node:http";
import { createServer } from "node:net";
import path from "node:path";

export interface ServerProcess {
  readonly name: string;
  readonly pid: number;
  readonly url: string;
  /** Last lines it printed, for when something fails. */
  log(): string;
  stop(): Promise<void>;
}

const PAGE = 4096;
const NODE_EXE = realpathSync(process.execPath);
const started = new Set<ChildProcess>();

/** Shell environment for every peer alike: no npm plumbing, no node_modules on PATH. */
export function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith("npm_") && key !== "NODE_OPTIONS" && key !== "INIT_CWD") env[key] = value;
  }
  env.PATH = (env.PATH ?? "/usr/bin:/bin").split(":").filter((dir) => !dir.includes("node_modules")).join(":");
  env.TERM = "xterm-256color";
  return env;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts `node args...` and resolves once it is ready: when a line of its
 * output matches `readyLine` (its URL), or when `pollUrl` answers HTTP.
 */
export async function startServer(
  name: string,
  args: string[],
  options: { cwd: string; env: Record<string, string>; readyLine?: RegExp; pollUrl?: string; timeoutMs?: number },
): Promise<ServerProcess> {
  const child = spawn(process.execPath, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"] });
  started.add(child);
  let output = "";
  const collect = (data: Buffer) => {
    output = (output + data.toString("utf8")).slice(-8000);
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let url: string | undefined;
  while (!url) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${output}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`${name} did not start:\n${output}`);
    }
    if (options.readyLine) url = output.split("\n").map((line) => line.trim()).find((line) => options.readyLine!.test(line));
    else if (options.pollUrl && (await answers(options.pollUrl))) url = options.pollUrl;
    if (!url) await sleep(50);
  }
  return {
    name,
    pid: child.pid!,
    url,
    log: () => output,
    async stop() {
      const tree = processTree(child.pid!);
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await Promise.race([exited, sleep(8000)]);
      }
      // Whatever outlived it (a shell it failed to end) goes too: the bench leaves nothing behind.
      for (const pid of tree) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
      }
      started.delete(child);
    },
  };
}

/** Last-resort cleanup when the bench itself is interrupted. */
export function killStarted(): void {
  for (const child of started) {
    for (const pid of processTree(child.pid!)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
  }
}

function answers(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { timeout: 1000 }, (response) => {
      response.resume();
      resolve(true);
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `root` and every process below it. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // The command name may hold spaces and parentheses: fields start after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // exited meanwhile
    }
  }
  const tree: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/**
 * CPU time (user + system, ms) and read syscalls of the server's own Node
 * processes, shells left out. Reads per MB tell how the pty was read: a
 * reader that keeps up gets a line per read, a busier one gets more.
 */
export function serverCpu(root: number): { ms: number; reads: number } {
  let ticks = 0;
  let reads = 0;
  for (const pid of processTree(root)) {
    try {
      if (pid !== root && readlinkSync(`/proc/${pid}/exe`) !== NODE_EXE) continue;
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
      reads += Number(/^syscr: (\d+)/m.exec(readFileSync(`/proc/${pid}/io`, "utf8"))?.[1] ?? 0);
    } catch {
      // exited meanwhile
    }
  }
  // Linux reports in clock ticks of 10 ms (USER_HZ 100).
  return { ms: ticks * 10, reads };
}

export interface TreeMemory {
  /** RSS of the server's own Node processes (the server and any Node helper it runs), bytes. */
  serverRss: number;
  /** RSS of everything in the tree, shells included (shared libraries counted once per process). */
  treeRss: number;
  /** PSS of everything in the tree: shared pages split between their users, so shells add what they really cost. */
  treePss: number;
  processes: number;
}

export function treeMemory(root: number): TreeMemory {
  const memory: TreeMemory = { serverRss: 0, treeRss: 0, treePss: 0, processes: 0 };
  for (const pid of processTree(root)) {
    try {
      const rss = Number(readFileSync(`/proc/${pid}/statm`, "utf8").split(" ")[1]) * PAGE;
      const pss = Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? 0) * 1024;
      let exe = "";
      try {
        exe = readlinkSync(`/proc/${pid}/exe`);
      } catch {
        // a zombie has no exe
      }
      memory.processes++;
      memory.treeRss += rss;
      memory.treePss += pss;
      if (pid === root || exe === NODE_EXE) memory.serverRss += rss;
    } catch {
      // exited meanwhile
    }
  }
  return memory;
}

/**
 * A bench opens hundreds of terminals, each in an environment of its own, with one token from one
 * address in a minute: the limits a workshop server keeps per reader and per address, lifted.
 */
export const LIFTED_LIMITS = {
  upgradesPerMinutePerAddress: 1_000_000,
  maxSessionsPerReader: 10_000,
  maxConnectionsPerReader: 10_000,
  maxEnvironmentsPerReader: 10_000,
  maxEnvironments: 10_000,
} as const;

/** WeTTY 3.2 from bench/.peers (installed there by `npm run bench`), on 127.0.0.1, shells started in `cwd`. */
export async function startWetty(peersDir: string, cwd: string, env: Record<string, string>): Promise<ServerProcess & { port: number }> {
  const port = await freePort();
  const main = path.join(peersDir, "node_modules", "wetty", "build", "main.js");
  const server = await startServer("WeTTY", [main, "--host", "127.0.0.1", "--port", String(port), "--base", "/", "--command", "bash"], { cwd, env, pollUrl: `http://127.0.0.1:${port}/` });
  return { ...server, port };
}
