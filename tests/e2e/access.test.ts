/**
 * Who may use the lab server, in Chromium against the main command: only the
 * reader who opened the link it printed. A page of another origin (here
 * evil.example, mapped to loopback by Chromium's resolver) gets no shell and
 * no check, even holding the token; the server's own page without the token
 * says what to do and starts nothing. And the reader's own ways through: the
 * link, a reload without it, Reconnect, a server without the page's lab.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, metricTotal, readerUrl, screenText, serverCounts, startMainCommand, type MainCommand, waitForScreen } from "./harness.ts";
import { hostPid, PROCESS_IDENTITY, processAlive } from "../../server/testing/lab-server.ts";

const LAB = "k8s-nix-way-part-1";
const NEEDS_ACCESS = /needs your access link[\s\S]*#token=/;

let server: MainCommand;
let browser: Browser;
let evil: Server;
let evilUrl: string;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  server = await startMainCommand();
  // Another site: a page of its own, on its own origin (another port, another host name).
  evil = createServer((_request, response) => {
    response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    response.end("<!doctype html><title>Not the labs</title><p>A page of another site.</p>");
  });
  await new Promise<void>((resolve) => evil.listen(0, "127.0.0.1", resolve));
  evilUrl = `http://evil.example:${(evil.address() as AddressInfo).port}/`;
  browser = await launchBrowser({ args: ["--host-resolver-rules=MAP evil.example 127.0.0.1"] });
});
afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => evil?.close(resolve));
  await server?.stop();
});
afterEach(async () => {
  for (const context of contexts.splice(0)) await context.close();
});

async function newPage(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  contexts.push(context);
  const page = await context.newPage();
  page.on("pageerror", (error) => console.error("page error:", error.message));
  return page;
}

const main = 'nwl-terminal[data-name="main"]';

/** Waits for the terminal to be connected; a failure says what the terminal showed instead. */
async function connected(page: Page, timeout = 60_000): Promise<void> {
  try {
    await page.waitForSelector(`${main}[data-state=connected]`, { timeout });
  } catch (error) {
    const state = await page.getAttribute(main, "data-state");
    const detail = await page.locator(`${main} [data-testid=terminal-detail]`).textContent();
    throw new Error(`terminal not connected: ${state} (${detail})\nserver:\n${server.output().slice(-3000)}`, { cause: error });
  }
}

async function startTerminal(page: Page): Promise<void> {
  await page.locator(`${main} [data-testid=terminal-start]`).click();
  await connected(page);
  await page.locator(`${main} [data-testid=terminal-screen]`).click();
}

/** The shell's pid on the host (in a sandbox, $$ is its pid in the environment's PID namespace). */
async function shellPid(page: Page): Promise<number> {
  const tag = Math.random().toString(36).slice(2, 8);
  await page.keyboard.type(`echo ${tag}-PID=${PROCESS_IDENTITY("$$")}`);
  await page.keyboard.press("Enter");
  return hostPid((await waitForScreen(page, new RegExp(`${tag}-PID=(\\d+:\\d+)`)))[1]!);
}

/** WebSockets a page opens to the lab server, counted from the browser's side. */
function countSockets(page: Page): { count(): number } {
  let count = 0;
  page.on("websocket", (socket) => {
    if (socket.url().endsWith("/ws")) count++;
  });
  return { count: () => count };
}

interface ShellAttempt {
  opened: boolean;
  closeCode: number;
  frames: string[];
}

/** In the page: what a script does to get a shell — open /ws and say hello (with a token or without). */
function tryShell(page: Page, token: string | undefined): Promise<ShellAttempt> {
  const ws = new URL("ws", server.url.replace(/^http/, "ws")).toString();
  return page.evaluate(
    ({ ws, token, lab }) =>
      new Promise<ShellAttempt>((resolve) => {
        const socket = new WebSocket(ws, "nix-way-labs.v1");
        const frames: string[] = [];
        let opened = false;
        socket.onopen = () => {
          opened = true;
          socket.send(JSON.stringify({ type: "hello", version: 1, lab, cols: 80, rows: 24, ...(token ? { token } : {}) }));
        };
        socket.onmessage = (event) => frames.push(typeof event.data === "string" ? event.data : "(output)");
        socket.onclose = (event) => resolve({ opened, closeCode: event.code, frames });
      }),
    { ws, token, lab: LAB },
  );
}

describe("a page of another site", () => {
  it("gets no shell without the token or with it, and cannot run a check; the server starts nothing", { timeout: 180_000 }, async () => {
    // The reader's own page holds an environment: the worst case, a target that exists.
    const reader = await newPage();
    await reader.goto(readerUrl(server));
    await startTerminal(reader);
    const environment = (await reader.getAttribute(main, "data-environment"))!;
    expect(environment).toMatch(/^[A-Za-z0-9_-]+$/);
    const before = await serverCounts(server);
    expect(before.sessions).toBeGreaterThanOrEqual(1);
    const checksBefore = await metricTotal(server, "nwl_checks_total");

    const page = await newPage();
    await page.goto(evilUrl);
    expect(new URL(page.url()).host).toBe(new URL(evilUrl).host);

    // No token: refused before the upgrade (Origin), so no WebSocket at all.
    const bare = await tryShell(page, undefined);
    expect(bare).toEqual({ opened: false, closeCode: 1006, frames: [] });
    expect(await serverCounts(server)).toEqual(before);

    // The right token, stolen somehow: still refused, by Origin, before any hello is read.
    const stolen = await tryShell(page, server.token);
    expect(stolen).toEqual({ opened: false, closeCode: 1006, frames: [] });
    expect(await serverCounts(server)).toEqual(before);

    // The check API, with the token and the reader's environment: the browser blocks it (no CORS for this origin) ...
    const checkUrl = new URL(`api/labs/${LAB}/checkpoints/nix-layout/check`, server.url).toString();
    const api = await page.evaluate(
      async ({ checkUrl, token, environment }) => {
        try {
          const response = await fetch(checkUrl, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
            body: JSON.stringify({ environment }),
          });
          return `answered ${response.status}`;
        } catch (error) {
          return `blocked: ${(error as Error).message}`;
        }
      },
      { checkUrl, token: server.token, environment },
    );
    expect(api).toMatch(/^blocked/);
    // ... and a form-style post, which a browser sends without asking, is refused by the server: no check ran.
    await page.evaluate(
      async ({ checkUrl, environment }) => {
        await fetch(checkUrl, { method: "POST", mode: "no-cors", headers: { "content-type": "text/plain" }, body: JSON.stringify({ environment }) });
      },
      { checkUrl, environment },
    );
    expect(await metricTotal(server, "nwl_checks_total")).toBe(checksBefore);
    expect(await serverCounts(server)).toEqual(before);

    // A name of theirs pointed at this server (DNS rebinding) gets nothing either: the Host is checked.
    const rebound = await page.goto(`http://evil.example:${new URL(server.url).port}/labs/part-1/`);
    expect(rebound?.status()).toBe(403);
    expect(await serverCounts(server)).toEqual(before);

    // The reader's shell is untouched by all this.
    expect(await reader.getAttribute(main, "data-state")).toBe("connected");
  });
});

describe("the lab server's own page without the token", () => {
  it("says to open the access link, stops trying, starts nothing; Check says the same; a pasted link lets it in", { timeout: 120_000 }, async () => {
    const before = await serverCounts(server);
    const page = await newPage();
    const sockets = countSockets(page);
    await page.goto(new URL("labs/part-1/", server.url).toString());
    await page.locator(`${main} [data-testid=terminal-start]`).click();

    await page.waitForSelector(`${main}[data-state=unauthorized]`, { timeout: 20_000 });
    const help = page.locator(`${main} [data-testid=terminal-access-help]`);
    expect(await help.isVisible()).toBe(true);
    expect(await help.textContent()).toMatch(NEEDS_ACCESS);
    await waitForScreen(page, /\[lab\] This lab server needs your access link/);
    // No retry loop: one refused connection, and quiet after it.
    await page.waitForTimeout(4000);
    expect(sockets.count()).toBe(1);
    expect(await page.getAttribute(main, "data-state")).toBe("unauthorized");
    expect(await serverCounts(server)).toEqual(before);

    // Check: the same words, promptly.
    const checkpoint = page.locator('[data-testid=checkpoint][data-checkpoint-id="nix-layout"]');
    const started = Date.now();
    await checkpoint.locator("[data-testid=checkpoint-check]").click();
    await expect.poll(() => checkpoint.getAttribute("data-state"), { timeout: 5000 }).toBe("error");
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await checkpoint.locator("[data-testid=checkpoint-output]").textContent()).toMatch(NEEDS_ACCESS);
    expect(await serverCounts(server)).toEqual(before);

    // The reader pastes the link under Server: the terminal gets in by itself.
    await page.locator(`${main} [data-testid=terminal-settings]`).click();
    await page.locator(`${main} [data-testid=server-url-input]`).fill(server.link);
    await page.locator(`${main} [data-testid=server-url-save]`).click();
    await connected(page);
    expect(await help.isVisible()).toBe(false);
    expect((await serverCounts(server)).sessions).toBe(before.sessions + 1);
  });
});

describe("the reader's link", () => {
  it("keeps the token and drops it from the address; the terminal runs and a check passes, and again after a reload without it", { timeout: 240_000 }, async () => {
    const page = await newPage();
    // The link as printed: the site's home page, the token in the fragment.
    await page.goto(server.link);
    await expect.poll(() => page.url()).toBe(server.url);
    expect(await page.evaluate(() => location.hash)).toBe("");
    expect(await page.evaluate((key) => localStorage.getItem(key), `nwl:token:${server.url}`)).toBe(server.token);

    await page.goto(new URL("labs/part-1/", server.url).toString());
    await startTerminal(page);
    await page.keyboard.type("echo FROM-THE-LINK-$((6*7))");
    await page.keyboard.press("Enter");
    await waitForScreen(page, /FROM-THE-LINK-42/);

    // The steps up to the first checkpoint, by their Run buttons; then Check passes.
    const checkpoint = page.locator('[data-testid=checkpoint][data-checkpoint-id="nix-layout"]');
    const runs = page.locator("[data-testid=run-button]");
    for (let index = 0; (await checkpoint.getAttribute("data-state")) !== "passed"; index++) {
      expect(index, "Runs before the nix-layout checkpoint").toBeLessThan(6);
      const run = runs.nth(index);
      await run.click();
      await expect.poll(() => run.getAttribute("data-state"), { timeout: 60_000 }).toBe("done");
      await expect.poll(() => checkpoint.getAttribute("data-state"), { timeout: 30_000 }).not.toBe("checking");
    }
    await checkpoint.locator("[data-testid=checkpoint-check]").click();
    await expect.poll(() => checkpoint.getAttribute("data-state"), { timeout: 60_000 }).not.toMatch(/checking/);
    expect(await checkpoint.getAttribute("data-state"), (await checkpoint.locator("[data-testid=checkpoint-output]").textContent()) ?? "").toBe("passed");

    // A reload, no fragment anywhere: the kept token carries the terminal and the check.
    await page.reload();
    expect(page.url()).not.toContain("token");
    await connected(page, 30_000);
    await page.locator(`${main} [data-testid=terminal-screen]`).click();
    await page.keyboard.type("echo AFTER-RELOAD-$((6*7))");
    await page.keyboard.press("Enter");
    await waitForScreen(page, /AFTER-RELOAD-42/);
    await checkpoint.locator("[data-testid=checkpoint-check]").click();
    await expect.poll(() => checkpoint.locator("[data-testid=checkpoint-result]").textContent(), { timeout: 60_000 }).toMatch(/^Passed \(\d+\.\d s\)$/);
  });
});

describe("Reconnect", () => {
  it("drops the socket and resumes the same shell", { timeout: 120_000 }, async () => {
    const page = await newPage();
    const sockets = countSockets(page);
    await page.goto(readerUrl(server));
    await startTerminal(page);
    const pid = await shellPid(page);
    expect(sockets.count()).toBe(1);

    const reconnect = page.locator(`${main} [data-testid=terminal-reconnect]`);
    await reconnect.click();
    // A new socket, welcomed back into the same session with every byte.
    await expect.poll(() => sockets.count()).toBe(2);
    await page.waitForSelector(`${main}[data-state=connected][data-replay=exact]`, { timeout: 30_000 });
    await page.locator(`${main} [data-testid=terminal-screen]`).click();
    expect(await shellPid(page)).toBe(pid);
    expect(processAlive(pid)).toBe(true);
  });
});

describe("a lab server without the page's lab", () => {
  it("stops after 4404 and says so, with no further attempts; Check says so too", { timeout: 120_000 }, async () => {
    const labs = mkdtempSync(path.join(tmpdir(), "nwl-no-labs-"));
    const other = await startMainCommand(["--labs", labs, "--driver", "host"]);
    try {
      const page = await newPage();
      const sockets = countSockets(page);
      await page.goto(readerUrl(other));
      await page.locator(`${main} [data-testid=terminal-start]`).click();
      await page.waitForSelector(`${main}[data-state=failed]`, { timeout: 20_000 });
      expect(await page.locator(`${main} [data-testid=terminal-detail]`).textContent()).toContain(`does not have this page's lab ("${LAB}")`);
      await waitForScreen(page, /\[lab\] This lab server does not have this page's lab/);
      await page.waitForTimeout(5000);
      expect(sockets.count()).toBe(1);
      expect(await page.getAttribute(main, "data-state")).toBe("failed");
      expect(await serverCounts(other)).toEqual({ sessions: 0, environments: 0 });

      const checkpoint = page.locator('[data-testid=checkpoint][data-checkpoint-id="nix-layout"]');
      const started = Date.now();
      await checkpoint.locator("[data-testid=checkpoint-check]").click();
      await expect.poll(() => checkpoint.getAttribute("data-state"), { timeout: 5000 }).toBe("error");
      expect(Date.now() - started).toBeLessThan(5000);
      expect(await checkpoint.locator("[data-testid=checkpoint-output]").textContent()).toContain("does not have this page's lab");
    } finally {
      await other.stop();
      rmSync(labs, { recursive: true, force: true });
    }
  });
});
