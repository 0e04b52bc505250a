/**
 * The HTTP API of the labs: a Check button posts here, and the server runs
 * that checkpoint's own check script from the lab definition in the reader's
 * environment. Nothing in the request is ever run: it only names things.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import type { Reader } from "./access.ts";
import type { LabRuntime } from "./lab-runtime.ts";
import { sendJson } from "./app.ts";
import type { LabSessions } from "./lab-sessions.ts";
import type { DriverHealth, LabEnvironment } from "./drivers/driver.ts";
import { log } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import { QueueFullError } from "./serial-queue.ts";

/** What the API needs of the lab runtime (server/lab-runtime.ts). */
export type CheckpointRunner = Pick<LabRuntime, "list" | "hasCheckpoint" | "check">;

/** What the server hands an API route: the request's reader is authenticated already. */
export interface ApiContext {
  sessions: LabSessions;
  reader: Reader;
  health(): DriverHealth;
  metrics?: Metrics;
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

class DegradedError extends Error {}

export function labApiRoutes(runner: CheckpointRunner) {
  return async (request: IncomingMessage, response: ServerResponse, { sessions, reader, health, metrics }: ApiContext): Promise<boolean> => {
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
    // Another reader's environment gets the same answer as one that does not exist.
    const environment = sessions.environment(parsed.data.environment, reader);
    if (!environment || environment.lab !== lab) {
      sendJson(response, 404, {
        error: "unknown-environment",
        message: "this lab environment has ended on the server: start the terminal again, redo the steps, then check",
      });
      return true;
    }
    const logger = log.child({ reader: reader.id, environment: environment.id, checkpoint });
    let result: Awaited<ReturnType<CheckpointRunner["check"]>>;
    try {
      result = await sessions.queueCheck(environment, async () => {
        // Asked again once its turn comes: the service may have gone down while it waited.
        const now = health();
        if (now.status !== "ok") throw new DegradedError(now.reasons.join("; "));
        return runner.check(lab, checkpoint, environment);
      });
    } catch (error) {
      if (error instanceof QueueFullError) {
        metrics?.refused.inc({ reason: "check-queue-full" });
        sendJson(response, 429, { error: "check-queue-full", message: "checks of this lab environment are already waiting their turn: wait for them, then check again" });
      } else if (error instanceof DegradedError) {
        metrics?.checks.inc({ result: "error" });
        sendJson(response, 503, { error: "service-degraded", message: `the check could not run: ${error.message}. Try again in a few seconds.` });
      } else {
        metrics?.checks.inc({ result: "error" });
        logger.error({ err: error }, "check failed to run");
        sendJson(response, 500, { error: "server-error", message: "the check could not run on the lab server" });
      }
      return true;
    }
    metrics?.checks.inc({ result: result.timedOut ? "timed-out" : result.passed ? "passed" : "failed" });
    metrics?.checkSeconds.observe(result.durationMs / 1000);
    logger.info({ passed: result.passed, durationMs: result.durationMs }, "check ran");
    sendJson(response, 200, result);
    return true;
  };
}
