/**
 * Is a lab server answering at a URL? One GET /healthz per URL and page, so
 * every terminal and the settings control share the answer.
 */
import { apiUrl } from "./settings.ts";

export type ProbeResult = { ok: true; version?: string; driver?: string } | { ok: false; reason: string };

const probes = new Map<string, Promise<ProbeResult>>();

export function probeServer(url: string, fresh = false): Promise<ProbeResult> {
  let probe = probes.get(url);
  if (!probe || fresh) {
    probe = probeOnce(url);
    probes.set(url, probe);
  }
  return probe;
}

async function probeOnce(url: string): Promise<ProbeResult> {
  try {
    const response = await fetch(apiUrl("healthz", url), { signal: AbortSignal.timeout(5000), cache: "no-store" });
    if (!response.ok) return { ok: false, reason: `${response.status} ${response.statusText}`.trim() };
    const body = (await response.json()) as { status?: string; version?: string; driver?: string };
    if (body.status !== "ok") return { ok: false, reason: "not a Nix Way Labs server" };
    return { ok: true, version: body.version, driver: body.driver };
  } catch (error) {
    const name = (error as Error).name;
    if (name === "TimeoutError") return { ok: false, reason: "no answer within 5 s" };
    // A static host answers HTML (not JSON); a closed port or CORS refusal is a TypeError.
    return { ok: false, reason: name === "SyntaxError" ? "not a Nix Way Labs server" : "unreachable" };
  }
}
