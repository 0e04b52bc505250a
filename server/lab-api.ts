/**
 * The HTTP API of the labs (routes and types on one screen in
 * lab-api-protocol.ts): a reader's environment per lab and its progress,
 * Check, Solve, Catch me up and Reset. The server runs only a checkpoint's
 * own scripts from the lab definition: a request names a lab and a
 * checkpoint, never a script.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Reader } from "./access.ts";
import type { LabRuntime } from "./lab-runtime.ts";
import { sendJson } from "./app.ts";
import { SessionError, type LabSessions } from "./lab-sessions.ts";
import type { DriverHealth, LabEnvironment } from "./drivers/driver.ts";
import { log } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import { QueueFullError } from "./serial-queue.ts";
import { BodyNotJsonError, BodyTooLargeError, readJsonBody } from "./request-body.ts";
import { ActionRequest, type ApiError, type CatchUpResult, type CheckpointResult, type SeriesProgress, type SolveResult } from "./lab-api-protocol.ts";

/** What the API needs of the lab runtime (server/lab-runtime.ts). */
export type CheckpointRunner = Pick<LabRuntime, "list" | "hasLab" | "hasCheckpoint" | "check" | "solve" | "checkpointOrder" | "describeSolve">;

/** What the server hands an API route: the request's reader is authenticated already. */
export interface ApiContext {
  sessions: LabSessions;
  reader: Reader;
  health(): DriverHealth;
  metrics?: Metrics;
}

const MAX_BODY_BYTES = 4096;
const ENVIRONMENT_ROUTE = /^\/api\/labs\/([A-Za-z0-9_-]{1,64})\/environment(\/reset)?$/;
const CHECKPOINT_ROUTE = /^\/api\/labs\/([A-Za-z0-9_-]{1,64})\/checkpoints\/([A-Za-z0-9_.-]{1,64})\/(check|solve|catch-up)$/;

/** An answer that is not a result: the status and the words for the reader. */
class ApiRefusal extends Error {
  readonly status: number;
  readonly code: ApiError["error"];
  constructor(status: number, code: ApiError["error"], message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function readJson(request: IncomingMessage, response: ServerResponse): Promise<unknown> {
  try {
    return await readJsonBody(request, response, MAX_BODY_BYTES, {});
  } catch (error) {
    if (error instanceof BodyTooLargeError) throw new ApiRefusal(413, "bad-request", error.message);
    if (error instanceof BodyNotJsonError) throw new ApiRefusal(400, "bad-request", error.message);
    throw error;
  }
}

async function readAction(request: IncomingMessage, response: ServerResponse): Promise<ActionRequest> {
  const parsed = ActionRequest.safeParse(await readJson(request, response));
  if (!parsed.success) throw new ApiRefusal(400, "bad-request", 'the body must be {} or {"environment": "<id>"}');
  return parsed.data;
}

const HTTP_STATUS_OF: Partial<Record<SessionError["code"], number>> = {
  "unknown-lab": 404,
  "limit-reached": 429,
  "environment-failed": 500,
  "server-error": 503,
};

export function labApiRoutes(runner: CheckpointRunner) {
  /** The reader's environment for the lab, made when there is none; a stale id from a page is refused. */
  async function environmentFor(lab: string, requested: string | undefined, { sessions, reader }: ApiContext): Promise<LabEnvironment> {
    if (requested !== undefined) {
      // Another reader's environment gets the same answer as one that does not exist.
      const named = sessions.environment(requested, reader);
      if (!named || named.lab !== lab) {
        throw new ApiRefusal(404, "unknown-environment", "this page's lab environment has ended on the server (it restarted, was reset, or was idle too long): the page now shows your new one");
      }
      return named;
    }
    try {
      return await sessions.ensureEnvironment(lab, reader);
    } catch (error) {
      if (error instanceof SessionError) throw new ApiRefusal(HTTP_STATUS_OF[error.code] ?? 500, error.code, error.message);
      throw error;
    }
  }

  /** Runs a task in the environment's queue (one check or solve at a time), after asking the service is up. */
  async function queued<T>(action: string, environment: LabEnvironment, context: ApiContext, task: () => Promise<T>): Promise<T> {
    try {
      return await context.sessions.queueCheck(environment, async () => {
        // Asked again once its turn comes: the service may have gone down while it waited.
        const now = context.health();
        if (now.status !== "ok") throw new ApiRefusal(503, "service-degraded", `the ${action} could not run: ${now.reasons.join("; ")}. Try again in a few seconds.`);
        return task();
      });
    } catch (error) {
      if (error instanceof QueueFullError) {
        context.metrics?.refused.inc({ reason: "check-queue-full" });
        throw new ApiRefusal(429, "check-queue-full", "checks of this lab environment are already waiting their turn: wait for them, then try again");
      }
      throw error;
    }
  }

  async function check(lab: string, checkpoint: string, environment: LabEnvironment, context: ApiContext): Promise<CheckpointResult> {
    const result = await runner.check(lab, checkpoint, environment);
    context.sessions.recordCheck(environment, checkpoint, result.passed);
    context.metrics?.checks.inc({ result: result.timedOut ? "timed-out" : result.passed ? "passed" : "failed" });
    context.metrics?.checkSeconds.observe(result.durationMs / 1000);
    return result;
  }

  /** A checkpoint's solve then its check, shown in the environment's terminals as it happens. */
  async function solve(lab: string, checkpoint: string, environment: LabEnvironment, context: ApiContext): Promise<SolveResult> {
    const { title, script } = runner.describeSolve(lab, checkpoint);
    const ran = await runner.solve(lab, checkpoint, environment);
    const checked = await check(lab, checkpoint, environment, context);
    // A step this host cannot run ran nothing: say why, never show a script as if it had run.
    if (checked.unavailable) context.sessions.announce(environment, { title: `“${title}”, not done here`, script: "", output: checked.unavailable, passed: false });
    else context.sessions.announce(environment, { title: `Solved “${title}” for you`, script, output: ran.output, passed: checked.passed });
    return { checkpoint, solve: ran, check: checked };
  }

  async function catchUp(lab: string, target: string, environment: LabEnvironment, context: ApiContext): Promise<CatchUpResult> {
    const order = runner.checkpointOrder(lab);
    const earlier = order.slice(0, order.indexOf(target));
    const steps: CatchUpResult["steps"] = [];
    for (const checkpoint of earlier) {
      // What passes now stays as the reader left it (solving it again could undo later steps); the check
      // says so, not the progress recorded earlier, which the reader may have undone since.
      const now = await check(lab, checkpoint, environment, context);
      if (now.passed) {
        steps.push({ checkpoint, outcome: "already-passed" });
        continue;
      }
      const result = await solve(lab, checkpoint, environment, context);
      steps.push({ checkpoint, outcome: result.check.passed ? "solved" : "failed", check: result.check });
      if (!result.check.passed) return { target, steps, passed: false };
    }
    return { target, steps, passed: true };
  }

  return async (request: IncomingMessage, response: ServerResponse, context: ApiContext): Promise<boolean> => {
    const url = new URL(request.url ?? "/", "http://localhost");
    const logger = log.child({ reader: context.reader.id });
    try {
      if (url.pathname === "/api/labs" && request.method === "GET") {
        sendJson(response, 200, { labs: runner.list() });
        return true;
      }
      if (url.pathname === "/api/progress" && request.method === "GET") {
        // The reader's progress in every lab of the series (home page, sidebar): their environments' own.
        const labs: SeriesProgress["labs"] = runner.list().map((lab) => {
          const state = context.sessions.state(lab.id, context.sessions.environmentOf(lab.id, context.reader));
          const passed = lab.checkpoints.filter((checkpoint) => state.progress[checkpoint.id]?.passed).length;
          return { lab: lab.id, environment: state.environment, passed, total: lab.checkpoints.length };
        });
        sendJson(response, 200, { labs });
        return true;
      }
      const environmentRoute = ENVIRONMENT_ROUTE.exec(url.pathname);
      if (environmentRoute) {
        const [, lab, reset] = environmentRoute as unknown as [string, string, string | undefined];
        if (!runner.hasLab(lab)) throw new ApiRefusal(404, "unknown-lab", `no lab named "${lab}" on this server`);
        const { sessions, reader } = context;
        if (request.method === "GET" && !reset) {
          sendJson(response, 200, sessions.state(lab, sessions.environmentOf(lab, reader)));
          return true;
        }
        if (request.method !== "POST") throw new ApiRefusal(405, "method-not-allowed", reset ? "POST to reset" : "GET or POST");
        await readAction(request, response);
        let environment: LabEnvironment;
        try {
          environment = reset ? await sessions.resetEnvironment(lab, reader) : await sessions.ensureEnvironment(lab, reader);
        } catch (error) {
          if (error instanceof SessionError) throw new ApiRefusal(HTTP_STATUS_OF[error.code] ?? 500, error.code, error.message);
          throw error;
        }
        sendJson(response, 200, sessions.state(lab, environment));
        return true;
      }
      const match = CHECKPOINT_ROUTE.exec(url.pathname);
      if (!match) return false;
      const [, lab, checkpoint, action] = match as unknown as [string, string, string, "check" | "solve" | "catch-up"];
      if (request.method !== "POST") throw new ApiRefusal(405, "method-not-allowed", `POST to ${action}`);
      if (!runner.hasCheckpoint(lab, checkpoint)) throw new ApiRefusal(404, "unknown-checkpoint", `lab "${lab}" has no checkpoint "${checkpoint}"`);
      const body = await readAction(request, response);
      const environment = await environmentFor(lab, body.environment, context);
      const started = performance.now();
      const result = await queued<CheckpointResult | SolveResult | CatchUpResult>(action, environment, context, () =>
        action === "check"
          ? check(lab, checkpoint, environment, context)
          : action === "solve"
            ? solve(lab, checkpoint, environment, context)
            : catchUp(lab, checkpoint, environment, context),
      );
      logger.info({ environment: environment.id, checkpoint, action, ms: Math.round(performance.now() - started) }, `${action} ran`);
      sendJson(response, 200, result);
      return true;
    } catch (error) {
      if (error instanceof ApiRefusal) {
        if (error.code === "service-degraded" || error.code === "server-error") context.metrics?.checks.inc({ result: "error" });
        sendJson(response, error.status, { error: error.code, message: error.message });
        return true;
      }
      context.metrics?.checks.inc({ result: "error" });
      logger.error({ err: error, path: url.pathname }, "lab API request failed");
      sendJson(response, 500, { error: "server-error", message: "the lab server could not do that: see its log" });
      return true;
    }
  };
}
