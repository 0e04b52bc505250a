/**
 * Part 1 completed as a reader would, in Chromium against the main command
 * (host-namespaces driver, embedded containerd, offline registry): every Run
 * in page order, every checkpoint checked as it comes, all passing; progress
 * at 100% and still there after a reload.
 */
import { describe, expect, it } from "vitest";
import { completeByRunsAndChecks, readerUrl, useServerAndBrowser } from "./harness.ts";

const lab = useServerAndBrowser();
/** Whether the first test completed Part 1 in this file's server (the second also runs on its own). */
let completedByFirstTest = false;

describe("Part 1 in the browser", () => {
  it("passes every checkpoint by Run and Check, and keeps the progress across a reload", { timeout: 300_000 }, async () => {
    const context = await lab.browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.on("pageerror", (error) => console.error("page error:", error.message));
    await page.goto(readerUrl(lab.server));

    const total = Number(await page.getAttribute("[data-testid=lab-progress]", "data-total"));
    expect(total).toBeGreaterThanOrEqual(13);
    const timings: string[] = [];
    await completeByRunsAndChecks(page, undefined, (id, ms) => timings.push(`${id} ${ms} ms`));
    console.log(`Check clicks: ${timings.join(", ") || "none (every check ran after its Run)"}`);

    // What the reader saw: the series' failure, the echo, and the watch terminal's task list.
    const screen = (name: string) =>
      page.$eval(`nwl-terminal[data-name="${name}"]`, (element) => (element as unknown as { bufferText(): string }).bufferText());
    const main = await screen("main");
    expect(main).toContain("no network config found in /etc/cni/net.d");
    expect(main).toMatch(/^foo\s*$/m);
    expect(main).toContain("inet 127.0.0.1");
    expect(await screen("watch")).toContain("TASK");

    const progress = page.locator("[data-testid=lab-progress]");
    await expect.poll(() => progress.getAttribute("data-passed")).toBe(String(total));
    expect(await page.locator("[data-testid=lab-progress-percent]").textContent()).toBe("100%");

    await page.reload();
    await expect.poll(() => page.getAttribute("[data-testid=lab-progress]", "data-passed")).toBe(String(total));
    expect(await page.locator("[data-testid=lab-progress-percent]").textContent()).toBe("100%");
    expect(await page.locator("[data-testid=checkpoint][data-state=passed]").count()).toBe(total);
    // The series' progress, on every page: the home page's links to Part 1 say it is done.
    await page.goto(lab.server.url);
    const done = page.locator(`a[href$="/labs/part-1/"][data-nwl-progress="${total}/${total}"][data-nwl-complete="true"]`);
    await expect.poll(() => done.count(), { timeout: 10_000 }).toBeGreaterThan(0);
    await context.close();
    completedByFirstTest = true;
  });

  it("shows a failed check's output and hint, then passes after the step; a reset of the environment forgets the progress", { timeout: 120_000 }, async () => {
    const context = await lab.browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(readerUrl(lab.server));
    const checkpoint = page.locator('[data-testid=checkpoint][data-checkpoint-id="nix-layout"]');
    const progress = page.locator("[data-testid=lab-progress]");
    await expect.poll(() => progress.getAttribute("data-environment-status"), { timeout: 30_000 }).toMatch(/^(ready|none)$/);
    // After the test above, another browser context of the same reader finds the environment it completed.
    expect(await progress.getAttribute("data-environment-status")).toBe(completedByFirstTest ? "ready" : "none");
    if (completedByFirstTest) {
      // The reader's environment for the lab is the one the test above completed (one per reader and lab,
      // in every tab): it shows as passed, until the reader resets the environment.
      await expect.poll(() => progress.getAttribute("data-passed")).not.toBe("0");
      expect(await checkpoint.getAttribute("data-state")).toBe("passed");
      page.once("dialog", (dialog) => void dialog.accept());
      await page.locator("[data-testid=lab-progress-reset]").click();
    }
    // Disposing an environment (its processes, containers and files) takes a moment. (Run alone, there was none.)
    await expect.poll(() => progress.getAttribute("data-passed"), { timeout: 30_000 }).toBe("0");
    await expect.poll(() => checkpoint.getAttribute("data-state")).toBe("unchecked");

    // Checked before the step: the server runs the lab's check and it fails, saying why.
    await checkpoint.locator("[data-testid=checkpoint-check]").click();
    await expect.poll(() => checkpoint.getAttribute("data-state"), { timeout: 60_000 }).toBe("failed");
    expect(await checkpoint.locator("[data-testid=checkpoint-output]").textContent()).toContain("Missing: k8s/default.nix");
    const hint = checkpoint.locator("[data-testid=checkpoint-hint]");
    expect(await hint.isVisible()).toBe(true);
    expect(await hint.textContent()).toContain("git init");

    // The step's commands, by their Run buttons, up to the one that checks it.
    const runs = page.locator("[data-testid=run-button]");
    for (let index = 0; (await checkpoint.getAttribute("data-state")) !== "passed"; index++) {
      const run = runs.nth(index);
      await run.click();
      await expect.poll(() => run.getAttribute("data-state"), { timeout: 60_000 }).toBe("done");
      await expect.poll(() => checkpoint.getAttribute("data-state"), { timeout: 30_000 }).not.toBe("checking");
      expect(index, "Runs before the nix-layout checkpoint").toBeLessThan(6);
    }
    expect(await hint.isVisible()).toBe(false);
    await expect.poll(() => progress.getAttribute("data-passed")).toBe("1");

    page.once("dialog", (dialog) => void dialog.accept());
    await page.locator("[data-testid=lab-progress-reset]").click();
    await expect.poll(() => progress.getAttribute("data-passed"), { timeout: 30_000 }).toBe("0");
    expect(await checkpoint.getAttribute("data-state")).toBe("unchecked");
    await page.reload();
    await expect.poll(() => page.getAttribute("[data-testid=lab-progress]", "data-environment")).toMatch(/\S/);
    expect(await page.getAttribute("[data-testid=lab-progress]", "data-passed")).toBe("0");
    await context.close();
  });
});
