/**
 * What the browser tests stand on: the README's main command (the lab server
 * serving the built site) started for real, and Debian's Chromium driven by
 * Playwright. A missing piece fails with what to install.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Browser } from "playwright-core";

export const CHROMIUM = process.env.NWL_CHROMIUM ?? "/usr/bin/chromium";
const ROOT = path.resolve(import.meta.dirname, "../..");

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is missing at ${CHROMIUM}: install it (Debian: apt-get install chromium) or set NWL_CHROMIUM`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
}

export interface MainCommand {
  url: string;
  process: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Starts `node server/main.ts` on a free port, serving dist/ (built first if absent). */
export async function startMainCommand(args: string[] = []): Promise<MainCommand> {
  if (!existsSync(path.join(ROOT, "dist/index.html"))) {
    const build = spawnSync("astro", ["build", "--silent"], { cwd: ROOT, stdio: "inherit" });
    if (build.status !== 0) throw new Error("the site did not build (astro build)");
  }
  const dataDir = mkdtempSync(path.join(tmpdir(), "nwl-e2e-"));
  const child = spawn(process.execPath, ["server/main.ts", "--port", "0", "--site", "dist", "--data-dir", dataDir, ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (data) => (output += data));
  child.stderr.on("data", (data) => (output += data));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the lab server printed no URL in 60 s:\n${output}`)), 60_000);
    child.stdout.on("data", () => {
      const line = output.split("\n").find((text) => /^http:\/\/\S+\/$/.test(text.trim()));
      if (line) {
        clearTimeout(timer);
        resolve(line.trim());
      }
    });
    child.once("exit", (code) => reject(new Error(`the lab server exited (${code}):\n${output}`)));
  });
  return {
    url,
    process: child,
    output: () => output,
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await new Promise((resolve) => child.once("exit", resolve));
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface TcpProxy {
  url: string;
  /** Cuts every connection and refuses new ones for `ms`: a network outage. */
  outage(ms: number): Promise<void>;
  close(): Promise<void>;
}

/** A loopback TCP proxy in front of the lab server, so a test can cut the network under a page. */
export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const { createServer, connect } = await import("node:net");
  const { hostname, port } = new URL(target);
  const sockets = new Set<import("node:net").Socket>();
  let down = false;
  const server = createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = connect(Number(port), hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {});
    }
    client.pipe(upstream).pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as import("node:net").AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}/`,
    async outage(ms) {
      down = true;
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => setTimeout(resolve, ms));
      down = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
