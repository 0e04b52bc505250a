/**
 * `npm run dev` follows an author's edits to a lab definition: the Part 1 page
 * shows a checkpoint's new title after lab.yaml changes, and the browser is
 * told to reload. Runs `astro dev` on a copy of the site (the real lab is
 * never edited).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import WebSocket from "ws";
import { copyProject, projectRoot } from "./project-copy.ts";

const ORIGINAL_TITLE = "One Nix file per component, all tracked by git";
const NEW_TITLE = "Renamed while the dev server runs";

let site: ReturnType<typeof copyProject>;
let server: ChildProcess;
let base = "";
let output = "";

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
    probe.on("error", reject);
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; dev server said:\n${output.slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const page = async () => {
  const response = await fetch(`${base}/labs/part-1/`);
  return response.ok ? response.text() : undefined;
};

beforeAll(async () => {
  site = copyProject();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(process.execPath, [path.join(projectRoot, "node_modules", "astro", "bin", "astro.mjs"), "dev", "--port", String(port), "--host", "127.0.0.1"], {
    cwd: site.dir,
    // Not vitest's NODE_ENV=test (or its VITEST* variables): the dev server as an author runs it.
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("VITEST"))), NODE_ENV: "development", ASTRO_TELEMETRY_DISABLED: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  server.stdout!.on("data", (chunk) => (output += chunk));
  server.stderr!.on("data", (chunk) => (output += chunk));
  // ~20 s on an idle machine; the margin is for a busy one.
  await until("the Part 1 page", page, 90_000);
}, 120_000);

afterAll(() => {
  server?.kill("SIGTERM");
  site?.remove();
});

test("a checkpoint's title edited in lab.yaml shows on the next request, and the browser is told to reload", async () => {
  expect(await page()).toContain(ORIGINAL_TITLE);

  const messages: string[] = [];
  const socket = new WebSocket(base.replace("http", "ws") + "/", "vite-hmr");
  socket.on("message", (data) => messages.push(String(data)));
  await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));

  const labFile = path.join(site.dir, "labs", "k8s-nix-way", "part-1", "lab.yaml");
  writeFileSync(labFile, readFileSync(labFile, "utf8").replace(`title: ${ORIGINAL_TITLE}`, `title: ${NEW_TITLE}`));

  const html = await until("the new title", async () => ((await page())?.includes(NEW_TITLE) ? await page() : undefined), 20_000);
  expect(html).not.toContain(ORIGINAL_TITLE);
  await until("a full-reload message", async () => (messages.some((message) => message.includes('"full-reload"')) ? true : undefined), 10_000);
  socket.close();
});

test("a checkpoint id the page still names, renamed in lab.yaml, is reported by the dev server, which keeps running", async () => {
  const labFile = path.join(site.dir, "labs", "k8s-nix-way", "part-1", "lab.yaml");
  const before = output.length;
  writeFileSync(labFile, readFileSync(labFile, "utf8").replace("  - id: certificates\n", "  - id: certificates-renamed\n"));
  await until(
    "the dev server's report",
    async () => (output.slice(before).includes('lab "k8s-nix-way-part-1" has no checkpoint "certificates"') ? true : undefined),
    10_000,
  );
  expect(output.slice(before)).toMatch(/src\/content\/docs\/labs\/part-1\.mdx:\d+: lab "k8s-nix-way-part-1" has no checkpoint "certificates"/);
  writeFileSync(labFile, readFileSync(labFile, "utf8").replace("  - id: certificates-renamed\n", "  - id: certificates\n"));
  const again = await until("the page again", async () => {
    const html = await page();
    return html?.includes(NEW_TITLE) && html.includes('data-checkpoint-id="certificates"') ? html : undefined;
  }, 20_000);
  expect(again).toContain(NEW_TITLE);
  expect(again).toContain('data-checkpoint-id="certificates"');
});
