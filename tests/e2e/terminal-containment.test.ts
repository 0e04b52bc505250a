/**
 * The terminal's screen is contained (src/client/xterm-containment.css) under
 * xterm's DOM renderer, so that a key's layouts cover the screen and not the
 * whole page. Size containment ignores the content's size: a screen whose
 * height came from its content would collapse to nothing. Checked on the
 * Part 1 page, as a reader sees it, with the DOM renderer (no WebGL) and with
 * WebGL (not contained).
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, readerUrl, startMainCommand, type MainCommand } from "./harness.ts";

let server: MainCommand;
const browsers: Browser[] = [];

beforeAll(async () => {
  server = await startMainCommand(["--driver", "host"]);
});
afterAll(async () => {
  for (const browser of browsers) await browser.close();
  await server?.stop();
});

const TERMINAL = 'nwl-terminal[data-name="main"]';

/** Opens Part 1, starts its main terminal and waits for a prompt. */
async function startedTerminal(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on("pageerror", (error) => console.error("page error:", error.message));
  await page.goto(readerUrl(server));
  await page.locator(`${TERMINAL} [data-testid=terminal-start]`).click();
  await page.waitForSelector(`${TERMINAL}[data-state=connected]`, { timeout: 30_000 });
  await page.locator(`${TERMINAL} [data-testid=terminal-screen]`).click();
  return page;
}

/** What the screen looks like: its containment, renderer, height and size in cells. */
function screenFacts(page: Page) {
  return page.evaluate((selector) => {
    const host = document.querySelector(`${selector} [data-testid=terminal-screen]`) as HTMLElement;
    const term = (document.querySelector(selector) as unknown as { xterm: { rows: number; cols: number } }).xterm;
    return {
      renderer: host.dataset.renderer,
      contain: getComputedStyle(host).contain,
      rows: term.rows,
      cols: term.cols,
      hostHeight: host.getBoundingClientRect().height,
    };
  }, TERMINAL);
}

describe("terminal screen containment", () => {
  it("contains the DOM renderer's screen without collapsing it, and the shell's output shows", { timeout: 120_000 }, async () => {
    const browser = await launchBrowser({ args: ["--disable-3d-apis"] });
    browsers.push(browser);
    const page = await startedTerminal(browser);
    const facts = await screenFacts(page);
    expect(facts.renderer).toBe("dom");
    expect(facts.contain).toBe("strict");
    expect(facts.hostHeight).toBeGreaterThan(200);
    expect(facts.rows).toBeGreaterThanOrEqual(10);
    expect(facts.cols).toBeGreaterThanOrEqual(40);
    await page.keyboard.type("echo contained-$((6*7))");
    await page.keyboard.press("Enter");
    await expect.poll(() => page.locator(`${TERMINAL} .xterm-rows`).textContent(), { timeout: 10_000 }).toContain("contained-42");
  });

  it("leaves the WebGL renderer's screen uncontained", { timeout: 120_000 }, async () => {
    const browser = await launchBrowser({ args: ["--use-angle=swiftshader", "--enable-unsafe-swiftshader"] });
    browsers.push(browser);
    const page = await startedTerminal(browser);
    const facts = await screenFacts(page);
    expect(facts.renderer).toBe("webgl");
    expect(facts.contain).toBe("none");
    expect(facts.rows).toBeGreaterThanOrEqual(10);
  });
});
