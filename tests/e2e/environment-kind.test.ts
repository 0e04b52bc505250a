/**
 * The Part 1 page says which environment the reader is in: the kind the lab
 * server runs (its default, the sandbox here) is marked as theirs, and the
 * terminal agrees: inside, the reader is root in a user namespace of its own.
 */

import { describe, expect, it } from "vitest";
import { readerUrl, useServerAndBrowser } from "./harness.ts";

const lab = useServerAndBrowser();

describe("the page names the reader's environment", () => {
  it("marks the sandbox as the reader's, and the shell inside is root in a user namespace of its own", async () => {
    expect(lab.server.output()).toMatch(/^driver: sandbox: /m);
    const page = await lab.browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(readerUrl(lab.server));
    const kinds = page.locator("[data-testid=environment-kind]");
    await expect.poll(() => kinds.getAttribute("data-current"), { timeout: 10_000 }).toBe("sandbox");
    expect(await page.locator("[data-testid=environment-kind-sandbox]").getAttribute("data-yours")).not.toBeNull();
    expect(await page.locator("[data-testid=environment-kind-host-namespaces]").getAttribute("data-yours")).toBeNull();
    // The first Run of the page prints `id` and more: root inside.
    const run = page.locator("[data-testid=run-button]").first();
    await run.click();
    await expect.poll(() => run.getAttribute("data-state"), { timeout: 60_000 }).toBe("done");
    const screen = () => page.evaluate(() => (document.querySelector('nwl-terminal[data-name="main"]') as unknown as { bufferText(): string }).bufferText());
    await expect.poll(screen, { timeout: 10_000 }).toMatch(/uid=0\(root\)/);
    // Inside the sandbox the host's files belong to nobody: /proc/1 is the environment's own PID 1.
    await page.locator('nwl-terminal[data-name="main"] .xterm-helper-textarea').focus();
    await page.keyboard.type("stat -c 'owner=%U' /usr/bin/env; cat /proc/self/uid_map\n");
    await expect.poll(screen, { timeout: 10_000 }).toMatch(/owner=nobody[\s\S]*\b0\s+\d{7,}\s+65536/);
    await page.close();
  });
});
