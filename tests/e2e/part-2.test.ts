/**
 * Part 2 completed as a reader would, in Chromium against the main command:
 * from a fresh environment (which starts at Part 1's end state, the terminal
 * showing what the lab ran for it), every Run in page order and every
 * checkpoint checked as it comes; and after finishing Part 1 in the same
 * browser, Part 2 gets a new environment of its own that continues Part 1.
 */
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { completeByRunsAndChecks, readerUrl, useServerAndBrowser } from "./harness.ts";

const PART_2 = "labs/part-2/";

/** What a terminal of the page shows (its buffer, scrollback included). */
function screen(page: Page, name = "main"): Promise<string> {
  return page.$eval(`nwl-terminal[data-name="${name}"]`, (element) => (element as unknown as { bufferText(): string }).bufferText());
}

// One lab server (and so one reader) per describe: each starts with no environment at all.
describe("Part 2 in the browser, a reader's first page", () => {
  const lab = useServerAndBrowser();

  it("from a fresh environment: starts at Part 1's end state and passes every checkpoint by Run and Check", { timeout: 400_000 }, async () => {
    const context = await lab.browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.on("pageerror", (error) => console.error("page error:", error.message));
    await page.goto(readerUrl(lab.server, PART_2));

    const progress = page.locator("[data-testid=lab-progress]");
    const total = Number(await progress.getAttribute("data-total"));
    expect(total).toBe(7);
    const seen: string[] = [];
    await completeByRunsAndChecks(page, async (command, index) => {
      const text = await screen(page);
      // Straight after the first Run, the terminal still holds what the lab ran to reach Part 1's end state.
      if (index === 0) {
        expect(text).toContain("this lab continues from there");
        expect(text).toMatch(/Part 1: A rocky start: .Every image is removed., done for you/);
      }
      if (command.includes("import-in-set.nix")) seen.push(text.includes("undefined variable 'my-library'") ? "undefined variable" : "");
      if (command.includes('controller = \\"yes\\"') || command.includes('controller = "yes"')) {
        await expect.poll(() => screen(page), { timeout: 10_000 }).toContain("does not exist");
        const now = await screen(page);
        seen.push(now.includes("is not of type `boolean'") ? "not boolean" : "");
      }
      if (command.includes("--dial-timeout 2s")) {
        await expect.poll(() => screen(page), { timeout: 10_000 }).toContain("alert bad certificate");
        seen.push("bad certificate");
      }
      if (command.includes("rejected connection")) {
        await expect.poll(() => screen(page), { timeout: 10_000 }).toContain("client didn't provide a certificate");
        seen.push("rejected");
      }
    });
    expect(seen).toEqual(["undefined variable", "not boolean", "bad certificate", "rejected"]);
    const main = await screen(page);
    expect(main).toContain("ETCD_CLIENT_CERT_AUTH='1'");
    expect(main).toContain("modules and certificates");

    await expect.poll(() => progress.getAttribute("data-passed")).toBe(String(total));
    expect(await page.locator("[data-testid=lab-progress-percent]").textContent()).toBe("100%");
    await context.close();
  });
});

describe("Part 2 in the browser, after Part 1", () => {
  const lab = useServerAndBrowser();

  it("from Part 1's end state: a reader who finished Part 1 gets a new Part 2 environment that continues it, and the page works from there", { timeout: 900_000 }, async () => {
    const context = await lab.browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.on("pageerror", (error) => console.error("page error:", error.message));

    // Part 1, finished: its last checkpoint caught up (every earlier step solved and checked, in order).
    await page.goto(readerUrl(lab.server));
    const part1Progress = page.locator("[data-testid=lab-progress]");
    const part1Total = await part1Progress.getAttribute("data-total");
    const last = page.locator("[data-testid=checkpoint]").last();
    await last.scrollIntoViewIfNeeded();
    // Catch me up shows once the environment exists: the reader's first Run makes it.
    const firstRun = page.locator("[data-testid=run-button]").first();
    await firstRun.click();
    await expect.poll(() => firstRun.getAttribute("data-state"), { timeout: 90_000 }).toBe("done");
    const catchUp = last.locator("[data-testid=checkpoint-catch-up]");
    await expect.poll(() => catchUp.isVisible(), { timeout: 30_000 }).toBe(true);
    await catchUp.click();
    // Thirteen steps with containers, on a machine the lab shares: minutes when it is busy.
    await expect.poll(() => part1Progress.getAttribute("data-passed"), { timeout: 540_000 }).toBe(String(Number(part1Total) - 1));
    await last.locator("[data-testid=checkpoint-solve]").click();
    await expect.poll(() => part1Progress.getAttribute("data-passed"), { timeout: 60_000 }).toBe(part1Total);
    const part1Environment = await part1Progress.getAttribute("data-environment");
    expect(part1Environment).toMatch(/\S/);

    // Then Part 2, in the same browser: its own environment, new, at Part 1's end state.
    await page.goto(readerUrl(lab.server, PART_2));
    const progress = page.locator("[data-testid=lab-progress]");
    // The server renders data-passed="0" whatever the environment: read it once the page has asked the lab server.
    await expect.poll(() => progress.getAttribute("data-environment-status"), { timeout: 30_000 }).toMatch(/^(ready|none)$/);
    expect(await progress.getAttribute("data-passed")).toBe("0");
    const first = page.locator('[data-testid=checkpoint][data-checkpoint-id="part-1-etcd-stopped"]');
    await first.locator("[data-testid=checkpoint-check]").click();
    await expect.poll(() => first.getAttribute("data-state"), { timeout: 120_000 }).toBe("failed");
    // Part 1's etcd runs in it (Part 1's end state), holding the port this part needs.
    expect(await first.locator("[data-testid=checkpoint-output]").textContent()).toContain("Something still listens on port 2379");
    const part2Environment = await progress.getAttribute("data-environment");
    expect(part2Environment).toMatch(/\S/);
    expect(part2Environment).not.toBe(part1Environment);

    // The page works from there: the whole part, by its Runs and Checks.
    await completeByRunsAndChecks(page);
    await expect.poll(() => progress.getAttribute("data-passed")).toBe(await progress.getAttribute("data-total"));

    // And Part 1's progress is still Part 1's, in its own environment.
    await page.goto(readerUrl(lab.server));
    await expect.poll(() => page.getAttribute("[data-testid=lab-progress]", "data-passed")).toBe(part1Total);
    expect(await page.getAttribute("[data-testid=lab-progress]", "data-environment")).toBe(part1Environment);
    await context.close();
  });
});
