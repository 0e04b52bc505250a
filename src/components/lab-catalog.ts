/**
 * The lab definitions (labs/<series>/<lab>/lab.yaml, loaded and validated by
 * server/labs.ts), for components at build time: checkpoint titles and hints
 * come from the lab, not from the page, so they cannot drift apart.
 */
import { loadLabs, findCheckpoint, type LabCatalog, type LoadedLab } from "../../server/labs.ts";

/**
 * Bumped by the dev server when a file under labs/ changes (integrations/lab-dev-reload.ts).
 * On globalThis, not in this module: the integration and the pages' module
 * runner each have their own instance of this file, but share the process.
 */
const GENERATION = Symbol.for("nwl.labs.generation");
const generations = globalThis as { [GENERATION]?: number };

export function labsChanged(): void {
  generations[GENERATION] = (generations[GENERATION] ?? 0) + 1;
}

let catalog: LabCatalog | undefined;
let loadedGeneration = -1;

export function labCatalog(): LabCatalog {
  // Loaded once per build; in dev, again after labs/ changed.
  const generation = generations[GENERATION] ?? 0;
  if (!catalog || loadedGeneration !== generation) {
    catalog = loadLabs();
    loadedGeneration = generation;
  }
  return catalog;
}

export function requireLab(lab: string | undefined, where: string): LoadedLab {
  if (!lab) throw new Error(`${where}: this page names no lab (frontmatter \`lab\`)`);
  const found = labCatalog().get(lab);
  if (!found) throw new Error(`${where}: unknown lab "${lab}" (labs: ${[...labCatalog().keys()].join(", ")})`);
  return found;
}

export function requireCheckpoint(lab: string | undefined, id: string, where: string) {
  const found = requireLab(lab, where);
  const checkpoint = findCheckpoint(found, id);
  if (!checkpoint) {
    const known = found.definition.checkpoints.map((c) => c.id).join(", ");
    throw new Error(`${where}: lab "${found.definition.id}" has no checkpoint "${id}" (it has: ${known})`);
  }
  return checkpoint;
}
