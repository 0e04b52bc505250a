/**
 * The lab runtime: what a lab asks of every driver, above all of them. It
 * checks a lab's requirements before the server opens, runs the lab's setup
 * in each new environment, and runs checkpoints' check and solve scripts.
 * Only scripts from lab definitions are ever run: a browser names a lab and
 * a checkpoint, never a script.
 */
import type { LabEnvironment, ScriptResult, SessionDriver } from "./drivers/driver.ts";
import { LAB_IMAGES } from "./environment/images.ts";
import { MissingPrerequisitesError, missingCniPlugins, missingCommands } from "./environment/prerequisites.ts";
import { findCheckpoint, findLab, readLabScript, type LabCatalog, type LoadedLab } from "./labs.ts";
import type { CheckpointResult } from "./lab-api-protocol.ts";

/** How long a lab's environment setup may take. */
const SETUP_TIMEOUT_MS = 60_000;
/** How long a solve may take (a reader's step, typed for them). */
const SOLVE_TIMEOUT_MS = 60_000;

export type { CheckpointResult };

export class UnknownCheckpointError extends Error {
  constructor(lab: LoadedLab, checkpointId: string) {
    const known = lab.definition.checkpoints.map((checkpoint) => checkpoint.id).join(", ");
    super(`lab "${lab.definition.id}" has no checkpoint "${checkpointId}" (it has: ${known})`);
    this.name = "UnknownCheckpointError";
  }
}

/** What a lab needs that this host lacks, one line each, naming what to install. */
export function missingRequirements(lab: LoadedLab): string[] {
  const requires = lab.definition.requires;
  const commands = requires.commands.map((command) => (typeof command === "string" ? { name: command } : command));
  const unserved = requires.images.filter((image) => !(LAB_IMAGES as readonly string[]).includes(image));
  const id = lab.definition.id;
  return [
    ...[...missingCommands(commands), ...missingCniPlugins(requires.cniPlugins)].map((line) => `lab ${id}: ${line}`),
    ...unserved.map((image) => `lab ${id}: image ${image} is not served by the local registry (it serves ${LAB_IMAGES.join(", ")})`),
  ];
}

export class LabRuntime {
  readonly driver: SessionDriver;
  readonly labs: LabCatalog;

  constructor(driver: SessionDriver, labs: LabCatalog) {
    this.driver = driver;
    this.labs = labs;
  }

  lab(id: string): LoadedLab | undefined {
    return findLab(this.labs, id);
  }

  /** Checkpoint summaries per lab, for GET /api/labs. */
  list(): { id: string; title: string; checkpoints: { id: string; title: string }[] }[] {
    return [...this.labs.values()].map((lab) => ({
      id: lab.definition.id,
      title: lab.definition.title,
      checkpoints: lab.definition.checkpoints.map((checkpoint) => ({ id: checkpoint.id, title: checkpoint.title })),
    }));
  }

  hasCheckpoint(labId: string, checkpointId: string): boolean {
    const lab = this.labs.get(labId);
    return lab !== undefined && findCheckpoint(lab, checkpointId) !== undefined;
  }

  /** Checks every lab's requirements (all problems at once), then lets the driver bring up what environments share. */
  async prepare(labIds: readonly string[] = [...this.labs.keys()]): Promise<void> {
    const missing: string[] = [];
    for (const id of labIds) {
      const lab = this.lab(id);
      if (lab) missing.push(...missingRequirements(lab));
      else missing.push(`unknown lab "${id}"`);
    }
    if (missing.length) throw new MissingPrerequisitesError("the requested labs", missing);
    await this.driver.prepare(labIds);
  }

  /** A new environment of the lab, its setup done; disposed again when the setup fails. */
  async createEnvironment(labId: string): Promise<LabEnvironment> {
    const lab = this.lab(labId);
    const environment = await this.driver.createEnvironment(labId);
    const setup = lab?.definition.environment.setup;
    if (!setup) return environment;
    let result: ScriptResult;
    try {
      result = await environment.runScript(readLabScript(lab, setup), { timeoutMs: SETUP_TIMEOUT_MS });
    } catch (error) {
      await environment.dispose().catch(() => {});
      throw error;
    }
    if (result.exitCode !== 0) {
      await environment.dispose().catch(() => {});
      throw new Error(`lab ${labId}: environment setup failed (exit ${result.exitCode}):\n${result.output}`);
    }
    return environment;
  }

  /** Runs the checkpoint's check in the environment, killed at the checkpoint's timeout. */
  async check(labId: string, checkpointId: string, environment: LabEnvironment): Promise<CheckpointResult> {
    const { lab, checkpoint } = this.resolve(labId, checkpointId, environment);
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

  /** The lab's checkpoint ids, in the order of the lab. */
  checkpointOrder(labId: string): string[] {
    return this.lab(labId)?.definition.checkpoints.map((checkpoint) => checkpoint.id) ?? [];
  }

  /** A checkpoint's title and solve script text (what the terminal shows a reader who asked for the solve). */
  describeSolve(labId: string, checkpointId: string): { title: string; script: string } {
    const lab = this.lab(labId);
    const checkpoint = lab && findCheckpoint(lab, checkpointId);
    if (!lab || !checkpoint) throw new Error(`unknown checkpoint ${labId}/${checkpointId}`);
    return { title: checkpoint.title, script: readLabScript(lab, checkpoint.solve) };
  }

  /** Runs the checkpoint's solve: what a reader would type, from the lab definition. */
  async solve(labId: string, checkpointId: string, environment: LabEnvironment, timeoutMs = SOLVE_TIMEOUT_MS): Promise<ScriptResult> {
    const { lab, checkpoint } = this.resolve(labId, checkpointId, environment);
    return environment.runScript(readLabScript(lab, checkpoint.solve), { timeoutMs });
  }

  private resolve(labId: string, checkpointId: string, environment: LabEnvironment) {
    const lab = this.lab(labId);
    if (!lab) throw new Error(`unknown lab "${labId}"`);
    const checkpoint = findCheckpoint(lab, checkpointId);
    if (!checkpoint) throw new UnknownCheckpointError(lab, checkpointId);
    if (environment.lab !== lab.definition.id) {
      throw new Error(`environment ${environment.id} belongs to lab "${environment.lab}", not "${lab.definition.id}"`);
    }
    return { lab, checkpoint };
  }
}
