/**
 * The pages run under their Content-Security-Policy: every page of the site
 * loads with no violation reported by Chromium, and a lab page's terminal
 * (its script chunks, its WebSocket) works under it. A policy that blocked
 * the page's own scripts would fail here; so would an inline script that the
 * policy does not list.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, readerUrl, startMainCommand, type MainCommand } from "./harness.ts";

let server: MainCommand;
let browser: Browser;

beforeAll(async () => {
  server = await startMainCommand(["--driver", "host"]);
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** Every CSP violation the page reports, from the moment it starts loading. */
async function watchViolations(page: Page): Promise<string[]> {
  const violations: string[] = [];
  await page.exposeFunction("__reportViolation", (text: string) => violations.push(text));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) => {
      (window as unknown as { __reportViolation(text: string): void }).__reportViolation(`${event.violatedDirective} blocked ${event.blockedURI || "inline"} (${event.sourceFile}:${event.lineNumber})`);
    });
  });
  page.on("console", (message) => {
    if (message.type() === "error" && /Content Security Policy/.test(message.text())) violations.push(message.text());
  });
  return violations;
}

describe("security headers in the browser", () => {
  it("serves every page with a policy and nosniff/no-referrer, and no page reports a violation", async () => {
    const page = await browser.newPage();
    const violations = await watchViolations(page);
    for (const path of ["", "labs/part-1/", "self-hosting/", "benchmarks/"]) {
      const response = await page.goto(readerUrl(server, path));
      expect(response?.status(), path).toBe(200);
      const headers = response!.headers();
      expect(headers["content-security-policy"], path).toMatch(/script-src 'self' 'wasm-unsafe-eval' 'sha256-/);
      expect(headers["content-security-policy"], path).toContain("frame-ancestors 'self'");
      expect(headers["x-content-type-options"], path).toBe("nosniff");
      expect(headers["referrer-policy"], path).toBe("no-referrer");
      await page.waitForLoadState("networkidle");
      // A reload revalidates (If-None-Match → 304): the 304 must carry the page's policy, not the non-page one.
      const revalidated = await fetch(new URL(path, server.url), { headers: { "if-none-match": headers.etag! } });
      expect(revalidated.status, `${path} revalidated`).toBe(304);
      expect(revalidated.headers.get("content-security-policy"), `${path} revalidated`).toBe(headers["content-security-policy"]);
      await page.reload();
      await page.waitForLoadState("networkidle");
    }
    expect(violations).toEqual([]);
    await page.close();
  });

  it("runs a lab page's terminal under the policy: Run types into a live shell over the WebSocket", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const violations = await watchViolations(page);
    await page.goto(readerUrl(server));
    const run = page.locator("[data-testid=run-button]").first();
    await run.click();
    await expect.poll(() => run.getAttribute("data-state"), { timeout: 60_000 }).toBe("done");
    expect(violations).toEqual([]);
    await page.close();
  });
});
