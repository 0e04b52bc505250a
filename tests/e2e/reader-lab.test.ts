/**
 * A reader who strays, in Chromium against the main command: text left at
 * the prompt, the series' attached `ctr task start`, a second tab, Solve and
 * Catch me up, a restart of the lab server. Each time the page and the
 * environment agree, and the reader can go on.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Browser, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, readerUrl, startMainCommand, type MainCommand } from "./harness.ts";

const READER = "ada";
const READER_TOKEN = "ada-token-0123456789abcdef0123";
let server: MainCommand;
let browser: Browser;
let readersDir: string;
let readersFile: string;

beforeAll(async () => {
  readersDir = mkdtempSync(path.join(tmpdir(), "nwl-readers-"));
  readersFile = path.join(readersDir, "readers");
  writeFileSync(readersFile, `${READER} ${READER_TOKEN}\n`);
  server = await startMainCommand(["--readers-file", readersFile]);
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  rmSync(readersDir, { recursive: true, force: true });
});

const checkpoint = (page: Page, id: string) => page.locator(`[data-testid=checkpoint][data-checkpoint-id="${id}"]`);
const runFor = (page: Page, id: string) => page.locator(`nwl-run[data-check="${id}"] [data-testid=run-button]`).first();
const mainTerminal = (page: Page) => page.locator('nwl-terminal[data-name="main"]');
const screen = (terminal: Locator) => terminal.evaluate((element) => (element as unknown as { bufferText(): string }).bufferText());

async function stateOf(target: Locator, timeout: number, not: RegExp = /checking|solving|unchecked/): Promise<string> {
  await expect.poll(() => target.getAttribute("data-state"), { timeout, interval: 200 }).not.toMatch(not);
  return (await target.getAttribute("data-state")) ?? "";
}

/** Catch me up to a checkpoint, as the reader clicks it; every earlier one then passes. */
async function catchUpTo(page: Page, id: string): Promise<void> {
  await checkpoint(page, id).locator("[data-testid=checkpoint-catch-up]").click();
  await expect.poll(() => checkpoint(page, id).locator("[data-testid=checkpoint-catch-up]").isHidden(), { timeout: 120_000, interval: 250 }).toBe(true);
}

async function freshPage(token: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.on("pageerror", (error) => console.error("page error:", error.message));
  await page.goto(readerUrl({ url: server.url, token }));
  return page;
}

/** A fresh environment for the test: the reader's Reset environment. */
async function resetEnvironment(page: Page): Promise<void> {
  const progress = page.locator("[data-testid=lab-progress]");
  await expect.poll(() => progress.getAttribute("data-environment-status"), { timeout: 30_000 }).toMatch(/none|ready/);
  if ((await progress.getAttribute("data-environment-status")) === "none") return;
  page.once("dialog", (dialog) => void dialog.accept());
  await page.locator("[data-testid=lab-progress-reset]").click();
  await expect.poll(() => progress.getAttribute("data-passed"), { timeout: 60_000 }).toBe("0");
}

describe("a reader who strays", () => {
  it("Run clears what was left typed at the prompt, and its check passes", { timeout: 240_000 }, async () => {
    const page = await freshPage(server.token);
    await page.locator("[data-testid=lab-progress-reset]").waitFor();
    await catchUpTo(page, "image-pulled");
    const terminal = mainTerminal(page);
    await terminal.locator("[data-testid=terminal-start]").click();
    await expect.poll(() => terminal.getAttribute("data-state"), { timeout: 60_000 }).toBe("connected");
    await expect.poll(() => screen(terminal), { timeout: 30_000 }).toMatch(/[#$]$/);
    await terminal.locator(".xterm-helper-textarea").focus();
    await page.keyboard.type("echo hi");
    await runFor(page, "image-pulled").click();
    expect(await stateOf(checkpoint(page, "image-pulled"), 90_000)).toBe("passed");
    // What ran is the block alone: bash never saw "echo hi" in front of it.
    expect(await screen(terminal)).not.toMatch(/echo hictr/);
    await page.context().close();
  });

  it("gets out of the series' attached `ctr task start test` from the page, and goes on", { timeout: 240_000 }, async () => {
    const page = await freshPage(server.token);
    await resetEnvironment(page);
    await catchUpTo(page, "task-running");
    const terminal = mainTerminal(page);
    await terminal.locator("[data-testid=terminal-start]").click();
    await expect.poll(() => terminal.getAttribute("data-state"), { timeout: 60_000 }).toBe("connected");
    await expect.poll(() => screen(terminal), { timeout: 30_000 }).toMatch(/[#$]$/);
    await terminal.locator(".xterm-helper-textarea").focus();
    // As the series types it: no -d. sleep is PID 1 of the container and ignores Ctrl+C.
    await page.keyboard.type("ctr task start test");
    await page.keyboard.press("Enter");
    await expect.poll(() => terminal.getAttribute("data-busy"), { timeout: 15_000 }).toBe("true");
    // A program that holds the terminal for a while gets a Stop in the terminal's bar, unasked.
    await terminal.locator("[data-testid=terminal-stop-running]").waitFor({ state: "visible", timeout: 10_000 });
    await page.keyboard.press("Control+C");
    await page.waitForTimeout(1000);
    expect(await terminal.getAttribute("data-busy"), "Ctrl+C does not end the attached task").toBe("true");
    const busy = terminal.locator("[data-testid=terminal-busy]");
    // A Run now would type into ctr: it is refused, and the page says what runs and how out.
    await runFor(page, "task-running").click();
    await busy.waitFor({ state: "visible", timeout: 10_000 });
    expect(await busy.textContent()).toContain("ctr task start test");
    expect(await page.locator("[data-testid=run-error]").first().textContent()).toMatch(/busy with ctr task start test/);
    await busy.locator("[data-testid=terminal-stop]").click();
    await busy.waitFor({ state: "hidden", timeout: 15_000 });
    // The shell is back, and the task the series started still runs: the step's check passes.
    await terminal.locator(".xterm-helper-textarea").focus();
    await page.keyboard.type("echo SHELL-$((20+22))");
    await page.keyboard.press("Enter");
    await expect.poll(() => screen(terminal), { timeout: 10_000 }).toMatch(/^SHELL-42$/m);
    await checkpoint(page, "task-running").locator("[data-testid=checkpoint-check]").click();
    expect(await stateOf(checkpoint(page, "task-running"), 60_000)).toBe("passed");
    await page.context().close();
  });

  it("shares one environment and its progress between two tabs, live", { timeout: 180_000 }, async () => {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const first = await context.newPage();
    await first.goto(readerUrl(server));
    await resetEnvironment(first);
    const second = await context.newPage();
    await second.goto(new URL("labs/part-1/", server.url).toString());
    await expect.poll(() => second.locator("[data-testid=lab-progress]").getAttribute("data-environment"), { timeout: 30_000 }).toBe(
      await first.locator("[data-testid=lab-progress]").getAttribute("data-environment"),
    );
    // Solve in one tab: the lab's own solve, then its check; the other tab shows it without a reload.
    await checkpoint(first, "nix-layout").locator("[data-testid=checkpoint-solve]").click();
    expect(await stateOf(checkpoint(first, "nix-layout"), 60_000)).toBe("passed");
    await expect.poll(() => checkpoint(second, "nix-layout").getAttribute("data-state"), { timeout: 15_000 }).toBe("passed");
    await expect.poll(() => second.locator("[data-testid=lab-progress]").getAttribute("data-passed"), { timeout: 15_000 }).toBe("1");
    // Both tabs' terminals are shells of that one environment.
    for (const page of [first, second]) {
      await mainTerminal(page).locator("[data-testid=terminal-start]").click();
      await expect.poll(() => mainTerminal(page).getAttribute("data-environment"), { timeout: 60_000 }).toMatch(/\S/);
    }
    expect(await mainTerminal(second).getAttribute("data-environment")).toBe(await mainTerminal(first).getAttribute("data-environment"));
    // A check in the second tab never flips the first tab's progress back.
    // The first tab is told of the second tab's check and asks the server for the environment again: wait for that answer.
    const firstHeard = first.waitForResponse(
      (response) => response.request().method() === "GET" && /\/api\/labs\/[^/]+\/environment$/.test(new URL(response.url()).pathname) && response.ok(),
      { timeout: 60_000 },
    );
    await checkpoint(second, "nix-layout").locator("[data-testid=checkpoint-check]").click();
    expect(await stateOf(checkpoint(second, "nix-layout"), 60_000)).toBe("passed");
    await firstHeard;
    await first.waitForTimeout(200); // the store applies the answer and the progress element renders it
    expect(await first.locator("[data-testid=lab-progress]").getAttribute("data-passed")).toBe("1");
    await context.close();
  });
});

describe("a restart of the lab server", () => {
  it("leaves a new environment that the page says is new, and Catch me up brings the reader back to where they were", { timeout: 300_000 }, async () => {
    const page = await freshPage(READER_TOKEN);
    await catchUpTo(page, "cni-fixed");
    const progress = page.locator("[data-testid=lab-progress]");
    expect(await progress.getAttribute("data-passed")).toBe("5");
    const terminal = mainTerminal(page);
    await terminal.locator("[data-testid=terminal-start]").click();
    await expect.poll(() => terminal.getAttribute("data-state"), { timeout: 60_000 }).toBe("connected");
    const before = await terminal.getAttribute("data-environment");

    const port = new URL(server.url).port;
    await server.stop();
    server = await startMainCommand(["--readers-file", readersFile, "--port", port]);
    expect(new URL(server.url).port).toBe(port);

    // The terminal comes back in the reader's new environment, on a cleared screen that says why.
    await expect.poll(() => terminal.getAttribute("data-environment"), { timeout: 60_000 }).not.toBe(before);
    await expect.poll(() => screen(terminal), { timeout: 10_000 }).toMatch(/no longer had your previous shell/);
    const previous = page.locator("[data-testid=lab-previous]");
    await previous.waitFor({ state: "visible", timeout: 30_000 });
    expect(await previous.textContent()).toMatch(/new: the one where you had passed 5 of \d+ checkpoints has ended/);
    expect(await progress.getAttribute("data-passed")).toBe("0");
    await page.locator("[data-testid=lab-catch-up-previous]").click();
    await expect.poll(() => progress.getAttribute("data-passed"), { timeout: 180_000, interval: 500 }).toBe("5");
    await previous.waitFor({ state: "hidden", timeout: 10_000 });
    await page.context().close();
  });
});

describe("a lab server that stops", () => {
  it("fails Run and Check within seconds, in words saying what to do", { timeout: 120_000 }, async () => {
    const page = await freshPage(server.token);
    const terminal = mainTerminal(page);
    await terminal.locator("[data-testid=terminal-start]").click();
    await expect.poll(() => terminal.getAttribute("data-state"), { timeout: 60_000 }).toBe("connected");
    await server.stop();

    const check = checkpoint(page, "nix-layout");
    let started = Date.now();
    await check.locator("[data-testid=checkpoint-check]").click();
    expect(await stateOf(check, 5000, /checking|unchecked/)).toBe("error");
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await check.locator("[data-testid=checkpoint-output]").textContent()).toMatch(/No lab server is answering|did not answer/);

    const run = page.locator("[data-testid=run-button]").first();
    started = Date.now();
    await run.click();
    await expect.poll(() => run.getAttribute("data-state"), { timeout: 8000, interval: 100 }).toBe("error");
    expect(Date.now() - started).toBeLessThan(8000);
    expect(await page.locator("[data-testid=run-error]").first().textContent()).toMatch(/No lab server is answering/);
    await page.context().close();
  });
});
