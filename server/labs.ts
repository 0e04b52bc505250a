/**
 * Loads every lab under labs/ (`labs/<series>/<folder>/lab.yaml`), validates
 * it with the lab schema and checks that the scripts it names exist. Errors
 * name the file and the field. Light on purpose (fs, yaml, zod): the site
 * build imports it to fail on pages naming unknown labs or checkpoints.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { LabSchema, SeriesSchema, type Checkpoint, type Lab, type Series } from "../labs/schema.ts";

export const LAB_FILE = "lab.yaml";

export interface LoadedLab {
  readonly definition: Lab;
  /** Absolute folder of the lab; scripts are relative to it. */
  readonly dir: string;
  /** The lab.yaml, as given to the loader (for messages). */
  readonly file: string;
}

export type LabCatalog = ReadonlyMap<string, LoadedLab>;

export class LabDefinitionError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid lab definitions:\n${problems.map((problem) => `  ${problem}`).join("\n")}`);
    this.name = "LabDefinitionError";
    this.problems = problems;
  }
}

function fieldPath(segments: readonly PropertyKey[]): string {
  return segments.reduce<string>((text, segment) => (typeof segment === "number" ? `${text}[${segment}]` : text ? `${text}.${String(segment)}` : String(segment)), "");
}

/** Validates one lab folder; returns the lab or the problems, each "file: field: message". */
export function loadLabFolder(dir: string, displayDir = dir): { lab?: LoadedLab; problems: string[] } {
  const file = path.join(displayDir, LAB_FILE);
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path.join(dir, LAB_FILE), "utf8"));
  } catch (error) {
    return { problems: [`${file}: ${(error as Error).message.split("\n")[0]}`] };
  }
  const result = LabSchema.safeParse(raw);
  if (!result.success) {
    return { problems: result.error.issues.map((issue) => `${file}: ${fieldPath(issue.path) || "(document)"}: ${issue.message}`) };
  }
  const definition = result.data;
  const problems: string[] = [];
  const series = path.basename(path.dirname(path.resolve(dir)));
  if (definition.series !== series) problems.push(`${file}: series: "${definition.series}" does not match its folder labs/${series}/`);
  const scripts: [string, string | undefined][] = [["environment.setup", definition.environment.setup]];
  definition.checkpoints.forEach((checkpoint, index) => {
    scripts.push([`checkpoints[${index}].check`, checkpoint.check], [`checkpoints[${index}].solve`, checkpoint.solve]);
  });
  for (const [field, script] of scripts) {
    if (script && !existsSync(path.join(dir, script))) problems.push(`${file}: ${field}: ${script} does not exist in ${displayDir}`);
  }
  return problems.length ? { problems } : { lab: { definition, dir: path.resolve(dir), file }, problems };
}

/** Every lab under labsDir, by id; throws a LabDefinitionError listing every problem found. */
export function loadLabs(labsDir = "labs"): LabCatalog {
  const labs = new Map<string, LoadedLab>();
  const problems: string[] = [];
  if (!existsSync(labsDir)) throw new LabDefinitionError([`${labsDir}: no such folder`]);
  const folders = (dir: string) => readdirSync(dir).filter((name) => !name.startsWith(".") && statSync(path.join(dir, name)).isDirectory()).sort();
  for (const series of folders(labsDir)) {
    for (const folder of folders(path.join(labsDir, series))) {
      const dir = path.join(labsDir, series, folder);
      if (!existsSync(path.join(dir, LAB_FILE))) continue;
      const result = loadLabFolder(dir);
      problems.push(...result.problems);
      if (!result.lab) continue;
      const existing = labs.get(result.lab.definition.id);
      if (existing) problems.push(`${result.lab.file}: id: "${result.lab.definition.id}" is already used by ${existing.file}`);
      else labs.set(result.lab.definition.id, result.lab);
    }
  }
  for (const lab of labs.values()) problems.push(...continuationProblems(labs, lab));
  if (problems.length) throw new LabDefinitionError(problems);
  return labs;
}

/** A lab's `continues` must name another lab, and following them must end (no lab continues itself, even by a detour). */
function continuationProblems(labs: LabCatalog, lab: LoadedLab): string[] {
  const seen = new Set([lab.definition.id]);
  for (let at = lab.definition.continues; at !== undefined; at = labs.get(at)?.definition.continues) {
    if (!labs.has(at)) return [`${lab.file}: continues: no lab "${at}" (labs: ${[...labs.keys()].join(", ")})`];
    if (seen.has(at)) return [`${lab.file}: continues: "${lab.definition.continues}" leads back to "${at}" (a lab cannot continue itself)`];
    seen.add(at);
  }
  return [];
}

/** The labs a new environment of `lab` must be brought through first, earliest first (its `continues`, theirs, …). */
export function continuationChain(labs: LabCatalog, lab: LoadedLab): LoadedLab[] {
  const chain: LoadedLab[] = [];
  for (let at = lab.definition.continues; at !== undefined; ) {
    const previous = labs.get(at);
    if (!previous || chain.includes(previous)) break;
    chain.unshift(previous);
    at = previous.definition.continues;
  }
  return chain;
}

/** Finds a lab by id, or by its folder as `series/folder`. */
export function findLab(labs: LabCatalog, idOrFolder: string): LoadedLab | undefined {
  return labs.get(idOrFolder) ?? [...labs.values()].find((lab) => lab.dir.endsWith(`${path.sep}${idOrFolder}`));
}

export function findCheckpoint(lab: LoadedLab, checkpointId: string): Checkpoint | undefined {
  return lab.definition.checkpoints.find((checkpoint) => checkpoint.id === checkpointId);
}

/** A page's reference to a lab (and optionally one of its checkpoints), and where it was found. */
export interface LabReference {
  lab: string;
  checkpoint?: string;
  /** e.g. "src/content/docs/labs/part-1.mdx:42" */
  source: string;
}

/** One message per reference to a lab or checkpoint that does not exist; empty when all resolve. */
export function unresolvedReferences(labs: LabCatalog, references: readonly LabReference[]): string[] {
  const problems: string[] = [];
  for (const reference of references) {
    const lab = labs.get(reference.lab);
    if (!lab) {
      problems.push(`${reference.source}: unknown lab "${reference.lab}" (labs: ${[...labs.keys()].join(", ") || "none"})`);
    } else if (reference.checkpoint !== undefined && !findCheckpoint(lab, reference.checkpoint)) {
      const known = lab.definition.checkpoints.map((checkpoint) => checkpoint.id).join(", ");
      problems.push(`${reference.source}: lab "${reference.lab}" has no checkpoint "${reference.checkpoint}" (it has: ${known})`);
    }
  }
  return problems;
}

/** The text of a lab's own script (check, solve or setup): the only scripts the server runs. */
export function readLabScript(lab: LoadedLab, relativePath: string): string {
  return readFileSync(path.join(lab.dir, relativePath), "utf8");
}

export const SERIES_FILE = "series.yaml";

/** Every series under labsDir (`labs/<series>/series.yaml`), validated; problems name the file and field. */
export function loadSeries(labsDir = "labs"): Series[] {
  const series: Series[] = [];
  const problems: string[] = [];
  for (const folder of readdirSync(labsDir).sort()) {
    const file = path.join(labsDir, folder, SERIES_FILE);
    if (!existsSync(file)) continue;
    let raw: unknown;
    try {
      raw = parseYaml(readFileSync(file, "utf8"));
    } catch (error) {
      problems.push(`${file}: ${(error as Error).message.split("\n")[0]}`);
      continue;
    }
    const result = SeriesSchema.safeParse(raw);
    if (!result.success) {
      problems.push(...result.error.issues.map((issue) => `${file}: ${fieldPath(issue.path) || "(document)"}: ${issue.message}`));
    } else if (result.data.id !== folder) {
      problems.push(`${file}: id: "${result.data.id}" does not match its folder labs/${folder}/`);
    } else series.push(result.data);
  }
  if (problems.length) throw new LabDefinitionError(problems);
  return series;
}
