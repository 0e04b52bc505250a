/**
 * The lab pane of a lab page, in Debian's Chromium against the main command:
 * terminals beside the text on a wide screen (Run never moves the reader's
 * place), a split that resizes the terminal, "+" shells in the same
 * environment, maximize, the drawer and its key bar on a phone, ticks in the
 * table of contents, keyboard shortcuts, screen reader mode and ARIA tabs.
 */
import type { BrowserContext, Page } from "playwright-core";
import { afterEach, describe, expect, it } from "vitest";
import { readerUrl, screenText, startTerminal, terminalSelector, useServerAndBrowser, waitForScreen } from "./harness.ts";

const lab = useServerAndBrowser();
let context: BrowserContext;
afterEach(async () => {
  await context?.close();
});

async function openPart1(viewport: { width: number; height: number }): Promise<Page> {
  context = await lab.browser.newContext({ viewport });
  const page = await context.newPage();
  page.on("pageerror", (error) => console.error("page error:", error.message));
  await page.goto(readerUrl(lab.server));
  return page;
}

const terminal = terminalSelector;
const pane = "[data-testid=lab-pane]";

const sizeOf = (page: Page, name = "main") =>
  page.evaluate((selector) => (document.querySelector(selector) as unknown as { size(): { cols: number; rows: number } }).size(), terminal(name));

/** Whether an element lies wholly inside the window. */
async function inView(page: Page, selector: string): Promise<boolean> {
  return page.locator(selector).first().evaluate((element) => {
    const rect = element.getBoundingClientRect();
    return rect.width > 0 && rect.height > 0 && rect.top >= 0 && rect.left >= 0 && rect.bottom <= innerHeight && rect.right <= innerWidth;
  });
}

describe("the lab pane on a wide screen", () => {
  it("keeps the reader's place: after a Run in the last step, the pane and that step's checkpoint are in view and scrollY is unchanged", { timeout: 90_000 }, async () => {
    const page = await openPart1({ width: 1600, height: 1000 });
    const run = page.locator('nwl-run[data-check="images-removed"] [data-testid=run-button]');
    // The reader scrolls to the last step, with its command in the middle of the window.
    await run.evaluate((element) => element.scrollIntoView({ block: "center" }));
    await page.waitForTimeout(300);
    const before = await page.evaluate(() => scrollY);
    expect(before).toBeGreaterThan(5000);
    await run.click();
    await expect.poll(() => run.getAttribute("data-state"), { timeout: 60_000 }).toMatch(/done|error/);
    expect(await run.getAttribute("data-state")).toBe("done");
    await waitForScreen(page, /ctr images ls/);
    expect(await page.evaluate(() => scrollY)).toBe(before);
    expect(await inView(page, pane)).toBe(true);
    expect(await inView(page, terminal())).toBe(true);
    expect(await inView(page, '[data-testid=checkpoint][data-checkpoint-id="images-removed"]')).toBe(true);
    // The pane is beside the text, not over it: the checkpoint ends left of the pane.
    const paneBox = (await page.locator(pane).boundingBox())!;
    const checkpointBox = (await page.locator('[data-checkpoint-id="images-removed"]').boundingBox())!;
    expect(checkpointBox.x + checkpointBox.width).toBeLessThanOrEqual(paneBox.x);
    // The pane spans the window's height below the header.
    expect(paneBox.y + paneBox.height).toBeCloseTo(1000, 0);
    // Where the text declared the terminal, a note shows it in the pane.
    const note = page.locator('[data-terminal-note="main"]');
    expect(await note.textContent()).toContain("main");
  });

  it("resizes the terminal with the split (pointer and keys) and remembers the width", { timeout: 90_000 }, async () => {
    const page = await openPart1({ width: 1600, height: 1000 });
    await startTerminal(page);
    const first = await sizeOf(page);
    const divider = page.locator("[data-testid=lab-pane-divider]");
    const box = (await divider.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + 300);
    await page.mouse.down();
    await page.mouse.move(box.x - 150, box.y + 300, { steps: 5 });
    await page.mouse.up();
    await expect.poll(async () => (await sizeOf(page)).cols).toBeGreaterThan(first.cols + 10);
    const wider = await sizeOf(page);
    // The shell is told the new size too.
    await page.locator(`${terminal()} [data-testid=terminal-screen]`).click();
    await page.keyboard.type("clear; stty size");
    await page.keyboard.press("Enter");
    await waitForScreen(page, new RegExp(`^${wider.rows} ${wider.cols}\\s*$`, "m"));

    // The keyboard: Right narrows the pane.
    await divider.focus();
    for (let i = 0; i < 6; i++) await divider.press("ArrowRight");
    await expect.poll(async () => (await sizeOf(page)).cols).toBeLessThan(wider.cols - 10);
    const width = Math.round((await page.locator(pane).boundingBox())!.width);
    expect(Number(await divider.getAttribute("aria-valuenow"))).toBe(width);

    await page.reload();
    await expect.poll(async () => Math.round((await page.locator(pane).boundingBox())!.width)).toBe(width);
  });

  it("opens another shell with + in the same environment, closes it, and maximizes", { timeout: 90_000 }, async () => {
    const page = await openPart1({ width: 1600, height: 1000 });
    await startTerminal(page);
    await page.keyboard.type("echo shared-$((6*7)) > pane-shared.txt; echo WROTE");
    await page.keyboard.press("Enter");
    await waitForScreen(page, /^WROTE\s*$/m);

    await page.locator("[data-testid=lab-pane-new-terminal]").click();
    const shell = terminal("shell-2");
    await page.waitForSelector(`${shell}[data-state=connected]`, { timeout: 30_000 });
    expect(await page.getAttribute(shell, "data-environment")).toBe(await page.getAttribute(terminal(), "data-environment"));
    expect(await page.getAttribute(shell, "data-session")).not.toBe(await page.getAttribute(terminal(), "data-session"));
    const tab = page.locator('[data-testid=lab-pane-tab][data-tab="terminal:shell-2"]');
    expect(await tab.getAttribute("aria-selected")).toBe("true");
    expect(await inView(page, shell)).toBe(true);
    await page.locator(`${shell} [data-testid=terminal-screen]`).click();
    await page.keyboard.type("cat pane-shared.txt");
    await page.keyboard.press("Enter");
    await waitForScreen(page, /^shared-42\s*$/m, { name: "shell-2" });

    // Maximize: the pane covers the text; Esc (outside the terminal) restores it.
    const maximize = page.locator("[data-testid=lab-pane-maximize]");
    const normal = (await page.locator(pane).boundingBox())!;
    const cols = (await sizeOf(page, "shell-2")).cols;
    await maximize.click();
    expect(await maximize.getAttribute("aria-pressed")).toBe("true");
    await expect.poll(async () => (await page.locator(pane).boundingBox())!.x).toBe(0);
    await expect.poll(async () => (await sizeOf(page, "shell-2")).cols).toBeGreaterThan(cols);
    // Esc typed in the terminal belongs to the shell (and its programs): the pane stays maximized.
    await page.locator(`${shell} [data-testid=terminal-screen]`).click();
    await page.keyboard.press("Escape");
    expect(await maximize.getAttribute("aria-pressed")).toBe("true");
    await maximize.focus();
    await page.keyboard.press("Escape");
    await expect.poll(async () => (await page.locator(pane).boundingBox())!.x).toBe(normal.x);

    // A reload brings the reader's shell back, to the same shell.
    const session = await page.getAttribute(shell, "data-session");
    await page.reload();
    // (In a tab that is not the active one: there, not visible.)
    await page.waitForSelector(`${shell}[data-state=connected]`, { timeout: 30_000, state: "attached" });
    expect(await page.getAttribute(shell, "data-session")).toBe(session);
    expect(await page.getAttribute(shell, "data-replay")).toBe("exact");
    await waitForScreen(page, /^shared-42\s*$/m, { name: "shell-2" });

    await page.locator('[data-testid=lab-pane-tab-close]').click();
    await expect.poll(() => page.locator(shell).count()).toBe(0);
    expect(await page.locator('[data-testid=lab-pane-tab][data-tab="terminal:main"]').getAttribute("aria-selected")).toBe("true");
  });

  it("has ARIA tabs that arrow keys move between", { timeout: 60_000 }, async () => {
    const page = await openPart1({ width: 1600, height: 1000 });
    const tabs = page.locator("[role=tablist] [role=tab]");
    expect(await tabs.count()).toBe(2);
    const main = tabs.nth(0);
    const watch = tabs.nth(1);
    expect(await main.getAttribute("aria-selected")).toBe("true");
    const mainPanel = page.locator(`#${await main.getAttribute("aria-controls")}`);
    expect(await mainPanel.getAttribute("role")).toBe("tabpanel");
    expect(await mainPanel.getAttribute("aria-labelledby")).toBe(await main.getAttribute("id"));
    expect(await mainPanel.locator(terminal()).count()).toBe(1);
    await main.focus();
    await page.keyboard.press("ArrowRight");
    expect(await watch.getAttribute("aria-selected")).toBe("true");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("watch");
    expect(await main.getAttribute("tabindex")).toBe("-1");
    expect(await page.locator(terminal("watch")).isVisible()).toBe(true);
    expect(await page.locator(terminal("main")).isVisible()).toBe(false);
    await page.keyboard.press("Home");
    expect(await main.getAttribute("aria-selected")).toBe("true");
    // The note in the text shows its terminal's tab.
    await page.locator('[data-terminal-note="watch"]').click();
    expect(await watch.getAttribute("aria-selected")).toBe("true");
  });

  it("turns on xterm's screen reader mode from the pane's menu, kept after a reload, and announces a check's result", { timeout: 90_000 }, async () => {
    const page = await openPart1({ width: 1600, height: 1000 });
    await startTerminal(page);
    const accessible = () => page.locator(`${terminal()} .xterm-accessibility-tree`).count();
    expect(await accessible()).toBe(0);
    await page.locator("[data-testid=lab-pane-menu]").click();
    await page.locator("[data-testid=lab-pane-screen-reader]").check();
    await expect.poll(accessible).toBe(1);
    // The reload resumes the shell; its new xterm reads the setting.
    await page.reload();
    await page.waitForSelector(`${terminal()}[data-state=connected]`, { timeout: 30_000 });
    await expect.poll(accessible).toBe(1);
    expect(await page.locator("[data-testid=lab-pane-screen-reader]").isChecked()).toBe(true);

    // A check's result is said in the pane's live region, with the checkpoint's title and hint.
    const announcer = page.locator("[data-testid=lab-announcer]");
    expect(await announcer.getAttribute("aria-live")).toBe("polite");
    await page.locator('[data-checkpoint-id="nix-layout"] [data-testid=checkpoint-check]').click();
    await expect.poll(() => announcer.textContent(), { timeout: 60_000 }).toMatch(/^Checkpoint .+: Not yet.*Hint: .*git init/);
  });

  it("ticks a step in the table of contents when its checkpoint passes; shortcuts go to the step, run its commands and check it", { timeout: 150_000 }, async () => {
    const page = await openPart1({ width: 1600, height: 1000 });
    const tocLink = page.locator('mobile-starlight-toc a[href="#step-1-one-nix-file-per-component"]');
    expect(await tocLink.count()).toBe(1);
    expect(await tocLink.getAttribute("data-nwl-passed")).toBeNull();
    const checkpoint = page.locator('[data-checkpoint-id="nix-layout"]');

    // The reader is in the text (not a field, not the terminal) at the top: n goes to Step 1.
    await page.locator("main h1").click();
    await page.keyboard.press("n");
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe("step-1-one-nix-file-per-component");
    const place = await page.evaluate(() => scrollY);
    expect(place).toBeGreaterThan(500);

    // r runs the step's next command that has not run yet, until the checkpoint (checked after the last Run) passes.
    for (let presses = 0; (await checkpoint.getAttribute("data-state")) !== "passed"; presses++) {
      expect(presses, "r presses before nix-layout passed").toBeLessThan(4);
      await page.keyboard.press("r");
      await expect.poll(() => page.locator("[data-testid=run-button][data-state=running]").count(), { timeout: 5_000 }).toBe(0);
      await expect.poll(() => checkpoint.getAttribute("data-state"), { timeout: 60_000 }).not.toBe("checking");
      expect(await page.evaluate(() => scrollY)).toBe(place);
    }
    expect(await page.locator("[data-testid=run-button][data-state=done]").count()).toBeGreaterThanOrEqual(3);

    // The tick: on Step 1's link only, drawn before its text.
    await expect.poll(() => tocLink.getAttribute("data-nwl-passed")).toBe("");
    expect(await page.locator("mobile-starlight-toc a[data-nwl-passed]").count()).toBe(1);
    await page.locator("mobile-starlight-toc summary").click();
    const tick = await tocLink.locator("span").first().evaluate((span) => getComputedStyle(span, "::before").content);
    expect(tick).toContain("✓");
    await page.keyboard.press("Escape");

    // On a very wide screen the contents are a column between text and pane, with the same tick.
    await page.setViewportSize({ width: 1920, height: 1080 });
    const columnLink = page.locator('starlight-toc a[href="#step-1-one-nix-file-per-component"]');
    await expect.poll(() => columnLink.isVisible()).toBe(true);
    expect(await page.locator("mobile-starlight-toc summary").isVisible()).toBe(false);
    expect(await columnLink.getAttribute("data-nwl-passed")).toBe("");
    expect(await columnLink.locator("span").first().evaluate((span) => getComputedStyle(span, "::before").content)).toContain("✓");
    expect(await page.locator("starlight-toc a[data-nwl-passed]").count()).toBe(1);
    const columnBox = (await page.locator("starlight-toc").boundingBox())!;
    const paneBox = (await page.locator(pane).boundingBox())!;
    expect(columnBox.x + columnBox.width).toBeLessThanOrEqual(paneBox.x);
    await page.setViewportSize({ width: 1600, height: 1000 });

    // c checks the step's checkpoint again.
    await page.locator("#step-1-one-nix-file-per-component").focus({});
    await page.keyboard.press("c");
    await expect.poll(() => checkpoint.locator("[data-testid=checkpoint-result]").textContent(), { timeout: 30_000 }).toMatch(/^Passed \(\d/);

    // ? lists the shortcuts.
    await page.keyboard.press("?");
    expect(await page.locator("[data-testid=shortcuts-dialog]").isVisible()).toBe(true);
    await page.keyboard.press("Escape");
    expect(await page.locator("[data-testid=shortcuts-dialog]").isVisible()).toBe(false);

    // Alt+Shift+→ goes to the terminal, Alt+Shift+← from inside it back to the text.
    await page.keyboard.press("Alt+Shift+ArrowRight");
    await expect.poll(() => page.evaluate(() => document.activeElement?.classList.contains("xterm-helper-textarea"))).toBe(true);
    await page.keyboard.press("Alt+Shift+ArrowLeft");
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe("step-1-one-nix-file-per-component");
  });
});

describe("the lab pane on a phone", () => {
  it("opens the drawer on Run without moving the text; the key bar's Ctrl then c interrupts the shell", { timeout: 90_000 }, async () => {
    const page = await openPart1({ width: 390, height: 844 });
    const body = page.locator("[data-testid=lab-pane-body]");
    expect(await body.isVisible()).toBe(false);
    expect(await page.locator("[data-testid=lab-pane-toggle]").getAttribute("aria-expanded")).toBe("false");

    const run = page.locator('[data-testid=run-button][data-command^="uname"]').first();
    await run.evaluate((element) => element.scrollIntoView({ block: "start" }));
    await page.waitForTimeout(300);
    const before = await page.evaluate(() => scrollY);
    await run.click();
    await expect.poll(() => run.getAttribute("data-state"), { timeout: 30_000 }).toBe("done");
    expect(await page.evaluate(() => scrollY)).toBe(before);
    expect(await body.isVisible()).toBe(true);
    expect(await page.locator("[data-testid=lab-pane-toggle]").getAttribute("aria-expanded")).toBe("true");
    expect(await inView(page, `${terminal()} [data-testid=terminal-screen]`)).toBe(true);
    await waitForScreen(page, /Linux \S+/);
    const keybar = page.locator("[data-testid=lab-pane-keybar]");
    expect(await keybar.isVisible()).toBe(true);

    await page.locator(`${terminal()} [data-testid=terminal-screen]`).click();
    await page.keyboard.type("sleep 100");
    await page.keyboard.press("Enter");
    await page.waitForTimeout(500);
    const ctrl = page.locator("[data-testid=keybar-ctrl]");
    await ctrl.click();
    expect(await ctrl.getAttribute("aria-pressed")).toBe("true");
    // The terminal kept the focus (a phone keeps its keyboard up).
    expect(await page.evaluate(() => document.activeElement?.classList.contains("xterm-helper-textarea"))).toBe(true);
    await page.keyboard.press("c");
    expect(await ctrl.getAttribute("aria-pressed")).toBe("false");
    // If ^C did not reach the shell, sleep holds this line for 100 s.
    await page.keyboard.type("echo INTERRUPTED-$((40+2))");
    await page.keyboard.press("Enter");
    await waitForScreen(page, /^\^C[\s\S]*^INTERRUPTED-42\s*$/m, { timeoutMs: 10_000 });

    // An arrow: ↑ brings the last command back.
    await page.locator("[data-testid=keybar-up]").click();
    await page.keyboard.press("Enter");
    await waitForScreen(page, /INTERRUPTED-42[\s\S]*INTERRUPTED-42/, { timeoutMs: 10_000 });

    // The handle closes the drawer.
    await page.locator("[data-testid=lab-pane-toggle]").click();
    expect(await body.isVisible()).toBe(false);
  });
});
