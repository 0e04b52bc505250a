/**
 * The lab API, on one screen: its routes, requests and results, shared by
 * the server (server/lab-api.ts) and the page (src/client/lab-api-client.ts).
 * Beside the terminal's wire protocol (protocol.ts); imports only zod.
 *
 * A reader has one environment per lab (keyed by reader and lab, not by tab
 * or terminal), and its progress lives with it: a new environment starts
 * with none. The browser only ever names a lab and a checkpoint; the server
 * runs that checkpoint's own scripts from the lab definition.
 *
 *   GET  /api/labs                                        the labs and their checkpoints (with why a step cannot run here)
 *   GET  /api/progress                                    SeriesProgress: the reader's passed count in every lab
 *   GET  /api/labs/:lab/environment                       EnvironmentState (environment null: none yet)
 *   POST /api/labs/:lab/environment                       EnvironmentState, made first if there was none
 *   POST /api/labs/:lab/environment/reset                 EnvironmentState of a new environment (the lab's `reset`)
 *   POST /api/labs/:lab/checkpoints/:id/check     {environment?}   CheckpointResult
 *   POST /api/labs/:lab/checkpoints/:id/solve     {environment?}   SolveResult: its solve, then its check
 *   POST /api/labs/:lab/checkpoints/:id/catch-up  {environment?}   CatchUpResult: every earlier checkpoint whose check fails now, solved and checked, in order
 *
 * Errors answer `{error, message}` (ApiError) with a message for a reader.
 * `environment` in a body, when given, must be the reader's current one for
 * the lab: a page that still shows an ended environment gets 404
 * `unknown-environment` instead of acting on the new one unawares.
 */
import { z } from "zod";

// In a page, whose Content-Security-Policy forbids eval, zod must not probe for it (see protocol.ts).
if (typeof document !== "undefined") z.config({ jitless: true });

const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);

export const ActionRequest = z
  .object({
    environment: id.optional().describe("The environment the page shows; refused with 404 unknown-environment when it is no longer the reader's"),
  })
  .describe("Anything else in the body is ignored: nothing in a request is ever run");
export type ActionRequest = z.infer<typeof ActionRequest>;

export const CheckpointRecord = z.object({
  passed: z.boolean(),
  at: z.number().describe("When it was last checked (ms since the epoch)"),
});
export type CheckpointRecord = z.infer<typeof CheckpointRecord>;

export const EnvironmentState = z.object({
  lab: id,
  environment: id.nullable().describe("The reader's environment for this lab; null when there is none"),
  createdAt: z.number().nullable().describe("When it was made (ms since the epoch)"),
  progress: z.record(z.string(), CheckpointRecord).describe("The latest check of each checkpoint in this environment"),
  terminals: z.number().int().describe("Terminals open in it"),
  keptForMs: z.number().int().describe("How long it is kept once its last terminal has closed"),
  expiresAt: z.number().nullable().describe("When it will be disposed, while no terminal is open (ms since the epoch)"),
});
export type EnvironmentState = z.infer<typeof EnvironmentState>;

export const CheckpointResult = z.object({
  checkpoint: z.string(),
  passed: z.boolean(),
  output: z.string().describe("The check's own words (its stdout and stderr, bounded)"),
  hint: z.string().describe("The checkpoint's hint; shown when it did not pass"),
  timedOut: z.boolean(),
  durationMs: z.number(),
  unavailable: z.string().optional().describe("Why this step cannot run on this lab server (a command it needs is missing): it was not checked"),
});
export type CheckpointResult = z.infer<typeof CheckpointResult>;

export const ScriptRun = z.object({
  exitCode: z.number().int(),
  output: z.string(),
  timedOut: z.boolean(),
  durationMs: z.number(),
});

export const SolveResult = z.object({
  checkpoint: z.string(),
  solve: ScriptRun.describe("The checkpoint's solve script, as it ran"),
  check: CheckpointResult.describe("Its check, run right after"),
});
export type SolveResult = z.infer<typeof SolveResult>;

export const CatchUpResult = z.object({
  target: z.string().describe("The checkpoint caught up to (not itself solved)"),
  steps: z.array(
    z.object({
      checkpoint: z.string(),
      outcome: z.enum(["already-passed", "solved", "failed"]).describe("already-passed: its check passed as it was, and it was left alone"),
      check: CheckpointResult.optional(),
    }),
  ),
  passed: z.boolean().describe("Every earlier checkpoint passes now"),
});
export type CatchUpResult = z.infer<typeof CatchUpResult>;

export const SeriesProgress = z.object({
  labs: z.array(
    z.object({
      lab: id,
      environment: id.nullable().describe("The reader's environment for the lab; null when there is none (nothing passed)"),
      passed: z.number().int(),
      total: z.number().int(),
    }),
  ),
});
export type SeriesProgress = z.infer<typeof SeriesProgress>;

export const LabList = z.object({
  labs: z.array(
    z.object({
      id,
      title: z.string(),
      continues: id.optional(),
      checkpoints: z.array(z.object({ id: z.string(), title: z.string(), unavailable: z.string().optional() })),
    }),
  ),
});
export type LabList = z.infer<typeof LabList>;

export const ApiErrorCode = z.enum([
  "bad-request",
  "method-not-allowed",
  "unauthorized",
  "unknown-lab",
  "unknown-checkpoint",
  "unknown-environment",
  "check-queue-full",
  "limit-reached",
  "environment-failed",
  "service-degraded",
  "server-error",
  "not-found",
]);
export const ApiError = z.object({ error: ApiErrorCode.or(z.string()), message: z.string() });
export type ApiError = z.infer<typeof ApiError>;

export { labApiPath } from "./lab-api-paths.ts";
