/**
 * Headers every response carries, and the Content-Security-Policy of each
 * built page. Starlight and Astro put small inline scripts in every page
 * (theme, sidebar state): rather than allow inline script in general, each
 * page's policy lists the sha256 of exactly the inline scripts it holds, read
 * from the built file itself (cached by mtime).
 */
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import path from "node:path";

export const BASE_HEADERS: Readonly<Record<string, string>> = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "SAMEORIGIN",
  "cross-origin-opener-policy": "same-origin",
};

/** For JSON, text and anything else that is not a page: nothing may run or be framed. */
export const NON_PAGE_CSP = "default-src 'none'; frame-ancestors 'none'";

/** Inline <script> elements (no src) of an HTML document; their exact text is what the browser hashes. */
const INLINE_SCRIPT = /<script\b(?![^>]*\bsrc\s*=)[^>]*>([\s\S]*?)<\/script>/gi;

export function inlineScriptHashes(html: string): string[] {
  const hashes = new Set<string>();
  for (const match of html.matchAll(INLINE_SCRIPT)) {
    const body = match[1] ?? "";
    if (body.length === 0) continue;
    hashes.add(`'sha256-${createHash("sha256").update(body, "utf8").digest("base64")}'`);
  }
  return [...hashes];
}

/**
 * The page policy: its own scripts (files from this origin and its inline
 * scripts by hash; WebAssembly for the search index), styles inline as xterm's
 * DOM renderer sets them, and connections to this origin only (the terminal's
 * WebSocket included: 'self' covers ws: and wss: of the same host).
 */
export function pageCsp(scriptHashes: readonly string[]): string {
  return [
    "default-src 'self'",
    `script-src 'self' 'wasm-unsafe-eval' ${scriptHashes.join(" ")}`.trim(),
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'self'",
  ].join("; ");
}

const cache = new Map<string, { stamp: number; csp: string }>();

/** The policy for a built HTML file. */
export function cspForPage(file: string): string {
  const stamp = statSync(file).mtimeMs;
  const cached = cache.get(file);
  if (cached && cached.stamp === stamp) return cached.csp;
  const csp = pageCsp(inlineScriptHashes(readFileSync(file, "utf8")));
  cache.set(file, { stamp, csp });
  return csp;
}

/** The built HTML file a static server answers a path with (as sirv resolves it), if it is a page. */
export function htmlFileFor(siteDir: string, pathname: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    // A malformed path (%zz) is no page; the static server answers it 404.
    return undefined;
  }
  const candidates = decoded.endsWith("/") ? [`${decoded}index.html`] : [decoded, `${decoded}.html`, `${decoded}/index.html`];
  for (const candidate of candidates) {
    if (!candidate.endsWith(".html")) continue;
    const file = path.join(siteDir, path.normalize(candidate));
    if (!file.startsWith(path.resolve(siteDir))) continue;
    try {
      if (statSync(file).isFile()) return file;
    } catch {
      // not this one
    }
  }
  return undefined;
}
