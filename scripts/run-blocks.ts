/**
 * Do a lab page's Run blocks match its lab's solve scripts? A `<Run check="X">`
 * block is what the reader types to pass checkpoint X; `solves/X.sh` is what
 * `npm run lab:test` and "Solve this step for me" type. If they drift, the
 * lab test proves a step the page no longer teaches.
 *
 * The rule: the block's commands appear in X's solve, in the same order (a
 * subsequence). Commands are compared as simple commands (scripts/shell-commands.ts:
 * split at newlines, `;`, `&&`, `||`, `&`; comments dropped; whitespace
 * collapsed). The solve may hold more: the step's earlier blocks that carry
 * no check (Part 1's `mkdir` before its `git add`), or a wait the reader does
 * by eye. Blocks that are not inside a `<Run check>` are not compared.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import remarkFrontmatter from "remark-frontmatter";
import remarkMdx from "remark-mdx";
import remarkParse from "remark-parse";
import { unified } from "unified";
import { parse as parseYaml } from "yaml";
import { findCheckpoint, readLabScript, type LabCatalog } from "../server/labs.ts";
import { simpleCommands } from "./shell-commands.ts";

const SHELL = new Set(["sh", "bash", "shell"]);

type Node = { type: string; name?: string; lang?: string | null; meta?: string | null; value?: string; attributes?: { name: string; value: unknown }[]; children?: Node[]; position?: { start: { line: number } } };

export interface RunBlock {
  /** e.g. src/content/docs/labs/part-1.mdx:123 */
  source: string;
  lab: string;
  check: string;
  commands: string[];
}

export interface RunBlockMismatch extends RunBlock {
  /** The block's commands missing from the solve (in order), or why it could not be compared. */
  missing: string[];
  solve: string;
}

function pageFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    return statSync(file).isDirectory() ? pageFiles(file) : /\.mdx$/.test(name) ? [file] : [];
  });
}

/** Every `<Run check>` of one MDX page, with its shell commands. */
export function runBlocksOf(source: string, displayFile: string): RunBlock[] {
  const tree = unified().use(remarkParse).use(remarkMdx).use(remarkFrontmatter, ["yaml"]).parse(source) as Node;
  const front = tree.children?.find((node) => node.type === "yaml");
  const data = front ? (parseYaml(front.value ?? "") as Record<string, unknown> | null) : null;
  const pageLab = typeof data?.lab === "string" ? data.lab : undefined;
  const blocks: RunBlock[] = [];
  const attribute = (node: Node, name: string) => {
    const value = node.attributes?.find((entry) => entry.name === name)?.value;
    return typeof value === "string" ? value : undefined;
  };
  const shellCode = (node: Node): Node[] =>
    node.type === "code" && SHELL.has(node.lang ?? "") && !/(^|\s)norun(\s|$)/.test(node.meta ?? "") ? [node] : (node.children ?? []).flatMap(shellCode);
  const walk = (node: Node) => {
    if (node.type === "mdxJsxFlowElement" && node.name === "Run") {
      const check = attribute(node, "check");
      const lab = attribute(node, "lab") ?? pageLab;
      if (check && lab) {
        blocks.push({ source: `${displayFile}:${node.position?.start.line ?? "?"}`, lab, check, commands: shellCode(node).flatMap((code) => simpleCommands(code.value ?? "")) });
      }
    }
    node.children?.forEach(walk);
  };
  walk(tree);
  return blocks;
}

/** The block's commands that are not in the solve, in order (empty: it matches). */
export function missingFromSolve(commands: readonly string[], solve: readonly string[]): string[] {
  const missing: string[] = [];
  let at = 0;
  for (const command of commands) {
    const found = solve.indexOf(command, at);
    if (found === -1) missing.push(command);
    else at = found + 1;
  }
  return missing;
}

/** Every Run block of every page under docsDir whose commands are not in its checkpoint's solve. */
export function runBlockMismatches(docsDir: string, labs: LabCatalog, root = process.cwd()): { blocks: RunBlock[]; mismatches: RunBlockMismatch[] } {
  const blocks = pageFiles(docsDir).flatMap((file) => runBlocksOf(readFileSync(file, "utf8"), path.relative(root, file)));
  const mismatches: RunBlockMismatch[] = [];
  for (const block of blocks) {
    const lab = labs.get(block.lab);
    const checkpoint = lab && findCheckpoint(lab, block.check);
    if (!lab || !checkpoint) {
      mismatches.push({ ...block, solve: "", missing: [`no checkpoint "${block.check}" in lab "${block.lab}"`] });
      continue;
    }
    const missing = missingFromSolve(block.commands, simpleCommands(readLabScript(lab, checkpoint.solve)));
    if (missing.length) mismatches.push({ ...block, solve: path.join(path.relative(root, lab.dir), checkpoint.solve), missing });
  }
  return { blocks, mismatches };
}
