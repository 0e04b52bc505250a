/** Starts a real lab server on a free loopback port for a test. */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLabServer, type LabServer, type LabServerParts } from "../app.ts";
import { parseServerConfig, type ServerConfigInput } from "../config.ts";
import { TEST_TOKEN } from "./protocol-client.ts";

export { TEST_TOKEN };

/** fetch with the test token as a bearer, JSON when a body is given. */
export function authorizedFetch(url: string | URL, init: RequestInit = {}, token = TEST_TOKEN): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${token}`);
  if (init.body !== undefined && !headers.has("content-type")) headers.set("content-type", "application/json");
  return fetch(url, { ...init, headers });
}

const TEST_READER_LIMITS = {
  maxSessionsPerReader: 1000,
  maxEnvironmentsPerReader: 1000,
  maxConnectionsPerReader: 1000,
  upgradesPerMinutePerAddress: 100_000,
};

export async function startTestServer(
  input: Partial<ServerConfigInput> = {},
  parts: LabServerParts = {},
): Promise<LabServer & { dataDir: string }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "nwl-test-"));
  // One test file opens many terminals with one token in a short time: per-reader limits sized for that,
  // unless the test sets its own (the limit tests do).
  const limits = { ...TEST_READER_LIMITS, ...input.limits };
  const config = parseServerConfig({ host: "127.0.0.1", port: 0, dataDir, token: TEST_TOKEN, ...input, limits });
  const server = await createLabServer(config, parts);
  return {
    ...server,
    url: server.url,
    link: server.link,
    token: server.token,
    warnings: server.warnings,
    sessions: server.sessions,
    dataDir,
    async close() {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * What a shell prints so the host can find the process, whatever PID
 * namespace it is in (the sandbox driver's): its pid there and its start time.
 * Type `echo TAG-PID=${PROCESS_IDENTITY("$$")}` and give the match to hostPid().
 */
export const PROCESS_IDENTITY = (pid: string) => `${pid}:$(cut -d' ' -f22 /proc/${pid}/stat)`;

/**
 * The host's pid of a process a shell named as `pid:starttime` (PROCESS_IDENTITY):
 * the one with that start time whose pid in its own namespace (the last of
 * NSpid) is that pid; 0 when none is running.
 */
export function hostPid(identity: string): number {
  const [inside, start] = identity.split(":");
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, "utf8");
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (/^NSpid:.*\s(\d+)$/m.exec(status)?.[1] === inside && stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] === start) return Number(entry);
    } catch {
      // gone
    }
  }
  return 0;
}

export function processAlive(pid: number): boolean {
  // 0 and below would name process groups: never a process.
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitUntil(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
