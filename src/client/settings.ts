/**
 * Which lab server the page talks to. Default: the page's own origin (the
 * main command serves site and server together); a build can set another
 * default with PUBLIC_NWL_SERVER_URL, and a reader can point a static copy
 * of the site at their own server (saved in localStorage).
 */
import { SESSION_KEY_PREFIX, browserStore, keysWithPrefix, tabStore } from "./storage.ts";

const KEY = "nwl:server-url";
export const SERVER_CHANGED = "nwl:server-changed";

export function defaultServerUrl(): string {
  const configured: string | undefined = import.meta.env.PUBLIC_NWL_SERVER_URL;
  return normalizeServerUrl(configured || location.origin);
}

/** An absolute http(s) URL ending in "/", or throws with a message for the reader. */
export function normalizeServerUrl(input: string): string {
  const text = input.trim();
  const url = new URL(/^[a-z]+:\/\//i.test(text) ? text : `http://${text}`, location.href);
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("use an http:// or https:// address");
  url.search = url.hash = "";
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  return url.toString();
}

export function serverUrl(): string {
  const saved = browserStore.getItem(KEY);
  if (saved) {
    try {
      return normalizeServerUrl(saved);
    } catch {
      // A corrupted setting must not break the page: fall back to the default.
    }
  }
  return defaultServerUrl();
}

export function isCustomServer(): boolean {
  return browserStore.getItem(KEY) !== null;
}

/** Saves a server (undefined = back to the default) and tells the page's terminals. */
export function setServerUrl(input: string | undefined): string {
  const previous = serverUrl();
  if (input === undefined || input.trim() === "") browserStore.removeItem(KEY);
  else {
    const url = normalizeServerUrl(input);
    if (url === defaultServerUrl()) browserStore.removeItem(KEY);
    else browserStore.setItem(KEY, url);
  }
  const next = serverUrl();
  if (next !== previous) {
    // Terminal sessions belong to the old server (its token stays, kept per server).
    for (const key of keysWithPrefix(() => sessionStorage, SESSION_KEY_PREFIX)) tabStore.removeItem(key);
    window.dispatchEvent(new CustomEvent(SERVER_CHANGED, { detail: next }));
  }
  return next;
}

/** The server's address for API calls, e.g. apiUrl("api/labs/x/checkpoints/y/check"). */
export function apiUrl(path: string, base = serverUrl()): string {
  return new URL(path.replace(/^\//, ""), base).toString();
}
