import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { labReferences, pageReferences } from "./lab-references.ts";

const ROOT = path.resolve(import.meta.dirname, "../../..");
const temp = mkdtempSync(path.join(tmpdir(), "nwl-refs-"));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

/** Runs the integration the way `astro build` does, over a docs folder holding `pages`. */
function buildStart(pages: Record<string, string>): void {
  const srcDir = path.join(temp, `src-${Object.keys(pages).join("-")}`);
  mkdirSync(path.join(srcDir, "content", "docs"), { recursive: true });
  for (const [name, source] of Object.entries(pages)) writeFileSync(path.join(srcDir, "content", "docs", name), source);
  const integration = labReferences();
  const hooks = integration.hooks as Record<string, (options: unknown) => void>;
  hooks["astro:config:done"]!({ config: { root: pathToFileURL(`${ROOT}/`), srcDir: pathToFileURL(`${srcDir}/`) } });
  hooks["astro:build:start"]!({});
}

describe("lab references in pages", () => {
  it("finds the frontmatter lab, checkpoints and Run checks with their lines", () => {
    const source = `---\ntitle: x\nlab: k8s-nix-way-part-1\n---\n\n<Checkpoint id="cni-fixed" />\n<Run check='etcd-healthy'>\n`;
    expect(pageReferences("page.mdx", source)).toEqual([
      { lab: "k8s-nix-way-part-1", source: "page.mdx:3" },
      { lab: "k8s-nix-way-part-1", checkpoint: "cni-fixed", source: "page.mdx:6" },
      { lab: "k8s-nix-way-part-1", checkpoint: "etcd-healthy", source: "page.mdx:7" },
    ]);
  });

  it("lets the build go on when every reference exists", () => {
    expect(() => buildStart({ "good.mdx": `---\ntitle: ok\nlab: k8s-nix-way-part-1\n---\n<Checkpoint id="cni-fixed" />\n` })).not.toThrow();
  });

  it("fails the build naming the file, line and the unknown lab or checkpoint", () => {
    expect(() =>
      buildStart({
        "bad.mdx": `---\ntitle: bad\nlab: k8s-nix-way-part-1\n---\n\n<Checkpoint id="no-such-checkpoint" />\n`,
        "other.mdx": `---\ntitle: other\nlab: no-such-lab\n---\n`,
      }),
    ).toThrow(/bad\.mdx:6[\s\S]*no-such-checkpoint|no-such-checkpoint[\s\S]*bad\.mdx:6/);
    expect(() => buildStart({ "lab.mdx": `---\ntitle: other\nlab: no-such-lab\n---\n` })).toThrow(/no-such-lab/);
  });
});
