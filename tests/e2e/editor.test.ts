/**
 * The file editor in Chromium against the main command: a file made from
 * the terminal opens in the editor (through an <Open file> button, the
 * markup OpenFile.astro renders), is edited and saved, and the next check
 * of Part 1 sees it (`cni-fixed`: the loopback config written with the
 * editor). Files over the limit, missing files and the theme switch, all
 * with no Content-Security-Policy violation.
 */
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { readerUrl, useServerAndBrowser, watchViolations, themeBackgrounds } from "./harness.ts";

const lab = useServerAndBrowser();

const CNI_CONFIG = "/etc/cni/net.d/10-loopback.conflist";
const BRIDGE = '{"cniVersion":"1.0.0","name":"lo","plugins":[{"type":"bridge"}]}';
const LOOPBACK = '{"cniVersion":"1.0.0","name":"lo","plugins":[{"type":"loopback"}]}';


/** Types a command into the page's main terminal, as a Run button does, and waits until it has settled. */
async function inTerminal(page: Page, command: string): Promise<void> {
  await page.evaluate((line) => (document.querySelector('nwl-terminal[data-name="main"]') as unknown as { run(command: string): Promise<void> }).run(line), command);
}

/** What <Open file="…" /> renders (OpenFile.astro), put in the page's text: Part 1 has none of its own. */
async function addOpenButton(page: Page, file: string): Promise<void> {
  await page.evaluate((path) => {
    if (document.querySelector(`[data-nwl-open-file="${CSS.escape(path)}"]`)) return;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "nwl-open-file";
    button.dataset.nwlOpenFile = path;
    button.dataset.testid = "open-file";
    button.textContent = path;
    document.querySelector("[data-testid=lab-root]")!.prepend(button);
  }, file);
}

async function openInEditor(page: Page, file: string) {
  await addOpenButton(page, file);
  await page.locator(`[data-nwl-open-file="${file}"]`).click();
  const editor = page.locator(`nwl-file-editor[data-path="${file}"]`);
  await expect.poll(() => editor.getAttribute("data-state"), { timeout: 90_000 }).toMatch(/ready|failed/);
  return editor;
}

const editorText = (page: Page, file: string) =>
  page.$eval(`nwl-file-editor[data-path="${file}"]`, (element) => (element as unknown as { content?: string }).content);

describe("the file editor", () => {
  it("opens a file made in the terminal, saves the reader's edit, and the next check sees it; no CSP violation", { timeout: 240_000 }, async () => {
    const context = await lab.browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const violations = await watchViolations(page);
    page.on("pageerror", (error) => console.error("page error:", error.message));
    await page.goto(readerUrl(lab.server));
    expect(await page.locator("script[src*=file-editor-view], link[href*=file-editor-view]").count()).toBe(0);

    // What cni-fixed needs besides the config: the image pulled (Part 1's earlier step), and a config to fix.
    await page.locator('nwl-terminal[data-name="main"] [data-testid=terminal-start]').click();
    await inTerminal(page, `ctr image pull docker.io/library/busybox:latest >/dev/null && printf '%s\\n' '${BRIDGE}' > ${CNI_CONFIG} && echo READY`);
    const checkpoint = page.locator('nwl-checkpoint[data-checkpoint-id="cni-fixed"]');
    await checkpoint.locator("[data-testid=checkpoint-check]").click();
    await expect.poll(() => checkpoint.getAttribute("data-state"), { timeout: 60_000 }).toBe("failed");
    expect(await checkpoint.locator("[data-testid=checkpoint-output]").textContent()).toContain("bridge");

    const editor = await openInEditor(page, CNI_CONFIG);
    expect(await editor.getAttribute("data-state")).toBe("ready");
    expect(await editor.getAttribute("data-language")).toBe("json");
    expect(await editorText(page, CNI_CONFIG)).toBe(`${BRIDGE}\n`);
    // CodeMirror loaded only now, and highlighted the JSON (its strings in another colour than the text).
    const colours = await editor.locator(".cm-line span").evaluateAll((spans) => new Set(spans.map((span) => getComputedStyle(span).color)).size);
    expect(colours).toBeGreaterThan(1);
    expect(await editor.locator("[data-testid=file-editor-dirty]").isVisible()).toBe(false);

    // The opened file has the focus: the reader types straight away.
    await expect.poll(() => editor.evaluate((element) => element.contains(document.activeElement) && document.activeElement!.classList.contains("cm-content"))).toBe(true);
    await page.keyboard.press("Control+A");
    await page.keyboard.type(LOOPBACK);
    await expect.poll(() => editor.getAttribute("data-dirty")).toBe("");
    expect(await editor.locator("[data-testid=file-editor-dirty]").isVisible()).toBe(true);
    await page.keyboard.press("Control+S");
    await expect.poll(() => editor.getAttribute("data-dirty"), { timeout: 20_000 }).toBeNull();
    expect(await editor.getAttribute("data-error")).toBeNull();
    expect(await editor.locator("[data-testid=file-editor-status]").textContent()).toMatch(/^Saved at /);

    // The next check sees the saved file (the panel is out of the way first: the reader would scroll).
    const panel = page.locator("[data-testid=file-panel]");
    if (await panel.isVisible()) await panel.locator("[data-testid=file-editor-hide]").click();
    await checkpoint.locator("[data-testid=checkpoint-check]").click();
    await expect.poll(() => checkpoint.getAttribute("data-state"), { timeout: 60_000 }).not.toMatch(/checking|failed/);
    const output = await checkpoint.locator("[data-testid=checkpoint-output]").textContent();
    expect(await checkpoint.getAttribute("data-state"), output ?? "").toBe("passed");
    expect(output).toContain("lo is up in the container");

    // Changed from the terminal meanwhile: Save says so instead of undoing it; Reload (pressed twice: unsaved edits) shows it.
    await inTerminal(page, `echo '// edited in the terminal' >> ${CNI_CONFIG}`);
    await page.locator(`[data-nwl-open-file="${CNI_CONFIG}"]`).click();
    await page.keyboard.press("Control+End");
    await page.keyboard.type(" ");
    await page.keyboard.press("Control+S");
    await expect.poll(() => editor.getAttribute("data-error"), { timeout: 20_000 }).toBe("changed");
    expect(await editor.locator("[data-testid=file-editor-error]").textContent()).toMatch(/changed in your lab environment since the editor opened it/);
    await editor.locator("[data-testid=file-editor-reload]").click();
    expect(await editor.locator("[data-testid=file-editor-status]").textContent()).toMatch(/press Reload again to discard/);
    await editor.locator("[data-testid=file-editor-reload]").click();
    // Exactly the typed text (no final newline added), then the terminal's line.
    await expect.poll(() => editorText(page, CNI_CONFIG)).toBe(`${LOOPBACK}// edited in the terminal\n`);
    expect(await editor.getAttribute("data-dirty")).toBeNull();

    expect(violations).toEqual([]);
    await context.close();
  });

  it("says why a file does not open (too big), creates a missing one on save, highlights Nix and YAML, and follows the theme", { timeout: 180_000 }, async () => {
    const context = await lab.browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const violations = await watchViolations(page);
    await page.goto(readerUrl(lab.server));
    await page.locator('nwl-terminal[data-name="main"] [data-testid=terminal-start]').click();
    await inTerminal(page, "head -c 1100000 /dev/zero | tr '\\0' a > ~/big.txt; mkdir -p ~/k8s; rm -f ~/k8s/new.nix; printf '{ ... }:\\n{\\n  imports = [ ./etcd.nix ]; # the parts\\n}\\n' > ~/k8s/default.nix; printf 'kind: Pod\\nspec:\\n  replicas: 3 # one\\n' > ~/pod.yaml");

    const big = await openInEditor(page, "~/big.txt");
    expect(await big.getAttribute("data-state")).toBe("failed");
    expect(await big.getAttribute("data-error")).toBe("too-large");
    expect(await big.locator("[data-testid=file-editor-error]").textContent()).toMatch(/~\/big\.txt is 1,100,000 bytes; the editor opens files of up to 1 MiB/);
    expect(await big.locator(".cm-editor").count()).toBe(0);

    const created = await openInEditor(page, "~/k8s/new.nix");
    expect(await created.getAttribute("data-error")).toBe("not-found");
    expect(await created.locator("[data-testid=file-editor-error]").textContent()).toMatch(/No such file in your lab environment: ~\/k8s\/new\.nix/);
    await created.locator(".cm-content").click();
    await page.keyboard.type("{ }");
    await created.locator("[data-testid=file-editor-save]").click();
    await expect.poll(() => created.locator("[data-testid=file-editor-status]").textContent(), { timeout: 20_000 }).toMatch(/^Created at /);
    expect(await created.getAttribute("data-error")).toBeNull();
    await inTerminal(page, "cat ~/k8s/new.nix > ~/k8s/copy.txt");
    const copy = await openInEditor(page, "~/k8s/copy.txt");
    expect(await editorText(page, "~/k8s/copy.txt")).toBe("{ }");
    expect(await copy.getAttribute("data-language")).toBe("text");

    const nix = await openInEditor(page, "~/k8s/default.nix");
    expect(await nix.getAttribute("data-language")).toBe("nix");
    const styleOf = (text: string) =>
      nix.locator(".cm-line span", { hasText: text }).first().evaluate((span) => `${getComputedStyle(span).color} ${getComputedStyle(span).fontStyle}`);
    // The comment and the keyword are tokens of the Nix grammar, each in its own style.
    expect(await styleOf("# the parts")).toMatch(/italic/);
    expect(await styleOf("imports")).not.toBe(await styleOf("# the parts"));

    const yaml = await openInEditor(page, "~/pod.yaml");
    expect(await yaml.getAttribute("data-language")).toBe("yaml");
    const yamlColours = await yaml.locator(".cm-line span").evaluateAll((spans) => new Set(spans.map((span) => getComputedStyle(span).color)).size);
    expect(yamlColours).toBeGreaterThan(1);

    await openInEditor(page, "~/k8s/default.nix");
    const background = () => nix.locator(".cm-editor").evaluate((element) => getComputedStyle(element).backgroundColor);
    const { dark, light } = await themeBackgrounds(page, background);
    const channels = (color: string) => (color.match(/\d+/g) ?? []).slice(0, 3).map(Number);
    expect(Math.min(...channels(light))).toBeGreaterThan(Math.max(...channels(dark)));

    expect(violations).toEqual([]);
    await context.close();
  });

  it("with no lab server, says so within seconds instead of spinning", { timeout: 60_000 }, async () => {
    const context = await lab.browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(readerUrl(lab.server));
    // The page's lab server is now an address where nothing listens.
    await page.evaluate(() => localStorage.setItem("nwl:server-url", "http://127.0.0.1:9/"));
    await page.reload();
    const started = Date.now();
    const editor = await openInEditor(page, "~/notes.txt");
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await editor.getAttribute("data-state")).toBe("failed");
    expect(await editor.locator("[data-testid=file-editor-error]").textContent()).toMatch(/No lab server is answering at http:\/\/127\.0\.0\.1:9\//);
    await context.close();
  });
});
