/**
 * The static deploy: dist/ served by a plain static file server on its own
 * origin, with no lab server behind it. The page still reads, the terminal
 * says how to self-host; pointed at a lab server elsewhere (its access link
 * pasted under Server, saved in the browser), the same page runs commands
 * there. That server allows the static host's origin (--allow-origin).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser } from "playwright-core";
import sirv from "sirv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SITE, ensureBuilt, launchBrowser, startMainCommand, type MainCommand } from "./harness.ts";

let labServer: MainCommand;
let staticHost: Server;
let staticUrl: string;
let browser: Browser;

beforeAll(async () => {
  await ensureBuilt();
  const files = sirv(SITE, { dev: false });
  staticHost = createServer((request, response) =>
    files(request, response, () => {
      response.statusCode = 404;
      response.end("not found");
    }),
  );
  await new Promise<void>((resolve) => staticHost.listen(0, "127.0.0.1", resolve));
  staticUrl = `http://127.0.0.1:${(staticHost.address() as AddressInfo).port}/`;
  labServer = await startMainCommand(["--allow-origin", new URL(staticUrl).origin]);
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => staticHost?.close(resolve));
  await labServer?.stop();
});

describe("the site on a static host", () => {
  it("reads without a lab server, says how to self-host, and runs commands once pointed at one", { timeout: 120_000 }, async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(new URL("labs/part-1/", staticUrl).toString());

    await expect.poll(() => page.locator("h1").first().textContent()).toContain("Part 1");
    expect(await page.locator("[data-testid=checkpoint]").count()).toBeGreaterThanOrEqual(13);

    const main = page.locator('nwl-terminal[data-name="main"]');
    await main.locator("[data-testid=terminal-start]").click();
    const help = main.locator("[data-testid=terminal-help]");
    await help.waitFor({ state: "visible", timeout: 30_000 });
    expect(await help.textContent()).toContain("No lab server is answering");
    expect(await help.locator('a[href$="self-hosting/"]').count()).toBe(1);

    // The reader points this copy of the site at their own lab server: its access link, as it printed it.
    await main.locator("[data-testid=terminal-settings]").click();
    await main.locator("[data-testid=server-url-input]").fill(labServer.link);
    await main.locator("[data-testid=server-url-save]").click();
    // The address is kept and shown; the token is kept for that server, not shown in the field.
    expect(await main.locator("[data-testid=server-url-input]").inputValue()).toBe(labServer.url);
    await page.locator('[data-testid=run-button][data-command^="uname"]').first().click();
    await expect
      .poll(() => main.evaluate((element) => (element as unknown as { bufferText(): string }).bufferText()), { timeout: 30_000 })
      .toMatch(/Linux \S+ \d+\.\d+/);
    expect(await main.getAttribute("data-state")).toBe("connected");

    // Saved in the browser: a reload talks to the same server.
    await page.reload();
    expect(await page.evaluate(() => localStorage.getItem("nwl:server-url"))).toBe(labServer.url);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("answers a Check within 5 s, in words, when no lab server is there", { timeout: 60_000 }, async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(new URL("labs/part-1/", staticUrl).toString());
    const checkpoint = page.locator('[data-testid=checkpoint][data-checkpoint-id="nix-layout"]');
    const started = Date.now();
    await checkpoint.locator("[data-testid=checkpoint-check]").click();
    await expect.poll(() => checkpoint.getAttribute("data-state"), { timeout: 5000, interval: 100 }).toBe("error");
    expect(Date.now() - started).toBeLessThan(5000);
    const output = await checkpoint.locator("[data-testid=checkpoint-output]").textContent();
    // What is wrong, and what to do about it.
    expect(output).toContain(`No lab server is answering at ${staticUrl}`);
    expect(output).toContain("npm start");
    expect(output).toContain("under Server");
    expect(await checkpoint.locator("[data-testid=checkpoint-result]").textContent()).toBe("Could not check");
    await context.close();
  });

  it("answers a Run within 5 s, in words under its block, when no lab server is there", { timeout: 60_000 }, async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(new URL("labs/part-1/", staticUrl).toString());
    const run = page.locator("[data-testid=run-button]").first();
    const started = Date.now();
    await run.click();
    await expect.poll(() => run.getAttribute("data-state"), { timeout: 5000, interval: 100 }).toBe("error");
    expect(Date.now() - started).toBeLessThan(5000);
    const note = page.locator("[data-testid=run-error]").first();
    expect(await note.isVisible()).toBe(true);
    expect(await note.textContent()).toContain(`No lab server is answering at ${staticUrl}`);
    await context.close();
  });
});
