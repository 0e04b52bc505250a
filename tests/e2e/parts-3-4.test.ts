/**
 * Parts 3 and 4 in Chromium against the main command, on this machine (no
 * kubelet, no API server): each page says up front which step needs the NixOS
 * lab VM, that step's checkpoint answers so when checked (never passes), and
 * runnable steps pass by their Run buttons: in Part 3 the author's two
 * kubelet pitfalls are hit (the check fails, saying why) and fixed; in Part 4
 * the API server's authorization mode is rendered without Node, refused, then
 * fixed, and the kubelet drop-in folder fails for want of its user before it is
 * made. The server's driver is its default (NWL_DRIVER=host-namespaces for the other).
 */
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { readerUrl, useServerAndBrowser } from "./harness.ts";

const lab = useServerAndBrowser();

/** The Run button of the first block whose command contains `text`. */
async function runButton(page: Page, text: string) {
  const commands = await page.locator("[data-testid=run-button]").evaluateAll((buttons) => buttons.map((button) => button.getAttribute("data-command") ?? ""));
  const index = commands.findIndex((command) => command.includes(text));
  expect(index, `a Run block with: ${text}`).toBeGreaterThanOrEqual(0);
  return page.locator("[data-testid=run-button]").nth(index);
}

async function run(page: Page, text: string): Promise<void> {
  const button = await runButton(page, text);
  await button.scrollIntoViewIfNeeded();
  await button.click();
  // The first Run also starts the environment, brought through the earlier parts' solves.
  await expect.poll(() => button.getAttribute("data-state"), { timeout: 180_000, message: `Run of a block with: ${text}` }).toMatch(/done|error/);
  expect(await button.getAttribute("data-state"), `Run of a block with: ${text}`).toBe("done");
}

function checkpoint(page: Page, id: string) {
  return page.locator(`[data-testid=checkpoint][data-checkpoint-id="${id}"]`);
}

/** Clicks Check and waits for the answer; returns its state and output. */
async function check(page: Page, id: string): Promise<{ state: string; output: string }> {
  const element = checkpoint(page, id);
  await expect.poll(() => element.getAttribute("data-state"), { timeout: 60_000 }).not.toMatch(/checking|solving/);
  await element.locator("[data-testid=checkpoint-check]").click();
  await expect.poll(() => element.getAttribute("data-state"), { timeout: 180_000 }).not.toMatch(/checking|unchecked/);
  return { state: (await element.getAttribute("data-state")) ?? "", output: (await element.locator("[data-testid=checkpoint-output]").textContent()) ?? "" };
}

/** Waits for a checkpoint that a Run checks by itself to settle, and expects it passed. */
async function expectPassed(page: Page, id: string): Promise<void> {
  const element = checkpoint(page, id);
  await expect.poll(() => element.getAttribute("data-state"), { timeout: 60_000 }).not.toMatch(/checking|unchecked|solving/);
  const output = await element.locator("[data-testid=checkpoint-output]").textContent();
  expect(await element.getAttribute("data-state"), `checkpoint ${id}: ${output}`).toBe("passed");
}

/** A step this host cannot run: the page's caution names it, and its check answers with the lab VM, never passing. */
async function expectNeedsLabVm(page: Page, id: string): Promise<void> {
  await expect.poll(() => page.locator(".starlight-aside--caution").first().textContent()).toMatch(/needs the NixOS lab VM/);
  // Before any check: the page knows from the server's lab list, and says so on the checkpoint.
  const element = checkpoint(page, id);
  await expect.poll(() => element.getAttribute("data-state"), { timeout: 30_000 }).toBe("unavailable");
  expect(await element.locator("[data-testid=checkpoint-result]").textContent()).toBe("Needs the lab VM");
  const answer = await check(page, id);
  expect(answer.state).toBe("unavailable");
  expect(answer.output).toMatch(/needs what this lab server does not have: `kube(let|-apiserver)` not found \(only on the NixOS lab VM\)/);
  expect(answer.output).toContain("It runs on the NixOS lab VM");
}

describe("Parts 3 and 4 in the browser, on a lab server without Kubernetes", () => {
  it("Part 3: the kubelet step needs the lab VM; the config's pitfalls fail the check, and the fix passes it, by Run", { timeout: 400_000 }, async () => {
    const context = await lab.browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.on("pageerror", (error) => console.error("page error:", error.message));
    await page.goto(readerUrl(lab.server, "labs/part-3/"));

    await run(page, "cat > ~/k8s/kubelet.nix");
    await expectPassed(page, "kubelet-config-json");

    const pitfalls = await check(page, "kubelet-config-valid");
    expect(pitfalls.state).toBe("failed");
    expect(pitfalls.output).toContain('authorization.mode is "webhook"');
    expect(pitfalls.output).toContain('time: unknown unit "d" in duration "7d"');
    expect(pitfalls.output).toContain("This check is the lab's, not the kubelet's");

    await run(page, 'authorization.mode = "Webhook";/');
    await expectPassed(page, "kubelet-config-valid");

    await expectNeedsLabVm(page, "kubelet-running");
    await context.close();
  });

  it("Part 4: the node step needs the lab VM; RBAC alone is refused, then RBAC,Node passes; tmpfiles wants its user", { timeout: 400_000 }, async () => {
    const context = await lab.browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.on("pageerror", (error) => console.error("page error:", error.message));
    await page.goto(readerUrl(lab.server, "labs/part-4/"));

    await run(page, "cat > ~/k8s/apiserver.nix");
    const rbacOnly = await check(page, "apiserver-args");
    expect(rbacOnly.state).toBe("failed");
    expect(rbacOnly.output).toContain("The authorization mode is RBAC, without Node");

    await run(page, "s/\"--authorization-mode\" \"RBAC\"/");
    await expectPassed(page, "apiserver-args");

    await expectNeedsLabVm(page, "node-authorized");

    // The tmpfiles rule before the node has its user: nothing is made, and the check says why.
    await run(page, "cat > ~/k8s/tmpfiles.nix");
    const noUser = await check(page, "kubelet-dropin-dir");
    expect(noUser.state).toBe("failed");
    expect(noUser.output).toContain("~/node/etc/passwd has no such user");
    await run(page, "echo 'kubernetes:x:994:' >> ~/node/etc/group");
    await expectPassed(page, "kubelet-dropin-dir");
    await context.close();
  });
});
