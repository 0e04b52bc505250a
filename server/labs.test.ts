import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { findCheckpoint, findLab, LabDefinitionError, loadLabs, unresolvedReferences } from "./labs.ts";

const temporary: string[] = [];
afterEach(() => {
  for (const dir of temporary.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function labsWith(yaml: string, scripts: string[] = ["checks/a.sh", "solves/a.sh"]): string {
  const root = mkdtempSync(path.join(tmpdir(), "nwl-labs-"));
  temporary.push(root);
  const dir = path.join(root, "series-x", "lab-1");
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "lab.yaml"), yaml);
  for (const script of scripts) {
    mkdirSync(path.dirname(path.join(dir, script)), { recursive: true });
    writeFileSync(path.join(dir, script), "true\n");
  }
  return root;
}

const validYaml = `id: series-x-lab-1
title: A lab
series: series-x
checkpoints:
  - id: first
    title: First
    check: checks/a.sh
    solve: solves/a.sh
    hint: do it
`;

function problemsOf(root: string): string[] {
  try {
    loadLabs(root);
  } catch (error) {
    expect(error).toBeInstanceOf(LabDefinitionError);
    return [...(error as LabDefinitionError).problems];
  }
  throw new Error("expected the labs to be rejected");
}

describe("lab loader", () => {
  it("loads the real labs, Part 1 with its checkpoints in order", () => {
    const labs = loadLabs("labs");
    const part1 = findLab(labs, "k8s-nix-way-part-1");
    expect(part1?.definition.series).toBe("k8s-nix-way");
    expect(findLab(labs, "k8s-nix-way/part-1")).toBe(part1);
    expect(part1!.definition.checkpoints.map((checkpoint) => checkpoint.id)).toEqual([
      "nix-layout",
      "etcd-healthy",
      "certificates",
      "containerd-reachable",
      "cni-failure-reproduced",
      "cni-fixed",
      "image-pulled",
      "container-created",
      "task-running",
      "echo-output",
      "task-killed",
      "containers-removed",
      "images-removed",
    ]);
    expect(findCheckpoint(part1!, "cni-fixed")?.timeoutMs).toBeGreaterThan(0);
  });

  it("applies defaults", () => {
    const lab = findLab(loadLabs(labsWith(validYaml)), "series-x-lab-1")!;
    expect(lab.definition.checkpoints[0]!.timeoutMs).toBe(15_000);
    expect(lab.definition.environment).toEqual({ cniConfigDir: "empty", reset: "recreate" });
    expect(lab.definition.requires.commands).toEqual([]);
  });

  it("names the file and the field of a schema error", () => {
    const problems = problemsOf(labsWith(validYaml.replace("    hint: do it\n", "    hint: do it\n    timeoutMs: fast\n")));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/series-x\/lab-1\/lab\.yaml: checkpoints\[0\]\.timeoutMs: /);
  });

  it("rejects unknown fields, scripts outside the lab and missing scripts", () => {
    const problems = problemsOf(
      labsWith(validYaml.replace("check: checks/a.sh", "check: ../../etc/evil.sh").replace("title: A lab", "title: A lab\ncolour: red"), []),
    );
    expect(problems.join("\n")).toMatch(/lab\.yaml: checkpoints\[0\]\.check: must be a relative path/);
    expect(problems.join("\n")).toMatch(/lab\.yaml: \(document\): Unrecognized key: "colour"/);
    const missing = problemsOf(labsWith(validYaml, ["checks/a.sh"]));
    expect(missing).toEqual([expect.stringMatching(/lab\.yaml: checkpoints\[0\]\.solve: solves\/a\.sh does not exist/)]);
  });

  it("rejects a series that does not match the folder, and duplicate checkpoint ids", () => {
    const yaml = validYaml.replace("series: series-x", "series: other") + validYaml.slice(validYaml.indexOf("  - id: first"));
    const problems = problemsOf(labsWith(yaml));
    expect(problems.join("\n")).toMatch(/checkpoints\[1\]\.id: duplicate checkpoint id "first"/);
  });

  it("rejects a lab that continues an unknown lab, or itself", () => {
    expect(problemsOf(labsWith(validYaml.replace("title: A lab", "title: A lab\ncontinues: no-such-lab")))).toEqual([
      expect.stringMatching(/lab\.yaml: continues: no lab "no-such-lab"/),
    ]);
    expect(problemsOf(labsWith(validYaml.replace("title: A lab", "title: A lab\ncontinues: series-x-lab-1")))).toEqual([
      expect.stringMatching(/continues: "series-x-lab-1" leads back to "series-x-lab-1"/),
    ]);
  });

  it("reports YAML syntax errors with the file", () => {
    expect(problemsOf(labsWith("id: [unclosed\n"))[0]).toMatch(/lab-1\/lab\.yaml: /);
  });

  it("tells the site build which page references do not resolve", () => {
    const labs = loadLabs("labs");
    expect(
      unresolvedReferences(labs, [
        { lab: "k8s-nix-way-part-1", checkpoint: "cni-fixed", source: "a.mdx:1" },
        { lab: "k8s-nix-way-part-1", checkpoint: "nope", source: "a.mdx:2" },
        { lab: "no-such-lab", source: "b.mdx:3" },
      ]),
    ).toEqual([expect.stringMatching(/^a\.mdx:2: lab "k8s-nix-way-part-1" has no checkpoint "nope"/), expect.stringMatching(/^b\.mdx:3: unknown lab "no-such-lab"/)]);
  });
});
