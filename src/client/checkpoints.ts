/**
 * Checks a checkpoint: the lab server runs that checkpoint's own script (from
 * the lab definition) in the reader's environment. The browser only names the
 * lab, the checkpoint and the environment.
 *
 * No dead ends: every way a check can fail ends in words for the reader, and
 * in bounded time. No lab server answering is known within seconds (a short
 * /healthz probe before anything waits for a terminal); the wait for the
 * terminal's environment and the check itself are bounded too.
 */
import { ACCESS_REFUSED, NEEDS_ACCESS, authHeaders, rejectToken, tokenFor } from "./access.ts";
import { labEnvironment } from "./environments.ts";
import { findTerminal, TerminalUnavailable } from "./registry.ts";
import { recordCheck } from "./progress.ts";
import { probeServer, unreachableAdvice } from "./server-probe.ts";
import { apiUrl, serverUrl } from "./settings.ts";

export interface CheckResult {
  passed: boolean;
  output: string;
  hint?: string;
  durationMs: number;
}

export class CheckError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** Is anything answering? Short, so a page without a lab server says so at once. */
const PROBE_TIMEOUT_MS = 3000;
/** A first terminal start makes a lab environment: that can take a while, not forever. */
const ENVIRONMENT_TIMEOUT_MS = 90_000;
/** A check script runs within its checkpoint's timeout, maybe after others of the environment queued. */
const CHECK_TIMEOUT_MS = 120_000;

function withTimeout<T>(promise: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(error()), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The page's environment; starts the page's terminal when there is none yet (checks need one). */
async function environmentFor(lab: string, server: string): Promise<string> {
  const environment = labEnvironment(lab);
  if (environment.isConfirmed) return environment.id!;
  const probe = await probeServer(server, true, PROBE_TIMEOUT_MS);
  if (!probe.ok) throw new CheckError("unreachable", unreachableAdvice(server, probe.reason));
  if (probe.authorized === false) {
    rejectToken(server, tokenFor(server));
    throw new CheckError("unauthorized", ACCESS_REFUSED);
  }
  const terminal = findTerminal();
  if (!terminal) throw new CheckError("no-terminal", "This page has no terminal to make a lab environment with.");
  try {
    return await withTimeout(
      terminal.environment(),
      ENVIRONMENT_TIMEOUT_MS,
      () =>
        new CheckError(
          "no-environment",
          `The lab server did not start this page's terminal within ${ENVIRONMENT_TIMEOUT_MS / 1000} s, so there is nothing to check yet. See what the terminal says, then check again.`,
        ),
    );
  } catch (error) {
    if (error instanceof TerminalUnavailable) throw new CheckError(error.code, error.message);
    throw error;
  }
}

interface ErrorBody {
  error?: string;
  message?: string;
}

export async function checkCheckpoint(lab: string, checkpoint: string): Promise<CheckResult> {
  const server = serverUrl();
  const environment = await environmentFor(lab, server);
  const token = tokenFor(server);
  let response: Response;
  try {
    response = await fetch(apiUrl(`api/labs/${encodeURIComponent(lab)}/checkpoints/${encodeURIComponent(checkpoint)}/check`, server), {
      method: "POST",
      headers: { "content-type": "application/json", ...authHeaders(server) },
      body: JSON.stringify({ environment }),
      signal: AbortSignal.timeout(CHECK_TIMEOUT_MS),
    });
  } catch (error) {
    if ((error as Error).name === "TimeoutError") {
      throw new CheckError("timeout", `The lab server has not finished this check after ${CHECK_TIMEOUT_MS / 1000} s. Check again in a moment; if it keeps happening, restart the lab server.`);
    }
    throw new CheckError("unreachable", `The lab server at ${server} did not answer. Is it still running? Start it again and open the link it prints.`);
  }
  const body = (await response.json().catch(() => ({}))) as Partial<CheckResult> & ErrorBody;
  if (!response.ok) {
    if (response.status === 401) {
      rejectToken(server, token);
      throw new CheckError("unauthorized", token ? ACCESS_REFUSED : NEEDS_ACCESS);
    }
    if (body.error === "unknown-environment") labEnvironment(lab).reset();
    // 503 service-degraded, 429 check-queue-full / limit-reached, 404 …: the server's own words.
    const message = body.message ?? `The lab server answered ${response.status} ${response.statusText}`.trim() + ".";
    throw new CheckError(body.error ?? `http-${response.status}`, message);
  }
  const result: CheckResult = {
    passed: body.passed === true,
    output: typeof body.output === "string" ? body.output : "",
    hint: typeof body.hint === "string" ? body.hint : undefined,
    durationMs: typeof body.durationMs === "number" ? body.durationMs : 0,
  };
  recordCheck(lab, checkpoint, result.passed);
  return result;
}
