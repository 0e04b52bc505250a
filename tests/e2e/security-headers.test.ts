/**
 * The pages run under their Content-Security-Policy: every page of the site
 * loads with no violation reported by Chromium, and a lab page's terminal
 * (its script chunks, its WebSocket) works under it. A policy that blocked
 * the page's own scripts would fail here; so would an inline script that the
 * policy does not list.
 */

import { describe, expect, it } from "vitest";
import { readerUrl, useServerAndBrowser, watchViolations } from "./harness.ts";

const lab = useServerAndBrowser(["--driver", "host"]);

describe("security headers in the browser", () => {
  it("serves every page with a policy and nosniff/no-referrer, and no page reports a violation", async () => {
    const page = await lab.browser.newPage();
    const violations = await watchViolations(page);
    for (const path of ["", "labs/part-1/", "self-hosting/", "benchmarks/"]) {
      const response = await page.goto(readerUrl(lab.server, path));
      expect(response?.status(), path).toBe(200);
      const headers = response!.headers();
      expect(headers["content-security-policy"], path).toMatch(/script-src 'self' 'wasm-unsafe-eval' 'sha256-/);
      expect(headers["content-security-policy"], path).toContain("frame-ancestors 'self'");
      expect(headers["x-content-type-options"], path).toBe("nosniff");
      expect(headers["referrer-policy"], path).toBe("no-referrer");
      await page.waitForLoadState("networkidle");
      // A reload revalidates (If-None-Match → 304): the 304 must carry the page's policy, not the non-page one.
      const revalidated = await fetch(new URL(path, lab.server.url), { headers: { "if-none-match": headers.etag! } });
      expect(revalidated.status, `${path} revalidated`).toBe(304);
      expect(revalidated.headers.get("content-security-policy"), `${path} revalidated`).toBe(headers["content-security-policy"]);
      await page.reload();
      await page.waitForLoadState("networkidle");
    }
    expect(violations).toEqual([]);
    await page.close();
  });

  it("runs a lab page's terminal under the policy: Run types into a live shell over the WebSocket", async () => {
    const page = await lab.browser.newPage({ viewport: { width: 1280, height: 900 } });
    const violations = await watchViolations(page);
    await page.goto(readerUrl(lab.server));
    const run = page.locator("[data-testid=run-button]").first();
    await run.click();
    await expect.poll(() => run.getAttribute("data-state"), { timeout: 60_000 }).toBe("done");
    expect(violations).toEqual([]);
    await page.close();
  });
});
