/**
 * Publishes the lab folder's schema (labs/schema.ts, zod) as JSON Schema, so
 * an editor completes and checks `lab.yaml` and `series.yaml` (the YAML
 * language server reads the `# yaml-language-server: $schema=…` first line,
 * or .vscode/settings.json's `yaml.schemas`). The zod schema stays the one
 * source: the JSON files are generated, committed, and `--check` fails when
 * they are out of date.
 *
 *   node scripts/lab-schema.ts           write labs/lab.schema.json and labs/series.schema.json
 *   node scripts/lab-schema.ts --check   exit 1 if either differs from what would be written
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { LabSchema, SeriesSchema } from "../labs/schema.ts";

const labsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "labs");

/** `io: "input"`: what an author writes, so fields with defaults are optional. */
function jsonSchema(schema: z.ZodType, title: string, description: string): string {
  const generated = z.toJSONSchema(schema, { io: "input" }) as Record<string, unknown>;
  const { $schema, ...rest } = generated;
  return `${JSON.stringify({ $schema, title, description, ...rest }, null, 2)}\n`;
}

export function schemaFiles(): { file: string; text: string }[] {
  return [
    {
      file: path.join(labsDir, "lab.schema.json"),
      text: jsonSchema(LabSchema, "Nix Way Labs: lab.yaml", "labs/<series>/<lab>/lab.yaml. Generated from labs/schema.ts by `node scripts/lab-schema.ts`; do not edit."),
    },
    {
      file: path.join(labsDir, "series.schema.json"),
      text: jsonSchema(SeriesSchema, "Nix Way Labs: series.yaml", "labs/<series>/series.yaml. Generated from labs/schema.ts by `node scripts/lab-schema.ts`; do not edit."),
    },
  ];
}

/** The files whose committed text differs from the generated one. */
export function staleSchemaFiles(): string[] {
  return schemaFiles()
    .filter(({ file, text }) => {
      try {
        return readFileSync(file, "utf8") !== text;
      } catch {
        return true;
      }
    })
    .map(({ file }) => path.relative(process.cwd(), file));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv.includes("--check")) {
    const stale = staleSchemaFiles();
    if (stale.length) {
      console.error(`out of date (labs/schema.ts changed): ${stale.join(", ")}\nrun: node scripts/lab-schema.ts`);
      process.exit(1);
    }
    console.log("lab JSON schemas are up to date");
  } else {
    for (const { file, text } of schemaFiles()) {
      writeFileSync(file, text);
      console.log(`wrote ${path.relative(process.cwd(), file)}`);
    }
  }
}
