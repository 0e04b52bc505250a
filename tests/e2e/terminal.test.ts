/**
 * A reader's terminal, in Debian's Chromium against the running main command:
 * Run, resize, paste, close, reconnect and reload, each checked against the
 * shell on the server.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, readerUrl, screenText, startMainCommand, startTcpProxy, startTerminal, terminalSelector, type MainCommand, themeBackgrounds, waitForScreen } from "./harness.ts";
import { hostPid, PROCESS_IDENTITY, processAlive, waitUntil } from "../../server/testing/lab-server.ts";

let server: MainCommand;
let browser: Browser;
let context: BrowserContext;

beforeAll(async () => {
  server = await startMainCommand(["--grace-ms", "60000"]);
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});
afterEach(async () => {
  await context?.close();
});

async function openPart1(viewport = { width: 1280, height: 900 }, base = server.url): Promise<Page> {
  context = await browser.newContext({ viewport });
  const origin = new URL(base).origin;
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin });
  const page = await context.newPage();
  page.on("pageerror", (error) => console.error("page error:", error.message));
  // As the reader opens the link the server printed: with the token (the page keeps it, and drops it from the address).
  await page.goto(readerUrl(server, "labs/part-1/", base));
  return page;
}

const terminal = terminalSelector;

/** Types a command the way a reader does, and returns the match of `pattern` in what follows. */
async function command(page: Page, text: string, pattern: RegExp): Promise<RegExpMatchArray> {
  await page.keyboard.type(text);
  await page.keyboard.press("Enter");
  return waitForScreen(page, pattern);
}

/** The shell's pid on the host (in a sandbox, $$ is its pid in the environment's PID namespace). */
async function shellPid(page: Page): Promise<number> {
  const tag = Math.random().toString(36).slice(2, 8);
  const match = await command(page, `echo ${tag}-PID=${PROCESS_IDENTITY("$$")}`, new RegExp(`${tag}-PID=(\\d+:\\d+)`));
  return hostPid(match[1]!);
}

describe("the Part 1 page's terminal", () => {
  it("ships no xterm before the reader starts a terminal, and loads it on start", async () => {
    const page = await openPart1();
    const scripts = async () => page.evaluate(() => performance.getEntriesByType("resource").map((entry) => entry.name));
    const hasXtermCss = () => page.evaluate(() => [...document.styleSheets].some((sheet) => [...sheet.cssRules].some((rule) => rule.cssText.includes(".xterm-helper-textarea"))));
    expect(await hasXtermCss()).toBe(false);
    const before = await scripts();
    // No script the page loaded holds xterm's code (its helper textarea class is in every build).
    for (const url of before.filter((name) => name.endsWith(".js"))) {
      const source = await (await fetch(url)).text();
      expect(source.includes("xterm-helper-textarea"), `${url} carries xterm`).toBe(false);
    }
    expect(await page.evaluate(() => "Terminal" in window || document.querySelector(".xterm") !== null)).toBe(false);
    await startTerminal(page);
    const after = await scripts();
    expect(after.length).toBeGreaterThan(before.length);
    expect(await hasXtermCss()).toBe(true);
    expect(await page.locator(`${terminal()} .xterm`).count()).toBe(1);
  });

  it("runs a command from a Run button and shows its output", async () => {
    const page = await openPart1();
    // The terminal starts by itself when Run is clicked.
    const run = page.locator('[data-testid=run-button][data-command^="uname"]').first();
    const started = performance.now();
    await run.click();
    await waitForScreen(page, /Linux \S+ \d+\.\d+/);
    console.log(`Run click to output (terminal not started): ${Math.round(performance.now() - started)} ms`);
    // A Run button is busy until its command has finished; then it runs again.
    await page.waitForSelector('[data-testid=run-button][data-command^="uname"][data-state=done]');
    const again = performance.now();
    await page.locator('[data-testid=run-button][data-command^="uname"]').first().click();
    await waitForScreen(page, /Linux[\s\S]*Linux \S+ \d+\.\d+/);
    console.log(`Run click to output (terminal running): ${Math.round(performance.now() - again)} ms`);
  });

  it("follows the window's size: stty size matches the terminal after a resize", async () => {
    const page = await openPart1({ width: 1280, height: 900 });
    await startTerminal(page);
    const sizeOf = () => page.evaluate((selector) => (document.querySelector(selector) as unknown as { size(): { cols: number; rows: number } }).size(), terminal());
    const first = await sizeOf();
    await command(page, "stty size", new RegExp(`^${first.rows} ${first.cols}\\s*$`, "m"));
    await page.setViewportSize({ width: 760, height: 900 });
    await page.waitForFunction(
      ([selector, cols]) => (document.querySelector(selector as string) as unknown as { size(): { cols: number } }).size().cols !== cols,
      [terminal(), first.cols] as const,
    );
    const second = await sizeOf();
    // (Narrower windows hide Starlight's sidebar, so the terminal may even grow.)
    expect(second.cols).not.toBe(first.cols);
    await command(page, "clear; stty size", new RegExp(`^${second.rows} ${second.cols}\\s*$`, "m"));
  });

  it("pastes UTF-8 and several lines exactly", async () => {
    const page = await openPart1();
    await startTerminal(page);
    await command(page, "cat > pasted.txt", /cat > pasted.txt/);
    const pasted = "héllo ✓ 世界\nsecond line\n";
    await page.evaluate((text) => navigator.clipboard.writeText(text), pasted);
    await page.keyboard.press("Control+Shift+V");
    await page.waitForTimeout(300);
    await page.keyboard.press("Control+D");
    const hex = Buffer.from(pasted, "utf8").toString("hex");
    await command(page, "od -An -tx1 pasted.txt | tr -d ' \\n'; echo", new RegExp(hex));
  });

  it("follows Starlight's light/dark switch", async () => {
    const page = await openPart1();
    await startTerminal(page);
    const background = () => page.locator(`${terminal()} .xterm-scrollable-element`).first().evaluate((element) => getComputedStyle(element).backgroundColor);
    const { dark, light } = await themeBackgrounds(page, background);
    // Light means a light background: every channel well above the dark one.
    const channels = (color: string) => (color.match(/\d+/g) ?? []).slice(0, 3).map(Number);
    expect(Math.min(...channels(light))).toBeGreaterThan(Math.max(...channels(dark)));
  });

  it("makes links in the output clickable", async () => {
    const page = await openPart1();
    await startTerminal(page);
    await command(page, "echo see https://example.invalid/docs", /see https:\/\/example\.invalid\/docs\s*$/m);
    await page.context().route("https://example.invalid/**", (route) => route.fulfill({ body: "opened" }));
    // The web-links addon underlines a link on hover and opens it on click.
    const popup = page.context().waitForEvent("page", { timeout: 10_000 });
    const box = (await page.locator(`${terminal()} .xterm-screen`).boundingBox())!;
    const cell = await page.evaluate((selector) => {
      const element = document.querySelector(selector) as unknown as { size(): { cols: number; rows: number } };
      return element.size();
    }, terminal());
    const text = await screenText(page);
    const lines = text.split("\n");
    const row = lines.findIndex((line) => line.startsWith("see https://example.invalid"));
    const column = "see ".length + 5;
    const x = box.x + ((column + 0.5) * box.width) / cell.cols;
    const y = box.y + ((row + 0.5) * box.height) / cell.rows;
    await page.mouse.move(x, y);
    await page.mouse.move(x + 2, y);
    await page.mouse.click(x + 2, y);
    const opened = await popup;
    await opened.waitForLoadState();
    expect(opened.url()).toBe("https://example.invalid/docs");
  });

  it("ends the shell and its children when the page is closed", async () => {
    const page = await openPart1();
    await startTerminal(page);
    const pid = await shellPid(page);
    const child = hostPid((await command(page, `sleep 600 & echo CHILD=${PROCESS_IDENTITY("$!")}`, /CHILD=(\d+:\d+)/))[1]!);
    expect(processAlive(pid) && processAlive(child)).toBe(true);
    await page.close({ runBeforeUnload: true });
    // The page said it was leaving: the shell is kept only for a reload's moment (10 s), then ends.
    await waitUntil(() => !processAlive(pid) && !processAlive(child), 25_000, "the shell and its child to end after the page closed");
  });
});

describe("resume", () => {
  it("reattaches a reload to the same shell, with the screen back", async () => {
    const page = await openPart1();
    await startTerminal(page);
    const pid = await shellPid(page);
    await command(page, "echo BEFORE-RELOAD-$((40+2))", /BEFORE-RELOAD-42/);
    await page.reload();
    await page.waitForSelector(`${terminal()}[data-state=connected]`, { timeout: 30_000 });
    await waitForScreen(page, /BEFORE-RELOAD-42/);
    expect(await page.getAttribute(terminal(), "data-replay")).toBe("exact");
    await page.locator(`${terminal()} [data-testid=terminal-screen]`).click();
    expect(await shellPid(page)).toBe(pid);
  });

  it("repaints the screen after a reload when the output outgrew the replay buffer, and says so", async () => {
    const page = await openPart1();
    await startTerminal(page);
    const pid = await shellPid(page);
    // About 3 MB, more than the 2 MiB replay buffer.
    await command(page, "seq 1 420000; echo SEQ-END-$((6*7))", /SEQ-END-42/);
    await page.reload();
    await page.waitForSelector(`${terminal()}[data-state=connected]`, { timeout: 30_000 });
    expect(await page.getAttribute(terminal(), "data-replay")).toBe("repaint");
    await waitForScreen(page, /419999\s+420000\s+SEQ-END-42/);
    expect(await page.locator(`${terminal()} [data-testid=terminal-detail]`).textContent()).toContain("screen was restored");
    await page.locator(`${terminal()} [data-testid=terminal-screen]`).click();
    expect(await shellPid(page)).toBe(pid);
  });

  it("reconnects by itself after the network drops, losing and doubling nothing", async () => {
    const proxy = await startTcpProxy(server.url);
    const page = await openPart1(undefined, proxy.url);
    await startTerminal(page);
    await command(page, "clear; echo READY", /READY/);
    // Output keeps coming while the connection is down; it must all arrive, once.
    await page.keyboard.type("for i in $(seq 1 30); do echo line-$i; sleep 0.1; done; echo LOOP-END");
    await page.keyboard.press("Enter");
    await waitForScreen(page, /line-3\b/);
    const outage = proxy.outage(2000);
    await page.waitForSelector(`${terminal()}[data-state=reconnecting]`, { timeout: 20_000 });
    await outage;
    await page.waitForSelector(`${terminal()}[data-state=connected]`, { timeout: 30_000 });
    await waitForScreen(page, /LOOP-END/);
    const lines = (await screenText(page)).split("\n").map((line) => line.trim()).filter((line) => /^line-\d+$/.test(line));
    // (How it resumed says where a gap would come from: "exact" replays every byte, "repaint" redraws the screen only.)
    expect(lines, `resumed by ${await page.getAttribute(terminal(), "data-replay")}`).toEqual(Array.from({ length: 30 }, (_, i) => `line-${i + 1}`));
    await proxy.close();
  });
});
