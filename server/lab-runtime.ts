/**
 * The lab runtime: what a lab asks of every driver, above all of them. It
 * checks a lab's requirements before the server opens, runs the lab's setup
 * in each new environment, and runs checkpoints' check and solve scripts.
 * Only scripts from lab definitions are ever run: a browser names a lab and
 * a checkpoint, never a script.
 */
import type { LabEnvironment, ScriptResult, SessionDriver } from "./drivers/driver.ts";
import { LAB_IMAGES } from "./environment/images.ts";
import { MissingPrerequisitesError, missingCniPlugins } from "./environment/prerequisites.ts";
import { continuationChain, findCheckpoint, findLab, readLabScript, type LabCatalog, type LoadedLab } from "./labs.ts";
import { missingCommands } from "./environment/prerequisites.ts";
import type { Checkpoint } from "../labs/schema.ts";
import type { CheckpointResult } from "./lab-api-protocol.ts";
import type { Activity } from "./protocol.ts";

/** How long a lab's environment setup may take. */
const SETUP_TIMEOUT_MS = 60_000;
/** How long a solve may take (a reader's step, typed for them). */
const SOLVE_TIMEOUT_MS = 60_000;

export type { CheckpointResult };

/** What the lab ran in an environment for the reader (a solve), for its terminals to show: the protocol's `activity`. */
export type LabActivity = Omit<Activity, "type">;

/** Why a step cannot run on this host (its `needs` are missing), in words; undefined when it can. */
export function unavailableReason(checkpoint: Checkpoint): string | undefined {
  const needs = checkpoint.needs.map((command) => (typeof command === "string" ? { name: command } : command));
  const missing = missingCommands(needs);
  if (missing.length === 0) return undefined;
  return `This step needs what this lab server does not have: ${missing.join("; ")}. It runs on the NixOS lab VM, which has them (see Self-hosting).`;
}

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

  /**
   * Whether `id` is exactly a lab's id. (lab() also takes a folder, for the CLI: on the wire an alias
   * would make a second environment of the same lab, keyed by the alias, with progress nobody sees.)
   */
  hasLab(id: string): boolean {
    return this.labs.has(id);
  }

  /** Checkpoint summaries per lab, for GET /api/labs: with why a step cannot run here, when it cannot. */
  list(): { id: string; title: string; continues?: string; checkpoints: { id: string; title: string; unavailable?: string }[] }[] {
    return [...this.labs.values()].map((lab) => ({
      id: lab.definition.id,
      title: lab.definition.title,
      continues: lab.definition.continues,
      checkpoints: lab.definition.checkpoints.map((checkpoint) => ({ id: checkpoint.id, title: checkpoint.title, unavailable: unavailableReason(checkpoint) })),
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

  /**
   * A new environment of the lab, its setup done and, for a lab that continues
   * another, that lab's end state reached by its solves (each announced, for
   * the terminals to show); disposed again when any of it fails.
   */
  async createEnvironment(labId: string, announce: (activity: LabActivity) => void = () => {}): Promise<LabEnvironment> {
    const lab = this.lab(labId);
    const environment = await this.driver.createEnvironment(labId);
    try {
      // The labs it continues, earliest first, each set up and solved to its end; then its own setup.
      for (const previous of lab ? continuationChain(this.labs, lab) : []) {
        await this.runSetup(previous, environment);
        for (const checkpoint of previous.definition.checkpoints) {
          // A step this host cannot run (its `needs` are missing) is left out, and said so: it needs the lab VM.
          const unavailable = unavailableReason(checkpoint);
          if (unavailable) {
            announce({ title: `${previous.definition.title}: “${checkpoint.title}”, not done here`, script: "", output: unavailable, passed: false });
            continue;
          }
          const script = readLabScript(previous, checkpoint.solve);
          const ran = await environment.runScript(script, { timeoutMs: SOLVE_TIMEOUT_MS });
          const checked = await environment.runScript(readLabScript(previous, checkpoint.check), { timeoutMs: checkpoint.timeoutMs });
          const passed = checked.exitCode === 0 && !checked.timedOut;
          announce({ title: `${previous.definition.title}: “${checkpoint.title}”, done for you (this lab continues from there)`, script, output: ran.output, passed });
          if (!passed) throw new Error(`lab ${labId} continues ${previous.definition.id}, whose step "${checkpoint.id}" did not pass after its solve:\n${checked.output}`);
        }
      }
      if (lab) await this.runSetup(lab, environment);
    } catch (error) {
      await environment.dispose().catch(() => {});
      throw error;
    }
    return environment;
  }

  /** A lab's environment setup script, if it has one; throws with its output when it fails. */
  private async runSetup(lab: LoadedLab, environment: LabEnvironment): Promise<void> {
    const setup = lab.definition.environment.setup;
    if (!setup) return;
    const result = await environment.runScript(readLabScript(lab, setup), { timeoutMs: SETUP_TIMEOUT_MS });
    if (result.exitCode !== 0) throw new Error(`lab ${lab.definition.id}: environment setup failed (exit ${result.exitCode}):\n${result.output}`);
  }

  /** Runs the checkpoint's check in the environment, killed at the checkpoint's timeout. */
  async check(labId: string, checkpointId: string, environment: LabEnvironment): Promise<CheckpointResult> {
    const { lab, checkpoint } = this.resolve(labId, checkpointId, environment);
    const unavailable = unavailableReason(checkpoint);
    if (unavailable) return { checkpoint: checkpoint.id, passed: false, unavailable, output: unavailable, hint: checkpoint.hint, timedOut: false, durationMs: 0 };
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
    const unavailable = unavailableReason(checkpoint);
    if (unavailable) return { exitCode: 127, output: unavailable, timedOut: false, durationMs: 0 };
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
