/**
 * The checkpoint runner: runs a checkpoint's check script, as the lab
 * definition names it, inside a reader's environment. Only lab files are
 * ever run: a browser names a lab and a checkpoint id, never a script.
 */
import type { LabEnvironment } from "./drivers/driver.ts";
import { findCheckpoint, readLabScript, type LabCatalog, type LoadedLab } from "./labs.ts";

export interface CheckpointResult {
  checkpoint: string;
  passed: boolean;
  /** The check's stdout and stderr (bounded by the driver): feedback for the reader. */
  output: string;
  /** The checkpoint's hint; meant to be shown when it did not pass. */
  hint: string;
  timedOut: boolean;
  durationMs: number;
}

export class UnknownCheckpointError extends Error {
  constructor(lab: LoadedLab, checkpointId: string) {
    const known = lab.definition.checkpoints.map((checkpoint) => checkpoint.id).join(", ");
    super(`lab "${lab.definition.id}" has no checkpoint "${checkpointId}" (it has: ${known})`);
    this.name = "UnknownCheckpointError";
  }
}

/** Runs the checkpoint's check in the environment, killed at the checkpoint's timeout. */
export async function runCheckpoint(lab: LoadedLab, checkpointId: string, environment: LabEnvironment): Promise<CheckpointResult> {
  const checkpoint = findCheckpoint(lab, checkpointId);
  if (!checkpoint) throw new UnknownCheckpointError(lab, checkpointId);
  if (environment.lab !== lab.definition.id) {
    throw new Error(`environment ${environment.id} belongs to lab "${environment.lab}", not "${lab.definition.id}"`);
  }
  const result = await environment.runScript(readLabScript(lab, checkpoint.check), { timeoutMs: checkpoint.timeoutMs });
  return {
    checkpoint: checkpoint.id,
    passed: result.exitCode === 0 && !result.timedOut,
    output: result.output,
    hint: checkpoint.hint,
    timedOut: result.timedOut,
    durationMs: result.durationMs,
  };
}

/**
 * Runs the checkpoint's solve (what a reader would type). For the lab test
 * and for authors: the lab server never runs solves on a reader's behalf.
 */
export async function runCheckpointSolve(lab: LoadedLab, checkpointId: string, environment: LabEnvironment, timeoutMs = 60_000) {
  const checkpoint = findCheckpoint(lab, checkpointId);
  if (!checkpoint) throw new UnknownCheckpointError(lab, checkpointId);
  return environment.runScript(readLabScript(lab, checkpoint.solve), { timeoutMs });
}

/** The runner the lab API (server/lab-api.ts, CheckpointRunner) calls, over a loaded lab catalog. */
export function checkpointRunner(labs: LabCatalog) {
  return {
    list: () =>
      [...labs.values()].map((lab) => ({
        id: lab.definition.id,
        title: lab.definition.title,
        checkpoints: lab.definition.checkpoints.map((checkpoint) => ({ id: checkpoint.id, title: checkpoint.title })),
      })),
    hasCheckpoint: (lab: string, checkpoint: string) => {
      const loaded = labs.get(lab);
      return loaded !== undefined && findCheckpoint(loaded, checkpoint) !== undefined;
    },
    run: (lab: string, checkpoint: string, environment: LabEnvironment) => {
      const loaded = labs.get(lab);
      if (!loaded) throw new Error(`unknown lab "${lab}"`);
      return runCheckpoint(loaded, checkpoint, environment);
    },
  };
}
