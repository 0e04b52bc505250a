/**
 * What the browser tests stand on: the README's main command (the lab server
 * serving the built site) started for real, and Debian's Chromium driven by
 * Playwright. A missing piece fails with what to install.
 *
 * The lab server prints the reader's link, `http://127.0.0.1:PORT/#token=T`:
 * tests open their first page with `#token=` (readerUrl) as a reader opening
 * that link would.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, expect } from "vitest";

export const CHROMIUM = process.env.NWL_CHROMIUM ?? "/usr/bin/chromium";
const ROOT = path.resolve(import.meta.dirname, "../..");
/** The built site the tests serve: dist/, or another build (NWL_E2E_SITE, e.g. one made with `astro build --outDir`). */
export const SITE = path.resolve(ROOT, process.env.NWL_E2E_SITE ?? "dist");

export interface LaunchOptions {
  /** More Chromium flags, e.g. `--host-resolver-rules=MAP evil.example 127.0.0.1`. */
  args?: string[];
}

export async function launchBrowser(options: LaunchOptions = {}): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is missing at ${CHROMIUM}: install it (Debian: apt-get install chromium) or set NWL_CHROMIUM`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
      ...(options.args ?? []),
    ],
  });
}

export interface MainCommand {
  /** Base URL of the lab server (and of the site it serves), ending in "/". */
  url: string;
  /** The access token it printed. */
  token: string;
  /** The link it printed: `${url}#token=${token}`. */
  link: string;
  /** Its --data-dir (a fresh one per start, removed by stop()). */
  dataDir: string;
  process: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** A page of the server's site as a reader first opens it: with the access token in the fragment. */
export function readerUrl(server: Pick<MainCommand, "url" | "token">, page = "labs/part-1/", base = server.url): string {
  return `${new URL(page, base)}#token=${server.token}`;
}

/** The lab server's counts from /healthz, asked with the operator's token (they prove nothing was started). */
export async function serverCounts(server: Pick<MainCommand, "url" | "token">): Promise<{ sessions: number; environments: number }> {
  const response = await fetch(new URL("healthz", server.url), { headers: { authorization: `Bearer ${server.token}` } });
  const body = (await response.json()) as { sessions?: unknown; environments?: unknown };
  if (typeof body.sessions !== "number" || typeof body.environments !== "number") {
    throw new Error(`/healthz with the token gave no counts: ${JSON.stringify(body)}`);
  }
  return { sessions: body.sessions, environments: body.environments };
}

/** The printed link: the base URL with the token in its fragment, on a line of its own. */
const LINK = /^(http:\/\/\S+\/)#token=(\S+)$/;

/** Builds the site (into SITE) when it is not there yet. */
export async function ensureBuilt(): Promise<void> {
  if (!existsSync(path.join(SITE, "index.html"))) {
    const build = spawnSync("astro", ["build", "--silent", "--outDir", SITE], { cwd: ROOT, stdio: "inherit" });
    if (build.status !== 0) throw new Error("the site did not build (astro build)");
  }
}

/** Starts `node server/main.ts` on a free port, serving dist/ (built first if absent). */
export async function startMainCommand(args: string[] = []): Promise<MainCommand> {
  await ensureBuilt();
  const dataDir = mkdtempSync(path.join(tmpdir(), "nwl-e2e-"));
  const child = spawn(process.execPath, ["server/main.ts", "--port", "0", "--site", SITE, "--data-dir", dataDir, ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (data) => (output += data));
  child.stderr.on("data", (data) => (output += data));
  const [link, url, token] = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the lab server printed no link (URL#token=…) in 60 s:\n${output}`)), 60_000);
    child.stdout.on("data", () => {
      const match = output
        .split("\n")
        .map((text) => text.trim().match(LINK))
        .find(Boolean);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    });
    child.once("exit", (code) => reject(new Error(`the lab server exited (${code}):\n${output}`)));
  });
  return {
    url: url!,
    token: token!,
    link: link!,
    dataDir,
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

/**
 * The main command and a browser for a whole test file, started before its
 * tests and stopped after: `const lab = useServerAndBrowser();` then
 * `lab.server`, `lab.browser` inside the tests.
 */
export function useServerAndBrowser(args: string[] = []): { readonly server: MainCommand; readonly browser: Browser } {
  let server: MainCommand | undefined;
  let browser: Browser | undefined;
  beforeAll(async () => {
    server = await startMainCommand(args);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });
  return {
    get server() {
      if (!server) throw new Error("the lab server is not started yet (use it inside a test)");
      return server;
    },
    get browser() {
      if (!browser) throw new Error("the browser is not started yet (use it inside a test)");
      return browser;
    },
  };
}

/** Every Content-Security-Policy violation the page reports, from the moment it starts loading. */
export async function watchViolations(page: Page): Promise<string[]> {
  const violations: string[] = [];
  await page.exposeFunction("__reportViolation", (text: string) => violations.push(text));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) => {
      (window as unknown as { __reportViolation(text: string): void }).__reportViolation(`${event.violatedDirective} blocked ${event.blockedURI || "inline"} (${event.sourceFile}:${event.lineNumber})`);
    });
  });
  page.on("console", (message) => {
    if (message.type() === "error" && /Content Security Policy/.test(message.text())) violations.push(message.text());
  });
  return violations;
}

/** Switches Starlight's theme to dark, then light, and gives what `background` read under each. */
export async function themeBackgrounds(page: Page, background: () => Promise<string>): Promise<{ dark: string; light: string }> {
  const select = page.locator("starlight-theme-select select").first();
  await select.selectOption("dark");
  await expect.poll(background).not.toBe("");
  const dark = await background();
  await select.selectOption("light");
  await expect.poll(background).not.toBe(dark);
  return { dark, light: await background() };
}

/** Whether a program still holds the terminal (a Run types the command and is done; the reader waits for the prompt). */
function busy(page: Page, name = "main"): Promise<string | undefined> {
  return page.$eval(`nwl-terminal[data-name="${name}"]`, (element) => (element as unknown as { busy?: string }).busy);
}

/** Every Run (must end done) and every Check (must pass) of the page, in page order; `onRun` sees each Run's command after it ran. */
export async function completeByRunsAndChecks(
  page: Page,
  onRun: (command: string, index: number) => Promise<void> = async () => {},
  onCheckClicked: (checkpoint: string, ms: number) => void = () => {},
): Promise<void> {
  const steps = page.locator("[data-testid=run-button], [data-testid=checkpoint]");
  const count = await steps.count();
  let runs = 0;
  for (let index = 0; index < count; index++) {
    const step = steps.nth(index);
    if ((await step.getAttribute("data-testid")) === "run-button") {
      const command = (await step.getAttribute("data-command")) ?? "";
      await step.scrollIntoViewIfNeeded();
      await step.click();
      // The first Run also makes the environment (for a lab that continues another, through its solves).
      await expect.poll(() => step.getAttribute("data-state"), { timeout: 120_000, message: `Run of: ${command}` }).toMatch(/done|error/);
      expect(await step.getAttribute("data-state"), `Run of: ${command}`).toBe("done");
      await expect.poll(() => busy(page), { timeout: 60_000, message: `the prompt back after: ${command}` }).toBeUndefined();
      await onRun(command, runs++);
      continue;
    }
    const id = await step.getAttribute("data-checkpoint-id");
    await expect.poll(() => step.getAttribute("data-state"), { timeout: 30_000 }).not.toBe("checking");
    // A Run may have checked it already; otherwise the reader clicks Check.
    if ((await step.getAttribute("data-state")) !== "passed") {
      const started = performance.now();
      await step.locator("[data-testid=checkpoint-check]").click();
      await expect.poll(() => step.getAttribute("data-state"), { timeout: 60_000 }).not.toMatch(/checking|unchecked/);
      onCheckClicked(id ?? "", Math.round(performance.now() - started));
    }
    const output = await step.locator("[data-testid=checkpoint-output]").textContent();
    expect(await step.getAttribute("data-state"), `checkpoint ${id}: ${output}`).toBe("passed");
  }
}


/** A terminal of the page, by its name (`<Terminal name="…">`). */
export const terminalSelector = (name = "main") => `nwl-terminal[data-name="${name}"]`;

/** A terminal's text (scrollback and screen, wrapped lines joined), as the element reads it from xterm. */
export async function screenText(page: Page, name = "main"): Promise<string> {
  return page.evaluate((selector) => (document.querySelector(selector) as unknown as { bufferText(): string }).bufferText(), terminalSelector(name));
}

/** Waits until a terminal's text matches; a timeout says what it showed instead. */
export async function waitForScreen(page: Page, pattern: RegExp, options: { name?: string; timeoutMs?: number } = {}): Promise<RegExpMatchArray> {
  const { name = "main", timeoutMs = 20_000 } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await screenText(page, name);
    const match = text.match(pattern);
    if (match) return match;
    if (Date.now() > deadline) throw new Error(`terminal ${name} never showed ${pattern}; it shows:\n${text.slice(-1500)}`);
    await page.waitForTimeout(100);
  }
}

/** Starts a terminal as a reader does (its Start button), waits for its shell, and focuses it. */
export async function startTerminal(page: Page, name = "main", timeoutMs = 30_000): Promise<void> {
  await page.locator(`${terminalSelector(name)} [data-testid=terminal-start]`).click();
  await page.waitForSelector(`${terminalSelector(name)}[data-state=connected]`, { timeout: timeoutMs });
  await page.locator(`${terminalSelector(name)} [data-testid=terminal-screen]`).click();
}

/** A counter of the server's /metrics (operator token), summed over its series; with `labels`, over the series that carry them. */
export async function metricTotal(server: Pick<MainCommand, "url" | "token">, name: string, labels?: string): Promise<number> {
  const text = await (await fetch(new URL("metrics", server.url), { headers: { authorization: `Bearer ${server.token}` } })).text();
  const series = labels === undefined ? "(?:\\{[^}]*\\})?" : `\\{[^}]*${labels}[^}]*\\}`;
  return [...text.matchAll(new RegExp(`^${name}${series} (\\S+)$`, "gm"))].reduce((sum, match) => sum + Number(match[1]), 0);
}
