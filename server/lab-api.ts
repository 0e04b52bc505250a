/**
 * The HTTP API of the labs: a Check button posts here, and the server runs
 * that checkpoint's own check script from the lab definition in the reader's
 * environment. Nothing in the request is ever run: it only names things.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import { sendJson } from "./app.ts";
import type { LabSessions } from "./lab-sessions.ts";
import type { LabEnvironment } from "./drivers/driver.ts";

export interface CheckResult {
  passed: boolean;
  output: string;
  hint?: string;
  durationMs: number;
}

export interface CheckpointRunner {
  /** Checkpoint summaries per lab, for GET /api/labs. */
  list(): { id: string; title: string; checkpoints: { id: string; title: string }[] }[];
  hasCheckpoint(lab: string, checkpoint: string): boolean;
  run(lab: string, checkpoint: string, environment: LabEnvironment): Promise<CheckResult>;
}

const CheckRequest = z.object({
  environment: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).describe("The reader's lab environment, from the terminal's welcome"),
});
const MAX_BODY_BYTES = 4096;
const CHECK_ROUTE = /^\/api\/labs\/([A-Za-z0-9_-]{1,64})\/checkpoints\/([A-Za-z0-9_.-]{1,64})\/check$/;

async function readJson(request: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request) {
    size += (chunk as Buffer).byteLength;
    if (size > MAX_BODY_BYTES) throw new Error(`request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
}

export function labApiRoutes(runner: CheckpointRunner) {
  return async (request: IncomingMessage, response: ServerResponse, sessions: LabSessions): Promise<boolean> => {
    const url = new URL(request.url ?? "/", "http://localhost");
    if (url.pathname === "/api/labs" && request.method === "GET") {
      sendJson(response, 200, { labs: runner.list() });
      return true;
    }
    const match = CHECK_ROUTE.exec(url.pathname);
    if (!match) return false;
    if (request.method !== "POST") {
      sendJson(response, 405, { error: "method-not-allowed", message: "POST to run a check" });
      return true;
    }
    const [, lab, checkpoint] = match as unknown as [string, string, string];
    if (!runner.hasCheckpoint(lab, checkpoint)) {
      sendJson(response, 404, { error: "unknown-checkpoint", message: `lab "${lab}" has no checkpoint "${checkpoint}"` });
      return true;
    }
    let body: unknown;
    try {
      body = await readJson(request);
    } catch (error) {
      sendJson(response, 400, { error: "bad-request", message: `the body must be JSON: ${(error as Error).message}` });
      return true;
    }
    const parsed = CheckRequest.safeParse(body);
    if (!parsed.success) {
      sendJson(response, 400, { error: "bad-request", message: "the body must be {\"environment\": \"<id>\"}" });
      return true;
    }
    const environment = sessions.environment(parsed.data.environment);
    if (!environment || environment.lab !== lab) {
      sendJson(response, 404, {
        error: "unknown-environment",
        message: "this lab environment has ended on the server: start the terminal again, redo the steps, then check",
      });
      return true;
    }
    sendJson(response, 200, await runner.run(lab, checkpoint, environment));
    return true;
  };
}
