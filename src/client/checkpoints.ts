/**
 * Checks a checkpoint: the lab server runs that checkpoint's own script (from
 * the lab definition) in the reader's environment. The browser only names the
 * lab, the checkpoint and the environment.
 */
import { labEnvironment } from "./environments.ts";
import { findTerminal } from "./registry.ts";
import { recordCheck } from "./progress.ts";
import { apiUrl } from "./settings.ts";

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

/** The page's environment; starts the page's terminal when there is none yet (checks need one). */
async function environmentFor(lab: string): Promise<string> {
  const environment = labEnvironment(lab);
  if (environment.isConfirmed) return environment.id!;
  const terminal = findTerminal();
  if (!terminal) throw new CheckError("no-terminal", "This page has no terminal to make a lab environment with.");
  return terminal.environment();
}

export async function checkCheckpoint(lab: string, checkpoint: string): Promise<CheckResult> {
  const environment = await environmentFor(lab);
  let response: Response;
  try {
    response = await fetch(apiUrl(`api/labs/${encodeURIComponent(lab)}/checkpoints/${encodeURIComponent(checkpoint)}/check`), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ environment }),
    });
  } catch {
    throw new CheckError("unreachable", "The lab server did not answer. Is it still running?");
  }
  const body = (await response.json().catch(() => ({}))) as Partial<CheckResult> & { error?: string; message?: string };
  if (!response.ok) {
    if (body.error === "unknown-environment") labEnvironment(lab).reset();
    throw new CheckError(body.error ?? `http-${response.status}`, body.message ?? `The lab server answered ${response.status}.`);
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
