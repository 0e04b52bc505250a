/**
 * A flood the page cannot draw as fast as the program prints it, in Debian's
 * Chromium against the running main command: the page skips ahead to the
 * latest screen (server/terminal-session.ts) and ends with the flood's last
 * screen and 1,000 lines of scrollback, none missing; Ctrl+C stops a flood
 * at once.
 */
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { metricTotal, readerUrl, screenText, startTerminal, terminalSelector, useServerAndBrowser, waitForScreen } from "./harness.ts";

const lab = useServerAndBrowser();
const TERMINAL = terminalSelector();

async function openTerminal(): Promise<Page> {
  const context = await lab.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await page.goto(readerUrl(lab.server));
  await startTerminal(page);
  await waitForScreen(page, /[$#]\s*$/);
  return page;
}

/** The flood's tail as the terminal holds it: the numbers before SEQ-DONE-8, in the order they stand. */
async function floodTail(page: Page): Promise<number[]> {
  const lines = (await screenText(page)).split("\n").map((line) => line.trim());
  const done = lines.lastIndexOf("SEQ-DONE-8");
  let first = done;
  while (first > 0 && /^\d+$/.test(lines[first - 1]!)) first--;
  return lines.slice(first, done).map(Number);
}

describe("a flood the page cannot keep up with", () => {
  it("is skipped ahead to its last screen, with 1,000 lines of scrollback and none missing", async () => {
    const page = await openTerminal();
    const skippedBefore = await metricTotal(lab.server, "nwl_terminal_skipped_bytes_total");
    const skipsBefore = await metricTotal(lab.server, "nwl_terminal_repaints_total", 'reason="skip"');
    // The bar says when the screen shows the latest rather than every line: watched from now on.
    await page.evaluate((selector) => {
      const note = document.querySelector(`${selector} [data-testid=terminal-skipping]`)!;
      const seen = ((window as unknown as { skippingShown: boolean }).skippingShown = false);
      new MutationObserver(() => {
        if (!(note as HTMLElement).hidden) (window as unknown as { skippingShown: boolean }).skippingShown = true;
      }).observe(note, { attributes: true, attributeFilter: ["hidden"] });
      return seen;
    }, TERMINAL);
    // 22.9 MB of output: far more than the page draws in the time seq prints it.
    await page.keyboard.type("seq 1 3000000; echo SEQ-DONE-$((2*4))");
    await page.keyboard.press("Enter");
    await waitForScreen(page, /^SEQ-DONE-8$/m, { timeoutMs: 60_000 });
    // The settling repaint (with the scrollback) follows the last screen of the flood.
    await expect.poll(async () => (await floodTail(page)).length, { timeout: 5000 }).toBeGreaterThanOrEqual(990);
    const numbers = await floodTail(page);
    expect(numbers.at(-1)).toBe(3_000_000);
    expect(numbers.length, "lines of the flood the reader can scroll back to").toBeGreaterThanOrEqual(990);
    numbers.forEach((n, i) => i > 0 && expect(n, `line ${i} of the flood's tail`).toBe(numbers[i - 1]! + 1));
    // The server skipped most of it: it counts what went as repaints instead of bytes.
    expect(await metricTotal(lab.server, "nwl_terminal_repaints_total", 'reason="skip"')).toBeGreaterThan(skipsBefore);
    expect((await metricTotal(lab.server, "nwl_terminal_skipped_bytes_total")) - skippedBefore).toBeGreaterThan(5_000_000);
    expect(await page.evaluate(() => (window as unknown as { skippingShown: boolean }).skippingShown), "the bar said it skipped ahead").toBe(true);
    await expect.poll(() => page.locator(`${TERMINAL} [data-testid=terminal-skipping]`).isHidden(), { timeout: 5000 }).toBe(true);
    // Live again: what is typed now comes back as the shell's echo.
    await page.keyboard.type("echo AFTER-$((6*7))");
    await page.keyboard.press("Enter");
    await waitForScreen(page, /^AFTER-42$/m, { timeoutMs: 10_000 });
    await page.context().close();
  });

  it("stops at once on Ctrl+C, and the prompt comes back", async () => {
    const page = await openTerminal();
    await page.keyboard.type("yes flood-line");
    await page.keyboard.press("Enter");
    await waitForScreen(page, /flood-line\nflood-line/, { timeoutMs: 10_000 });
    await page.waitForTimeout(1000);
    const stopped = Date.now();
    await page.keyboard.press("Control+C");
    await page.keyboard.type("echo STOPPED-$((3*3))");
    await page.keyboard.press("Enter");
    await waitForScreen(page, /^STOPPED-9$/m, { timeoutMs: 10_000 });
    expect(Date.now() - stopped).toBeLessThan(3000);
    await page.context().close();
  });
});
