/** labs/lab.schema.json and labs/series.schema.json are what labs/schema.ts generates, and say what it says. */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { expect, test } from "vitest";
import { staleSchemaFiles } from "../../scripts/lab-schema.ts";
import { projectRoot } from "./project-copy.ts";

test("the committed JSON Schemas are up to date with labs/schema.ts (else: node scripts/lab-schema.ts)", () => {
  expect(staleSchemaFiles()).toEqual([]);
  const check = spawnSync(process.execPath, [path.join(projectRoot, "scripts", "lab-schema.ts"), "--check"], { cwd: projectRoot, encoding: "utf8" });
  expect(check.status, check.stderr).toBe(0);
});

test("the lab schema keeps the field descriptions, the id pattern and the closed objects an editor needs", () => {
  const schema = JSON.parse(readFileSync(path.join(projectRoot, "labs", "lab.schema.json"), "utf8"));
  expect(schema.required).toEqual(["id", "title", "series", "checkpoints"]);
  expect(schema.additionalProperties).toBe(false);
  expect(schema.properties.id.pattern).toBe("^[a-z0-9]+(?:-[a-z0-9]+)*$");
  const checkpoint = schema.properties.checkpoints.items;
  expect(checkpoint.required).toEqual(["id", "title", "check", "solve", "hint"]);
  expect(checkpoint.properties.check.description).toMatch(/exit 0 = pass/);
  expect(checkpoint.properties.timeoutMs).toMatchObject({ type: "integer", minimum: 500, maximum: 120000 });
});

test("every field of lab.yaml and series.yaml keeps its .describe() text, for the editor's hover", () => {
  const undescribed: string[] = [];
  const walk = (node: { properties?: Record<string, { description?: string }>; items?: unknown; anyOf?: unknown[] } | undefined, at: string) => {
    if (!node || typeof node !== "object") return;
    for (const [name, property] of Object.entries(node.properties ?? {})) {
      if (!property.description) undescribed.push(`${at}.${name}`);
      walk(property as never, `${at}.${name}`);
    }
    walk(node.items as never, `${at}[]`);
    for (const option of node.anyOf ?? []) walk(option as never, at);
  };
  for (const file of ["lab.schema.json", "series.schema.json"]) walk(JSON.parse(readFileSync(path.join(projectRoot, "labs", file), "utf8")), file);
  expect(undescribed).toEqual([]);
});

test("Part 1's lab.yaml names the schema on its first line, for editors with the YAML language server", () => {
  const first = readFileSync(path.join(projectRoot, "labs", "k8s-nix-way", "part-1", "lab.yaml"), "utf8").split("\n")[0];
  expect(first).toBe("# yaml-language-server: $schema=../../lab.schema.json");
});
