/**
 * The lab definitions (labs/<series>/<lab>/lab.yaml, loaded and validated by
 * server/labs.ts), for components at build time: checkpoint titles and hints
 * come from the lab, not from the page, so they cannot drift apart.
 */
import { loadLabs, findCheckpoint, type LabCatalog, type LoadedLab } from "../../server/labs.ts";

let catalog: LabCatalog | undefined;

export function labCatalog(): LabCatalog {
  // Loaded once per build; the dev server re-imports this module when labs change.
  catalog ??= loadLabs();
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
