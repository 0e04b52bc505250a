/**
 * Access to a lab server: it answers only pages that hold its token. The
 * server prints a link with the token in the fragment (`…/#token=TOKEN`, so
 * it never reaches a server log); any page of the site opened with it keeps
 * the token for that server (localStorage, and the tab's sessionStorage) and
 * takes it out of the address bar. The terminal's hello carries it, and every
 * request to the server sends it as `Authorization: Bearer …`.
 *
 * A token is only ever sent to the server it was given for: tokens are kept
 * per server URL.
 */
import { browserStore, tabStore } from "./storage.ts";
import { defaultServerUrl, normalizeServerUrl, serverUrl, setServerUrl } from "./settings.ts";

/** Fired on window when a token is saved for a server (detail: the server URL). */
export const ACCESS_CHANGED = "nwl:access-changed";

/** What a reader without a (valid) token is told, by the terminal and by Check. */
export const NEEDS_ACCESS =
  "This lab server needs your access link: open the link it printed when it started (it ends in #token=…), or paste that link under Server.";
export const ACCESS_REFUSED =
  "This lab server did not accept the access link this browser had (it may have restarted with a new one): open the link it printed when it started (it ends in #token=…), or paste that link under Server.";

const TOKEN_PREFIX = "nwl:token:";
const key = (server: string) => `${TOKEN_PREFIX}${server}`;

/** The token this browser holds for a lab server, if any. */
export function tokenFor(server: string = serverUrl()): string | undefined {
  return browserStore.getItem(key(server)) ?? tabStore.getItem(key(server)) ?? undefined;
}

export function saveToken(server: string, token: string): void {
  browserStore.setItem(key(server), token);
  tabStore.setItem(key(server), token);
  window.dispatchEvent(new CustomEvent(ACCESS_CHANGED, { detail: server }));
}

/** The server refused `token`: forget it, unless a newer one arrived meanwhile. */
export function rejectToken(server: string, token: string | undefined): void {
  if (token === undefined) return;
  if (browserStore.getItem(key(server)) === token) browserStore.removeItem(key(server));
  if (tabStore.getItem(key(server)) === token) tabStore.removeItem(key(server));
}

/** Headers that carry the token for `server` (none when there is no token). */
export function authHeaders(server: string = serverUrl()): Record<string, string> {
  const token = tokenFor(server);
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** Tokens are what the server makes: URL-safe text; anything else in a link is not one. */
const TOKEN_PATTERN = /^[A-Za-z0-9._~+/=-]{1,512}$/;

/** `a=1&b=2` of a fragment, percent-decoded (a "+" stays a "+": tokens may hold one). */
function fragmentParams(fragment: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const part of fragment.split("&")) {
    const at = part.indexOf("=");
    if (at <= 0) continue;
    try {
      params.set(decodeURIComponent(part.slice(0, at)), decodeURIComponent(part.slice(at + 1)));
    } catch {
      // A malformed escape is no parameter of ours.
    }
  }
  return params;
}

export interface AccessLink {
  /** The lab server the link is for (normalized), when the link names one. */
  server?: string;
  token?: string;
}

/**
 * Reads a link or address a reader pasted: `http://host:port/#token=T` is a
 * server with its token; a bare address is just a server. Throws with a
 * message for the reader when the address is not usable.
 */
export function parseAccessLink(input: string): AccessLink {
  const text = input.trim();
  const hashAt = text.indexOf("#");
  const address = hashAt === -1 ? text : text.slice(0, hashAt);
  const fragment = hashAt === -1 ? "" : text.slice(hashAt + 1);
  const token = fragmentParams(fragment).get("token");
  if (token !== undefined && !TOKEN_PATTERN.test(token)) throw new Error("the #token= part of that link is not a token");
  return { server: address ? normalizeServerUrl(address) : undefined, token };
}

/**
 * Saves what a pasted link gives: its token for its server, then makes that
 * server the page's. Returns the server now in use.
 */
export function useAccessLink(input: string): string {
  const link = parseAccessLink(input);
  const server = link.server ?? serverUrl();
  if (link.token) saveToken(server, link.token);
  return setServerUrl(link.server);
}

let taken = false;

/**
 * Called first thing by every page's script: a `#token=…` in the address is
 * the access link of this site's lab server (or of `&server=URL` when the link
 * names another). The token is kept and the fragment leaves the address bar
 * (and so the history, bookmarks and anything copied from it).
 */
export function takeAccessLinkFromLocation(): void {
  if (taken) return;
  taken = true;
  const fragment = location.hash.replace(/^#/, "");
  if (!/(^|&)token=/.test(fragment)) return;
  const params = fragmentParams(fragment);
  const token = params.get("token") ?? "";
  const named = params.get("server");
  // Whatever else the fragment held (an anchor) stays.
  const rest = fragment
    .split("&")
    .filter((part) => !/^(token|server)=/.test(part))
    .join("&");
  history.replaceState(history.state, "", `${location.pathname}${location.search}${rest ? `#${rest}` : ""}`);
  if (!TOKEN_PATTERN.test(token)) return;
  let server: string;
  try {
    server = named ? normalizeServerUrl(named) : defaultServerUrl();
  } catch {
    return;
  }
  saveToken(server, token);
  // The link says which server to use: this site's own (unless it names another).
  if (server !== serverUrl()) setServerUrl(named ?? undefined);
}
