/**
 * When the lab server cannot serve a check, the reader is told why, in
 * Chromium against the main command with its own (embedded) containerd:
 * checks beyond the environment's queue are answered 429 and say so; the
 * lab's containerd killed makes the terminal print the server's notice,
 * Server show the degraded /healthz, and a Check show the 503's message;
 * containerd restarted, the terminal says so.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, readerUrl, startMainCommand, type MainCommand, waitForScreen } from "./harness.ts";
import { processAlive, waitUntil } from "../../server/testing/lab-server.ts";

let server: MainCommand;
let browser: Browser;
let context: BrowserContext | undefined;
let configDir: string;

beforeAll(async () => {
  configDir = mkdtempSync(path.join(tmpdir(), "nwl-e2e-config-"));
  const config = path.join(configDir, "config.json");
  // One check running and one waiting per environment: a third at once is refused.
  writeFileSync(config, JSON.stringify({ limits: { maxQueuedChecksPerEnvironment: 1 } }));
  // The host-namespaces driver's shared containerd (a sandbox's own containerd is restarted inside it).
  server = await startMainCommand(["--driver", "host-namespaces", "--containerd", "embedded", "--config", config]);
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});
afterEach(async () => {
  await context?.close();
  context = undefined;
});

const main = 'nwl-terminal[data-name="main"]';

async function openConnected(): Promise<Page> {
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on("pageerror", (error) => console.error("page error:", error.message));
  await page.goto(readerUrl(server));
  await page.locator(`${main} [data-testid=terminal-start]`).click();
  await page.waitForSelector(`${main}[data-state=connected]`, { timeout: 90_000 });
  return page;
}

async function health(): Promise<{ status: string; reasons: string[] }> {
  return (await (await fetch(new URL("healthz", server.url))).json()) as { status: string; reasons: string[] };
}

/** The pid of the server's own containerd (under its data dir). */
function containerdPid(): number {
  const find = (dir: string): string | undefined => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isFile() && entry.name === "containerd.pid") return full;
      if (entry.isDirectory() && !entry.isSymbolicLink()) {
        const found = find(full);
        if (found) return found;
      }
    }
    return undefined;
  };
  const file = find(server.dataDir);
  if (!file) throw new Error(`no containerd.pid under ${server.dataDir}: is the lab server's containerd embedded?`);
  const pid = Number(readFileSync(file, "utf8").trim());
  expect(readFileSync(`/proc/${pid}/cmdline`, "utf8")).toContain(server.dataDir);
  return pid;
}

async function killContainerd(): Promise<void> {
  const pid = containerdPid();
  process.kill(pid, "SIGKILL");
  await waitUntil(() => !processAlive(pid), 5000, "containerd to die");
}

async function until(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("checks the server cannot take", () => {
  it("says a check beyond the environment's queue must wait (429), and leaves none hanging", { timeout: 180_000 }, async () => {
    const page = await openConnected();
    const buttons = page.locator("[data-testid=checkpoint-check]");
    const count = await buttons.count();
    expect(count).toBeGreaterThanOrEqual(3);
    // Every Check at once, as an impatient reader would.
    await page.evaluate(() => document.querySelectorAll<HTMLButtonElement>("[data-testid=checkpoint-check]").forEach((button) => button.click()));
    const checkpoints = page.locator("[data-testid=checkpoint]");
    await expect
      .poll(() => checkpoints.evaluateAll((elements) => elements.filter((element) => element.getAttribute("data-state") === "checking").length), { timeout: 120_000 })
      .toBe(0);
    const refused = page.locator("[data-testid=checkpoint][data-state=error]");
    expect(await refused.count()).toBeGreaterThanOrEqual(1);
    for (const output of await refused.locator("[data-testid=checkpoint-output]").allTextContents()) {
      expect(output).toContain("already waiting their turn");
    }
    // The ones that ran answered as checks do (before any step: not yet).
    expect(await page.locator("[data-testid=checkpoint][data-state=failed]").count()).toBeGreaterThanOrEqual(1);
  });
});

describe("the lab's containerd going down", () => {
  it("is told in the terminal, shown under Server, and answered by Check; its return is told too", { timeout: 180_000 }, async () => {
    const page = await openConnected();
    expect((await health()).status).toBe("ok");

    await killContainerd();
    await waitForScreen(page, /\[lab\] The lab is degraded: the lab's containerd stopped/);
    // The Server panel, opened now, says what /healthz says.
    await page.locator(`${main} [data-testid=terminal-settings]`).click();
    const status = page.locator(`${main} [data-testid=server-status]`);
    await expect.poll(() => status.textContent(), { timeout: 5000 }).toMatch(/running but degraded: the lab's containerd stopped/);
    expect(await status.getAttribute("data-state")).toBe("warning");
    await page.locator(`${main} [data-testid=terminal-settings]`).click();
    await waitForScreen(page, /\[lab\] The lab's services are back/, { timeoutMs: 60_000 });
    await until(async () => (await health()).status === "ok", 60_000, "containerd back");

    // Down again right after a restart: it waits longer before the next one, long enough to check meanwhile.
    await killContainerd();
    await until(async () => (await health()).status === "degraded", 5000, "the server to say it is degraded");
    const checkpoint = page.locator('[data-testid=checkpoint][data-checkpoint-id="containerd-reachable"]');
    await checkpoint.locator("[data-testid=checkpoint-check]").click();
    await expect.poll(() => checkpoint.getAttribute("data-state"), { timeout: 10_000 }).not.toBe("checking");
    expect(await checkpoint.getAttribute("data-state")).toBe("error");
    expect(await checkpoint.locator("[data-testid=checkpoint-output]").textContent()).toMatch(/the check could not run: the lab's containerd stopped.*Try again in a few seconds/);
    await until(async () => (await health()).status === "ok", 60_000, "containerd back again");
  });
});
