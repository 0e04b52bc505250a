/**
 * Is a lab server answering at a URL? One GET /healthz per URL and page, so
 * every terminal and the settings control share the answer. /healthz is
 * public; a second request with the token (when this browser has one) tells
 * whether the server accepts it.
 */
import { authHeaders, tokenFor } from "./access.ts";
import { apiUrl } from "./settings.ts";

export type ProbeResult =
  | {
      ok: true;
      version?: string;
      driver?: string;
      /** Why the server says it is degraded (e.g. the lab's containerd is down); undefined when it is fine. */
      degraded?: string[];
      /** Whether the server accepts this browser's token; undefined when there is none to try. */
      authorized?: boolean;
    }
  | { ok: false; reason: string };

const DEFAULT_TIMEOUT_MS = 5000;
const probes = new Map<string, Promise<ProbeResult>>();

export function probeServer(url: string, fresh = false, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ProbeResult> {
  let probe = probes.get(url);
  if (!probe || fresh) {
    probe = probeOnce(url, timeoutMs);
    probes.set(url, probe);
  }
  return probe;
}

interface Health {
  status?: string;
  reasons?: unknown[];
  version?: string;
  driver?: string;
  sessions?: number;
}

async function probeOnce(url: string, timeoutMs: number): Promise<ProbeResult> {
  let body: Health;
  try {
    const response = await fetch(apiUrl("healthz", url), { signal: AbortSignal.timeout(timeoutMs), cache: "no-store" });
    if (!response.ok) return { ok: false, reason: `${response.status} ${response.statusText}`.trim() };
    body = (await response.json()) as Health;
  } catch (error) {
    const name = (error as Error).name;
    if (name === "TimeoutError") return { ok: false, reason: `no answer within ${timeoutMs / 1000} s` };
    // A static host answers HTML (not JSON); a closed port or CORS refusal is a TypeError.
    return { ok: false, reason: name === "SyntaxError" ? "not a Nix Way Labs server" : "unreachable" };
  }
  if (body.status !== "ok" && body.status !== "degraded") return { ok: false, reason: "not a Nix Way Labs server" };
  const degraded =
    body.status === "degraded"
      ? (body.reasons ?? []).map((reason) => (typeof reason === "string" ? reason : JSON.stringify(reason)))
      : undefined;
  const result: ProbeResult = { ok: true, version: body.version, driver: body.driver, degraded };
  if (tokenFor(url)) result.authorized = await acceptsToken(url, timeoutMs);
  return result;
}

/** /healthz with the token: counts in the answer mean it was accepted, 401 that it was not; anything else says nothing. */
async function acceptsToken(url: string, timeoutMs: number): Promise<boolean | undefined> {
  try {
    const response = await fetch(apiUrl("healthz", url), {
      headers: authHeaders(url),
      signal: AbortSignal.timeout(timeoutMs),
      cache: "no-store",
    });
    if (response.status === 401) return false;
    if (!response.ok) return undefined;
    const body = (await response.json()) as Health;
    return typeof body.sessions === "number" ? true : undefined;
  } catch {
    return undefined;
  }
}

/** What to do when no lab server answers at `url`, in words for the reader. */
export function unreachableAdvice(url: string, reason: string): string {
  const elsewhere = new URL(url).origin !== location.origin;
  return (
    `No lab server is answering at ${url} (${reason}). ` +
    "Start one on your lab machine with `npm start` and open the link it prints, or set your lab server's address under Server." +
    (elsewhere ? ` If it is running, it may not allow pages from ${location.origin}: start it with --allow-origin ${location.origin}.` : "")
  );
}
