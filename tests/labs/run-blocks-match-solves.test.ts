/**
 * Each lab page's `<Run check="X">` blocks are in X's solve script, in order
 * (the rule is in scripts/run-blocks.ts). Known differences are listed below,
 * each with its reason; an entry that no longer differs fails too, so the
 * list cannot go stale.
 */
import path from "node:path";
import { describe, expect, test } from "vitest";
import { missingFromSolve, runBlockMismatches, runBlocksOf } from "../../scripts/run-blocks.ts";
import { loadLabs } from "../../server/labs.ts";
import { projectRoot } from "../importer/project-copy.ts";

/** page:check → the commands the solve lacks, and why that is accepted (for now). */
const KNOWN_DIFFERENCES: Record<string, { missing: string[]; reason: string }> = {
};

describe("the rule", () => {
  test("the block's commands must be in the solve in order; the solve may hold more", () => {
    expect(missingFromSolve(["git add k8s", "git status --short"], ["mkdir -p ~/k8s", "git init -q .", "git add k8s", "git status --short"])).toEqual([]);
    expect(missingFromSolve(["b", "a"], ["a", "b"])).toEqual(["a"]);
    expect(missingFromSolve(["ctr task ls"], ["ctr tasks ls"])).toEqual(["ctr task ls"]);
  });

  test("Run blocks are read with remark-mdx, with the page's lab, their shell blocks only", () => {
    const page = ['---', 'title: T', 'lab: some-lab', '---', '', '<Run check="one">', '', '```sh', 'a && b # why', '```', '', '```nix', '{ }', '```', '', '</Run>', '', '<Run>', '', '```sh', 'c', '```', '', '</Run>'].join("\n");
    expect(runBlocksOf(page, "p.mdx")).toEqual([{ source: "p.mdx:6", lab: "some-lab", check: "one", commands: ["a", "b"] }]);
  });
});

test("every lab page's Run blocks match their checkpoints' solve scripts", () => {
  const { blocks, mismatches } = runBlockMismatches(path.join(projectRoot, "src", "content", "docs"), loadLabs(path.join(projectRoot, "labs")), projectRoot);
  expect(blocks.length).toBeGreaterThan(0);
  const found = Object.fromEntries(mismatches.map((mismatch) => [`${mismatch.source.replace(/:\d+$/, "")}:${mismatch.check}`, mismatch]));
  const unexpected = Object.entries(found)
    .filter(([key, mismatch]) => JSON.stringify(KNOWN_DIFFERENCES[key]?.missing) !== JSON.stringify(mismatch.missing))
    .map(([, mismatch]) => `${mismatch.source}: <Run check="${mismatch.check}">: not in ${mismatch.solve || "its solve"}: ${mismatch.missing.map((command) => JSON.stringify(command)).join(", ")}`);
  const stale = Object.keys(KNOWN_DIFFERENCES).filter((key) => !found[key]).map((key) => `${key}: listed as a known difference but matches now (remove it from KNOWN_DIFFERENCES)`);
  expect([...unexpected, ...stale]).toEqual([]);
});
