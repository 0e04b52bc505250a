/**
 * The page's client of the lab API (routes and types in
 * server/lab-api-protocol.ts). Every way a request can fail ends in words
 * for the reader and in bounded time: no lab server answering is known
 * within seconds (a short /healthz probe first), a refused token says how
 * to get the link, and the server's own words come through otherwise.
 */
import { ACCESS_REFUSED, NEEDS_ACCESS, authHeaders, rejectToken, tokenFor } from "./access.ts";
import { probeServer, unreachableAdvice } from "./server-probe.ts";
import { apiUrl } from "./settings.ts";
import type { CatchUpResult, CheckpointResult, EnvironmentState, LabList, SolveResult } from "../../server/lab-api-protocol.ts";
import { labApiPath } from "../../server/lab-api-paths.ts";

export type { CatchUpResult, CheckpointResult, EnvironmentState, SolveResult };

/** A request that did not give a result: `code` for the page's logic, `message` for the reader. */
export class LabApiError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** What a reader is told when the lab server has no lab of this page's (a 4404 in the terminal, a 404 from the API). */
export const unknownLabAdvice = (lab: string) =>
  `This lab server does not have this page's lab ("${lab}"): it runs other labs (its --labs folder), or it is older than this site. Use a lab server that has it (see Server), then press Reconnect.`;

/** Is anything answering? Short, so a page without a lab server says so at once. */
const PROBE_TIMEOUT_MS = 3000;
/** Making an environment runs the lab's setup: a while, not forever. */
const ENVIRONMENT_TIMEOUT_MS = 90_000;
/** A check runs within its checkpoint's timeout, maybe after others queued in the environment. */
const CHECK_TIMEOUT_MS = 120_000;
/** Catching up solves and checks every earlier step. */
const CATCH_UP_TIMEOUT_MS = 600_000;

export class LabApiClient {
  readonly server: string;
  readonly lab: string;

  constructor(server: string, lab: string) {
    this.server = server;
    this.lab = lab;
  }

  /** The server's labs, with why a step cannot run on it (a command it needs is missing). */
  labs(): Promise<LabList> {
    return this.request<LabList>("GET", labApiPath.labs(), undefined, 10_000);
  }

  state(): Promise<EnvironmentState> {
    return this.request<EnvironmentState>("GET", labApiPath.environment(this.lab), undefined, 10_000);
  }

  ensureEnvironment(): Promise<EnvironmentState> {
    return this.request<EnvironmentState>("POST", labApiPath.environment(this.lab), {}, ENVIRONMENT_TIMEOUT_MS);
  }

  reset(): Promise<EnvironmentState> {
    return this.request<EnvironmentState>("POST", labApiPath.reset(this.lab), {}, ENVIRONMENT_TIMEOUT_MS);
  }

  check(checkpoint: string, environment?: string): Promise<CheckpointResult> {
    return this.request<CheckpointResult>("POST", labApiPath.checkpoint(this.lab, checkpoint, "check"), { environment }, CHECK_TIMEOUT_MS);
  }

  solve(checkpoint: string, environment?: string): Promise<SolveResult> {
    return this.request<SolveResult>("POST", labApiPath.checkpoint(this.lab, checkpoint, "solve"), { environment }, CHECK_TIMEOUT_MS);
  }

  catchUp(checkpoint: string, environment?: string): Promise<CatchUpResult> {
    return this.request<CatchUpResult>("POST", labApiPath.checkpoint(this.lab, checkpoint, "catch-up"), { environment }, CATCH_UP_TIMEOUT_MS);
  }

  /** Whether a lab server answers, and takes this browser's token: throws LabApiError with what to do when not. */
  reachable(): Promise<void> {
    return assertReachable(this.server);
  }

  private async request<T>(method: "GET" | "POST", path: string, body: unknown, timeoutMs: number): Promise<T> {
    const { response, body: parsed } = await labServerRequest(this.server, path, { method, body: body === undefined ? undefined : JSON.stringify(body) }, timeoutMs);
    const answer = (parsed ?? {}) as T & { error?: string; message?: string };
    if (response.ok) return answer;
    // Not the lab API's answer (a static host's 404, a proxy's 502): say whether a lab server is there at all.
    if (typeof answer.error !== "string") await this.reachable();
    if (answer.error === "unknown-lab") throw new LabApiError("unknown-lab", unknownLabAdvice(this.lab));
    // 404 unknown-environment, 503 service-degraded, 429 check-queue-full or limit-reached: the server's own words.
    throw new LabApiError(answer.error ?? `http-${response.status}`, answer.message ?? `The lab server answered ${response.status} ${response.statusText}`.trim() + ".");
  }
}

/** Whether a lab server answers at `server`, and takes this browser's token: throws LabApiError with what to do when not. */
export async function assertReachable(server: string): Promise<void> {
  const probe = await probeServer(server, true, PROBE_TIMEOUT_MS);
  if (!probe.ok) throw new LabApiError("unreachable", unreachableAdvice(server, probe.reason));
  if (probe.authorized === false) {
    rejectToken(server, tokenFor(server));
    throw new LabApiError("unauthorized", ACCESS_REFUSED);
  }
  if (!tokenFor(server)) throw new LabApiError("unauthorized", NEEDS_ACCESS);
}

/**
 * One request to the lab server at `server` (the lab API, the file editor's):
 * with this browser's token, in bounded time. Resolves with the response and
 * its JSON body (undefined when it has none) unless no server answered, it
 * timed out or the token was refused: then LabApiError in words for the reader.
 */
export async function labServerRequest(
  server: string,
  path: string,
  init: { method: string; body?: string },
  timeoutMs: number,
): Promise<{ response: Response; body: unknown }> {
  const token = tokenFor(server);
  let response: Response;
  try {
    response = await fetch(apiUrl(path, server), {
      method: init.method,
      headers: { ...(init.body === undefined ? {} : { "content-type": "application/json" }), ...authHeaders(server) },
      body: init.body,
      signal: AbortSignal.timeout(timeoutMs),
      cache: "no-store",
    });
  } catch (error) {
    if ((error as Error).name === "TimeoutError") {
      throw new LabApiError("timeout", `The lab server has not answered after ${Math.round(timeoutMs / 1000)} s. Try again in a moment; if it keeps happening, restart the lab server.`);
    }
    // A refused connection fails at once; say so in the probe's words (which also catch a missing token).
    await assertReachable(server);
    throw new LabApiError("unreachable", `The lab server at ${server} did not answer. Is it still running? Start it again and open the link it prints.`);
  }
  const body: unknown = await response.json().catch(() => undefined);
  if (response.status === 401) {
    rejectToken(server, token);
    throw new LabApiError("unauthorized", token ? ACCESS_REFUSED : NEEDS_ACCESS);
  }
  return { response, body };
}
