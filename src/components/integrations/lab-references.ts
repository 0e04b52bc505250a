/**
 * Astro integration: the build fails when a page names a lab or checkpoint
 * that no lab definition has (frontmatter `lab`, <Checkpoint id>, <Run check>,
 * <Terminal lab>), with the file and line of each. Checked before anything is
 * rendered, so one run lists every problem.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { AstroIntegration } from "astro";
import { parse as parseYaml } from "yaml";
import { loadLabs, unresolvedReferences, type LabCatalog, type LabReference } from "../../../server/labs.ts";

const PAGE = /\.mdx?$/;
/** <Checkpoint id="x">, <Run check="x">, <Terminal lab="x">, <LabProgress lab="x">: string-literal attributes only. */
const TAG = /<(Checkpoint|Run|Terminal|LabProgress)\b([^>]*)>/g;
const ATTRIBUTE = /\b(id|check|lab)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

/** The .md and .mdx files under dir (the docs pages), recursively. */
export function pages(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    return statSync(file).isDirectory() ? pages(file) : PAGE.test(name) ? [file] : [];
  });
}

export function pageReferences(file: string, source: string): LabReference[] {
  const references: LabReference[] = [];
  const lineOf = (index: number) => source.slice(0, index).split("\n").length;
  const frontmatter = /^---\r?\n([\s\S]*?)\r?\n---/.exec(source);
  const data = frontmatter ? (parseYaml(frontmatter[1] ?? "") as Record<string, unknown> | null) : null;
  const pageLab = typeof data?.lab === "string" ? data.lab : undefined;
  if (pageLab) {
    const line = (frontmatter?.[1] ?? "").split("\n").findIndex((text) => /^lab\s*:/.test(text)) + 2;
    references.push({ lab: pageLab, source: `${file}:${line}` });
  }
  for (const tag of source.matchAll(TAG)) {
    const [, name, attributes = ""] = tag;
    const values: Record<string, string> = {};
    for (const attribute of attributes.matchAll(ATTRIBUTE)) values[attribute[1]!] = attribute[2] ?? attribute[3] ?? "";
    const lab = values.lab ?? pageLab;
    const where = `${file}:${lineOf(tag.index)}`;
    const checkpoint = name === "Checkpoint" ? values.id : name === "Run" ? values.check : undefined;
    if (checkpoint === undefined && values.lab === undefined) continue;
    if (!lab) {
      references.push({ lab: "", checkpoint, source: `${where} (<${name}> on a page without frontmatter \`lab\`)` });
      continue;
    }
    references.push({ lab, checkpoint, source: where });
  }
  return references;
}

/**
 * Checks every page under docsDir against the labs (loaded from root/labs unless given):
 * throws, naming each file and line, when a page names a lab or checkpoint that does not exist.
 */
export function check(root: string, docsDir: string, labs: LabCatalog = loadLabs(path.join(root, "labs"))): void {
  const references = pages(docsDir).flatMap((file) => pageReferences(path.relative(root, file), readFileSync(file, "utf8")));
  const problems = unresolvedReferences(labs, references);
  if (problems.length) throw new Error(`pages name labs or checkpoints that do not exist:\n${problems.map((p) => `  ${p}`).join("\n")}`);
}

export function labReferences(): AstroIntegration {
  let docsDir = "";
  let root = "";
  return {
    name: "nwl-lab-references",
    hooks: {
      "astro:config:done": ({ config }) => {
        root = fileURLToPath(config.root);
        docsDir = path.join(fileURLToPath(config.srcDir), "content", "docs");
      },
      "astro:build:start": () => check(root, docsDir),
      "astro:server:setup": ({ logger }) => {
        // In dev, a wrong reference is reported but does not stop the server.
        try {
          check(root, docsDir);
        } catch (error) {
          logger.error((error as Error).message);
        }
      },
    },
  };
}
