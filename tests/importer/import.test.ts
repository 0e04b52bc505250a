/**
 * The importer (scripts/import.ts) on two posts written for this test: a Zola
 * post (`+++` TOML) and a Hugo post (`---` YAML), each with prose, shell
 * blocks of several kinds, a nix or yaml block, a references section and
 * things it cannot map. The output is read back with remark (the same parser
 * MDX uses), loaded as a lab folder, its stub checks run, and the site built
 * with it.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import remarkFrontmatter from "remark-frontmatter";
import remarkGfm from "remark-gfm";
import remarkMdx from "remark-mdx";
import remarkParse from "remark-parse";
import { unified } from "unified";
import { parse as parseYaml } from "yaml";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { importPost, writeImport, type ImportResult } from "../../scripts/import.ts";
import { simpleCommands } from "../../scripts/shell-commands.ts";
import { loadLabFolder } from "../../server/labs.ts";
import { copyProject, projectRoot } from "./project-copy.ts";

const fixtures = path.join(projectRoot, "tests", "fixtures", "posts");
const ZOLA = path.join(fixtures, "zola-etcd-by-hand.md");
const HUGO = path.join(fixtures, "hugo-containers.md");
/** Prose MDX would read as JavaScript or JSX: paragraphs starting with import/export, braces, angle brackets, entities. */
const HAZARDS = path.join(fixtures, "hugo-mdx-hazards.md");
const importFixture = (file: string) => importPost(readFileSync(file, "utf8"), { file, series: "fixture-series" });

type Node = { type: string; name?: string; lang?: string; value?: string; attributes?: { name: string; value: string }[]; children?: Node[] };

/** The page as MDX sees it: top-level and nested nodes, in document order. */
function pageNodes(page: string): Node[] {
  const tree = unified().use(remarkParse).use(remarkMdx).use(remarkFrontmatter, ["yaml"]).parse(page) as Node;
  const all: Node[] = [];
  const walk = (node: Node) => {
    all.push(node);
    node.children?.forEach(walk);
  };
  walk(tree);
  return all;
}
const attribute = (node: Node, name: string) => node.attributes?.find((entry) => entry.name === name)?.value;
const frontMatterOf = (page: string) => parseYaml(/^---\n([\s\S]*?)\n---/.exec(page)![1]!) as Record<string, unknown>;

/** For each checkpoint of the page: the commands of the Run block just before it (and that block's check). */
function runBlocksBeforeCheckpoints(page: string): { id: string; run?: string; check?: string }[] {
  const nodes = pageNodes(page);
  const result: { id: string; run?: string; check?: string }[] = [];
  let lastRun: Node | undefined;
  for (const node of nodes) {
    if (node.type === "mdxJsxFlowElement" && node.name === "Run") lastRun = node;
    if (node.type === "mdxJsxFlowElement" && node.name === "Checkpoint") {
      result.push({ id: attribute(node, "id")!, run: lastRun?.children?.find((child) => child.type === "code")?.value, check: lastRun && attribute(lastRun, "check") });
      lastRun = undefined;
    }
  }
  return result;
}

describe("a Zola post (+++ TOML front matter)", () => {
  const result = importFixture(ZOLA);

  test("title, date and tags come from the front matter; the page names its lab and says it is a draft", () => {
    expect(result.frontMatter).toMatchObject({ format: "toml", title: "Keeping state: etcd by hand", date: "2025-03-14", tags: ["nix", "etcd"] });
    expect(result.labId).toBe("fixture-series-zola-etcd-by-hand");
    expect(frontMatterOf(result.page)).toMatchObject({ title: "Keeping state: etcd by hand", lab: "fixture-series-zola-etcd-by-hand", description: expect.stringContaining("Starting etcd") });
    expect(result.page).toContain("(2025-03-14; tags: nix, etcd)");
    expect(result.labYaml).toContain('"Keeping state: etcd by hand" (2025-03-14), tags: nix, etcd');
  });

  test("every shell block is a sh block; console prompts are stripped and their output kept apart", () => {
    const code = pageNodes(result.page).filter((node) => node.type === "code");
    const shell = code.filter((node) => node.lang === "sh").map((node) => node.value);
    expect(shell).toEqual([
      "ls -la /var/lib\nwhoami",
      expect.stringMatching(/^mkdir -p ~\/etcd-data\netcd --data-dir/),
      "etcdctl endpoint health\njournalctl -u etcd --no-pager | tail -n 5",
      "etcdctl put /greeting hello",
    ]);
    expect(code.find((node) => node.lang === "text")?.value).toBe("total 0\nroot");
    expect(result.page).not.toMatch(/^\s*\$ /m);
  });

  test("a checkpoint stub follows each block that changes state, and only those", () => {
    expect(runBlocksBeforeCheckpoints(result.page)).toEqual([
      { id: "where-the-data-lives", check: "where-the-data-lives", run: expect.stringContaining("mkdir -p ~/etcd-data") },
      { id: "writing-a-key", check: "writing-a-key", run: "etcdctl put /greeting hello" },
    ]);
    // The read-only blocks (ls/whoami, endpoint health/journalctl) are plain blocks: Run, no check.
    const runs = pageNodes(result.page).filter((node) => node.name === "Run");
    expect(runs).toHaveLength(2);
    expect(result.checkpoints.every((checkpoint) => checkpoint.title.startsWith("TODO: "))).toBe(true);
    expect(result.page.match(/TODO\(author\): write checks\//g)).toHaveLength(2);
  });

  test("non-shell code stays code; prose with { and < is escaped for MDX and reads the same", () => {
    expect(pageNodes(result.page).find((node) => node.lang === "nix")?.value).toBe("{ services.etcd.enable = true; }");
    const text = pageNodes(result.page)
      .filter((node) => node.type === "text")
      .map((node) => node.value)
      .join("");
    expect(text).toContain("set is written { a = 1; }: curly braces, and angle brackets too, as in 2 < 3 and <not-a-tag.");
  });

  test("the references section becomes a list of its links (reference-style links resolved)", () => {
    expect(result.references).toEqual([
      { text: "etcd's documentation", url: "https://etcd.io/docs/" },
      { text: "NixOS manual", url: "https://nixos.org/manual/nixos/stable/" },
      { text: "the previous post", url: "../flakes-first/" },
    ]);
    expect(result.page).toContain("## Further reading\n\n- [etcd's documentation](https://etcd.io/docs/)\n- [NixOS manual](https://nixos.org/manual/nixos/stable/)");
  });

  test("the report names what was not mapped: shortcodes, a relative image, a footnote, a relative link", () => {
    const kinds = result.report.map((item) => `${item.kind}@${item.line}`);
    expect(kinds).toEqual(expect.arrayContaining(["shortcode@46", "shortcode@60", "image@64", "footnote@54", "link@68"]));
    expect(result.report.find((item) => item.kind === "image")?.detail).toContain("./etcd-data.png");
    expect(result.page).toContain('{/* TODO(author): shortcode not imported: {{ youtube(id="dQw4w9WgXcQ") }} */}');
    expect(result.page).not.toContain("etcd-data.png)");
  });
});

describe("a Hugo post (--- YAML front matter)", () => {
  const result = importFixture(HUGO);

  test("title, date and tags come from the YAML front matter; the heading repeating the title is dropped", () => {
    expect(result.frontMatter).toMatchObject({ format: "yaml", title: "Containers without Docker", date: "2024-11-02", tags: ["containerd", "ctr"] });
    expect(result.page).not.toContain("# Containers without Docker");
    expect(result.report).toContainEqual({ kind: "heading", line: 9, detail: expect.stringContaining("repeats the title") });
    expect(result.report).toContainEqual({ kind: "front-matter", line: 1, detail: "front matter keys not mapped: categories" });
  });

  test("stubs follow the pull, the run in a list item and the removal, not `ctr images ls`", () => {
    expect(runBlocksBeforeCheckpoints(result.page)).toEqual([
      { id: "pulling", check: "pulling", run: "ctr image pull docker.io/library/busybox:latest" },
      { id: "pulling-2", check: "pulling-2", run: "ctr run --rm docker.io/library/busybox:latest hello echo hi" },
      { id: "cleaning-up", check: "cleaning-up", run: "ctr images rm docker.io/library/busybox:latest" },
    ]);
    expect(pageNodes(result.page).filter((node) => node.lang === "sh").map((node) => node.value)).toContain("ctr images ls");
    expect(result.stats).toEqual({ shellBlocks: 4, runBlocks: 3, readOnlyBlocks: 1, otherCode: 2 });
  });

  test("the yaml block and the block without a language stay code; autolinks count as references", () => {
    const code = pageNodes(result.page).filter((node) => node.type === "code");
    expect(code.find((node) => node.lang === "yaml")?.value).toBe("version: 2\nplugins: {}");
    expect(code.find((node) => !node.lang)?.value).toBe("CONTAINER    IMAGE    RUNTIME");
    expect(result.references.map((reference) => reference.url)).toEqual([
      "https://github.com/containerd/containerd/blob/main/docs/getting-started.md",
      "https://github.com/containerd/containerd/blob/main/docs/ops.md",
    ]);
  });

  test("the report names the HTML block, the inline HTML (once per line), the shortcode and the unlabelled block", () => {
    const kinds = result.report.map((item) => `${item.kind}@${item.line}`);
    expect(kinds).toEqual(expect.arrayContaining(["html@14", "shortcode@34", "code-language@38", "html@56"]));
    expect(result.report.filter((item) => item.kind === "html" && item.line === 56)).toHaveLength(2); // <kbd> and </kbd>
    expect(result.page).toContain("Press Ctrl+C to stop a `watch`.");
  });
});

describe("prose that MDX would misread", () => {
  const result = importFixture(HAZARDS);

  test("reads back, through remark-mdx and GFM, as the same text: no JavaScript, no JSX from the post", () => {
    const tree = unified().use(remarkParse).use(remarkMdx).use(remarkGfm).use(remarkFrontmatter, ["yaml"]).parse(result.page) as Node;
    const esm = (tree.children ?? []).filter((node) => node.type === "mdxjsEsm");
    expect(esm).toHaveLength(1); // the page's own component imports, nothing from the post
    const jsxNames = pageNodes(result.page).filter((node) => node.type.startsWith("mdxJsx")).map((node) => node.name);
    expect(new Set(jsxNames)).toEqual(new Set(["LabProgress", "Terminal", "Run", "Checkpoint"]));
    const text = pageNodes(result.page)
      .filter((node) => node.type === "text")
      .map((node) => node.value)
      .join("\n");
    for (const sentence of [
      'import foo from "bar" is how a paragraph may start.',
      "export const x = 1; also.",
      "Braces { and } and {{ not a shortcode and <3 and a ",
      " c and a < b > c.",
      "quote with {brace} and",
      "emph {y}",
      "and HTML entity & <div> and {.",
      "col {a}",
    ]) {
      expect(text).toContain(sentence);
    }
  });

  test("the shell block in a quote and the one after a list still get their stubs", () => {
    expect(result.checkpoints.map((checkpoint) => checkpoint.commands)).toEqual(["rm -rf /tmp/x", 'echo "{not jsx}" > /tmp/x']);
    expect(result.report).toContainEqual(expect.objectContaining({ kind: "html", detail: expect.stringContaining("<b>") }));
  });
});

test("console transcripts: `$ `, `user@host:dir$ ` and `% ` prompts are commands (with continuations), the rest output", () => {
  const post = "---\ntitle: T\n---\n\n```console\n$ mkdir x\nuser@host:~/k8s$ touch y \\\n  z\n50% done\n% echo hi\nhi\n```\n";
  const code = pageNodes(importPost(post, { file: "t.md" }).page).filter((node) => node.type === "code");
  expect(code.map((node) => [node.lang, node.value])).toEqual([
    ["sh", "mkdir x\ntouch y \\\n  z\necho hi"],
    ["text", "50% done\nhi"],
  ]);
});

describe("the lab folder it writes", () => {
  const results: ImportResult[] = [ZOLA, HUGO].map(importFixture);
  let out = "";
  beforeAll(() => {
    out = mkdtempSync(path.join(tmpdir(), "nwl-import-"));
    for (const result of results) writeImport(result, out);
  });
  afterAll(() => out && rmSync(out, { recursive: true, force: true }));

  test.each(results.map((result) => [result.slug, result] as const))("%s loads with the lab loader (schema-valid, scripts present)", (_slug, result) => {
    const dir = path.join(out, "labs", "fixture-series", result.slug);
    const { lab, problems } = loadLabFolder(dir);
    expect(problems).toEqual([]);
    expect(lab!.definition.checkpoints.map((checkpoint) => checkpoint.id)).toEqual(result.checkpoints.map((checkpoint) => checkpoint.id));
    expect(readFileSync(path.join(dir, "lab.yaml"), "utf8").split("\n")[0]).toBe("# yaml-language-server: $schema=../../lab.schema.json");
    expect(readFileSync(path.join(dir, "IMPORT-REPORT.md"), "utf8")).toContain("## Not mapped, or mapped with a loss");
  });

  test.each(results.flatMap((result) => result.checkpoints.map((checkpoint) => [result.slug, checkpoint.id] as const)))("%s: the stub check %s fails, and its solve is only a comment", (slug, id) => {
    const dir = path.join(out, "labs", "fixture-series", slug);
    const run = spawnSync("bash", [path.join(dir, "checks", `${id}.sh`)], { cwd: dir, encoding: "utf8" });
    expect(run.status).toBe(1);
    expect(run.stdout).toContain(`TODO: write the check for ${id}`);
    const solve = readFileSync(path.join(dir, "solves", `${id}.sh`), "utf8");
    expect(solve).toContain("# TODO(author)");
    expect(simpleCommands(solve)).toEqual([]);
  });
});

describe("the command line", () => {
  let out = "";
  beforeAll(() => {
    out = mkdtempSync(path.join(tmpdir(), "nwl-import-cli-"));
  });
  afterAll(() => out && rmSync(out, { recursive: true, force: true }));
  const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(projectRoot, "scripts", "import.ts"), ...args], { encoding: "utf8" });

  test("prints the report, writes page and lab folder, and refuses to overwrite them without --force", () => {
    const first = cli(HUGO, "--series", "fixture-series", "--out", out);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toContain("# Import report: Containers without Docker");
    expect(first.stdout).toContain("**shortcode**");
    expect(existsSync(path.join(out, "src", "content", "docs", "labs", "hugo-containers.mdx"))).toBe(true);
    expect(existsSync(path.join(out, "labs", "fixture-series", "hugo-containers", "IMPORT-REPORT.md"))).toBe(true);
    const again = cli(HUGO, "--series", "fixture-series", "--out", out);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain("exists (--force to overwrite)");
    expect(cli(HUGO, "--series", "fixture-series", "--out", out, "--force").status).toBe(0);
  });

  test("a series id that is not kebab-case is refused", () => {
    const fresh = mkdtempSync(path.join(tmpdir(), "nwl-import-series-"));
    try {
      const run = cli(HUGO, "--series", "Not A Series!", "--out", fresh);
      expect(run.status).toBe(1);
      expect(run.stderr).toContain("--series must be kebab-case");
      expect(existsSync(path.join(fresh, "labs"))).toBe(false);
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });
});

describe("the site builds with the imported drafts", () => {
  let site: ReturnType<typeof copyProject>;
  beforeAll(() => {
    site = copyProject();
  });
  afterAll(() => site?.remove());

  test("astro build passes; the pages have Run buttons, the checkpoints and their stub titles", () => {
    for (const post of [ZOLA, HUGO, HAZARDS]) {
      const run = spawnSync(process.execPath, [path.join(projectRoot, "scripts", "import.ts"), post, "--series", "fixture-series", "--out", site.dir], { encoding: "utf8" });
      expect(run.status, run.stderr).toBe(0);
    }
    const build = spawnSync(process.execPath, [path.join(projectRoot, "node_modules", "astro", "bin", "astro.mjs"), "build"], {
      cwd: site.dir,
      encoding: "utf8",
      env: { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("VITEST"))), NODE_ENV: "production", ASTRO_TELEMETRY_DISABLED: "1" },
      timeout: 170_000,
    });
    expect(build.status, `${build.stdout}\n${build.stderr}`.slice(-4000)).toBe(0);
    const html = readFileSync(path.join(site.dir, "dist", "labs", "zola-etcd-by-hand", "index.html"), "utf8");
    const commands = [...html.matchAll(/data-command="([^"]*)"/g)].map((match) => match[1]);
    expect(commands).toEqual(["ls -la /var/lib\nwhoami", expect.stringContaining("mkdir -p ~/etcd-data"), expect.stringContaining("etcdctl endpoint health"), "etcdctl put /greeting hello"]);
    expect([...html.matchAll(/data-checkpoint-id="([^"]*)"/g)].map((match) => match[1])).toEqual(["where-the-data-lives", "writing-a-key"]);
    expect(html).toContain("TODO: what <code>etcdctl put /greeting hello</code> leaves behind");
    const hugo = readFileSync(path.join(site.dir, "dist", "labs", "hugo-containers", "index.html"), "utf8");
    expect([...hugo.matchAll(/data-checkpoint-id="([^"]*)"/g)].map((match) => match[1])).toEqual(["pulling", "pulling-2", "cleaning-up"]);
    const hazards = readFileSync(path.join(site.dir, "dist", "labs", "hugo-mdx-hazards", "index.html"), "utf8");
    const text = hazards.replace(/<[^>]+>/g, "").replace(/&quot;|&#34;/g, '"').replace(/&lt;|&#60;/g, "<").replace(/&amp;|&#38;/g, "&");
    // Starlight's Markdown (smartypants) prints "bar" with curly quotes.
    for (const sentence of ["import foo from “bar” is how a paragraph may start.", "export const x = 1; also.", "Braces { and } and {{ not a shortcode and <3"]) {
      expect(text.includes(sentence), sentence).toBe(true);
    }
  }, 180_000);
});
