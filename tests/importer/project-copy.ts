/**
 * A throwaway copy of the site (src, labs, server, public and the configs,
 * node_modules linked) for tests that write pages or labs, build or run the
 * dev server: the real tree is never touched.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

const COPIED = ["src", "labs", "server", "public", "astro.config.mjs", "package.json", "tsconfig.json"];

/**
 * Inside the project's (git-ignored) .astro/, not /tmp: Vite resolves the
 * linked node_modules by its real path, and a build outside the project's
 * tree fails to find its own compiled components. Not test-results/ either:
 * Vite's file watcher ignores that folder, and the dev-reload test needs it.
 */
export function copyProject(): { dir: string; remove: () => void } {
  const parent = path.join(projectRoot, ".astro", "test-sites");
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(path.join(parent, "site-"));
  for (const entry of COPIED) {
    cpSync(path.join(projectRoot, entry), path.join(dir, entry), { recursive: true, filter: (source) => !source.endsWith(".test.ts") });
  }
  symlinkSync(path.join(projectRoot, "node_modules"), path.join(dir, "node_modules"));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
