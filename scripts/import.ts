/**
 * Turns a blog post (CommonMark, with Zola `+++` TOML or Hugo `---` YAML
 * front matter) into a draft lab: an MDX page and a lab folder whose
 * checkpoints are stubs that fail until the author writes them.
 *
 *   node scripts/import.ts POST.md [--series ID] [--slug SLUG] [--out DIR] [--force]
 *
 * Writes DIR/src/content/docs/labs/<slug>.mdx and DIR/labs/<series>/<slug>/
 * (lab.yaml, checks/, solves/, IMPORT-REPORT.md), and prints the report: what
 * it could not map. DIR defaults to this repository. The post is parsed with
 * remark (mdast), and the page written with remark-stringify and remark-mdx,
 * so prose is escaped for MDX (`{`, `<`) and structure is never guessed with
 * regular expressions.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { Code, Heading, Root } from "mdast";
import remarkFrontmatter from "remark-frontmatter";
import remarkGfm from "remark-gfm";
import remarkMdx from "remark-mdx";
import remarkParse from "remark-parse";
import remarkStringify from "remark-stringify";
import { parse as parseToml } from "smol-toml";
import { unified } from "unified";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { LAB_ID } from "../labs/schema.ts";
import { simpleCommands, stateChangingCommands } from "./shell-commands.ts";

/** Blocks that become runnable (Run types them into the terminal). */
const SHELL = new Set(["sh", "bash", "shell"]);
/** Transcripts: `$ ` lines are commands, the rest is output. */
const CONSOLE = new Set(["console", "shell-session", "shellsession", "terminal"]);
/** A section whose links become the page's reference list. */
const REFERENCES_HEADING = /^(references|links|further reading|read further|sources|see also|resources|bibliography)$/i;
/** Hugo `{{< x >}}` / `{{% x %}}`, Zola `{{ x(…) }}` / `{% x %}`: the site generator's, not Markdown's. */
const SHORTCODE = /\{\{[<%][\s\S]*?[%>]\}\}|\{%[\s\S]*?%\}|\{\{\s*[A-Za-z_][\w-]*\([\s\S]*?\)\s*\}\}/g;

export interface FrontMatter {
  title: string;
  date?: string;
  tags: string[];
  description?: string;
  slug?: string;
  format: "toml" | "yaml" | "none";
}

export interface ReportItem {
  /** e.g. "html", "shortcode", "image", "footnote", "code-language" */
  kind: string;
  /** Line in the post, when known. */
  line?: number;
  detail: string;
}

export interface StubCheckpoint {
  id: string;
  title: string;
  /** The block's commands, for the stubs' comments. */
  commands: string;
  /** Line of the block in the post. */
  line?: number;
}

export interface ImportResult {
  slug: string;
  series: string;
  labId: string;
  frontMatter: FrontMatter;
  /** The MDX page. */
  page: string;
  /** lab.yaml's text. */
  labYaml: string;
  checkpoints: StubCheckpoint[];
  /** Relative to the lab folder: checks/<id>.sh, solves/<id>.sh. */
  scripts: Record<string, string>;
  references: { text: string; url: string }[];
  /** What could not be mapped (or was mapped with a loss) and needs the author. */
  report: ReportItem[];
  /** Counts, for the report's head. */
  stats: { shellBlocks: number; runBlocks: number; readOnlyBlocks: number; otherCode: number };
}

export interface ImportOptions {
  /** The post's file name (for the slug and messages). */
  file: string;
  series?: string;
  slug?: string;
}

type AnyNode = { type: string; children?: AnyNode[]; value?: string; position?: { start: { line: number } }; [key: string]: unknown };

export function kebab(text: string, max = 48): string {
  const slug = text
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, max)
    .replace(/-+$/, "");
  return slug;
}

function plainText(node: AnyNode): string {
  if (typeof node.value === "string") return node.value;
  if (node.type === "image") return String(node.alt ?? "");
  return (node.children ?? []).map(plainText).join("");
}

function dateText(value: unknown): string | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString().slice(0, 10);
  if (typeof value === "string" && value.trim()) return /^\d{4}-\d{2}-\d{2}/.test(value.trim()) ? value.trim().slice(0, 10) : value.trim();
  return undefined;
}

function frontMatterOf(tree: Root, report: ReportItem[]): FrontMatter {
  const node = tree.children.find((child) => child.type === "yaml" || (child.type as string) === "toml") as AnyNode | undefined;
  if (!node) {
    report.push({ kind: "front-matter", detail: "no front matter (`+++` TOML or `---` YAML): title taken from the first heading, no date or tags" });
    return { title: "", tags: [], format: "none" };
  }
  const format = node.type === "toml" ? "toml" : "yaml";
  let data: Record<string, unknown> = {};
  try {
    const parsed = format === "toml" ? parseToml(node.value ?? "") : parseYaml(node.value ?? "");
    if (parsed && typeof parsed === "object") data = parsed as Record<string, unknown>;
  } catch (error) {
    report.push({ kind: "front-matter", line: node.position?.start.line, detail: `${format.toUpperCase()} front matter does not parse: ${(error as Error).message.split("\n")[0]}` });
  }
  const taxonomies = (data.taxonomies ?? {}) as Record<string, unknown>;
  const rawTags = data.tags ?? taxonomies.tags ?? [];
  const tags = (Array.isArray(rawTags) ? rawTags : [rawTags]).filter((tag) => typeof tag === "string" || typeof tag === "number").map(String);
  const string = (value: unknown) => (typeof value === "string" && value.trim() ? value.trim() : undefined);
  const known = new Set(["title", "date", "tags", "taxonomies", "description", "summary", "slug", "draft", "updated", "lastmod", "weight", "aliases", "extra", "author", "authors", "template", "toc"]);
  const ignored = Object.keys(data).filter((key) => !known.has(key));
  if (ignored.length) report.push({ kind: "front-matter", line: node.position?.start.line, detail: `front matter keys not mapped: ${ignored.join(", ")}` });
  return {
    title: string(data.title) ?? "",
    date: dateText(data.date),
    tags,
    description: string(data.description) ?? string(data.summary),
    slug: string(data.slug),
    format,
  };
}

/** `$ cmd` lines (and their `\` continuations) are commands; every other line is output. */
function splitTranscript(code: string): { commands: string; output: string; hadPrompts: boolean } {
  const commands: string[] = [];
  const output: string[] = [];
  let continuing = false;
  let hadPrompts = false;
  for (const line of code.split("\n")) {
    // `$ cmd`, `user@host:~/dir$ cmd` or zsh's `% cmd`; not output such as "50% done".
    const prompt = /^\s*(?:[\w.-]+@[\w.-]+(?::\S*)?)?\$ (.*)$/.exec(line) ?? /^\s*% (.*)$/.exec(line);
    if (continuing) {
      commands.push(line);
      continuing = /\\$/.test(line);
    } else if (prompt) {
      hadPrompts = true;
      commands.push(prompt[1]!);
      continuing = /\\$/.test(prompt[1]!);
    } else output.push(line);
  }
  if (!hadPrompts) return { commands: code, output: "", hadPrompts };
  return { commands: commands.join("\n"), output: output.join("\n").replace(/^\n+|\n+$/g, ""), hadPrompts };
}

const comment = (text: string) => `/* ${text.replace(/\*\//g, "* /").replace(/\s+/g, " ").trim()} */`;
const flowComment = (text: string): AnyNode => ({ type: "mdxFlowExpression", value: comment(text) });
const textComment = (text: string): AnyNode => ({ type: "mdxTextExpression", value: comment(text) });
const jsx = (name: string, attributes: Record<string, string>, children: AnyNode[] = []): AnyNode => ({
  type: "mdxJsxFlowElement",
  name,
  attributes: Object.entries(attributes).map(([key, value]) => ({ type: "mdxJsxAttribute", name: key, value })),
  children,
});

function isRelativeUrl(url: string): boolean {
  return !/^([a-z][a-z0-9+.-]*:|#|\/\/)/i.test(url);
}

export function importPost(source: string, options: ImportOptions): ImportResult {
  const report: ReportItem[] = [];
  const tree = unified().use(remarkParse).use(remarkFrontmatter, ["yaml", "toml"]).use(remarkGfm).parse(source) as Root;
  const frontMatter = frontMatterOf(tree, report);
  const firstHeading = tree.children.find((child): child is Heading => child.type === "heading");
  if (!frontMatter.title) frontMatter.title = firstHeading ? plainText(firstHeading as unknown as AnyNode) : path.basename(options.file, path.extname(options.file));

  const base = path.basename(options.file, path.extname(options.file));
  const slug = kebab(options.slug ?? frontMatter.slug ?? (base === "index" || base === "_index" ? path.basename(path.dirname(path.resolve(options.file))) : base)) || "imported-post";
  // The series names a folder and prefixes the lab id: take it as given or refuse it, never rewrite it silently.
  const series = options.series ?? "imported";
  if (!LAB_ID.test(series) || series.length > 48) throw new Error(`--series must be kebab-case, at most 48 characters (got "${series}")`);
  const labId = kebab(`${series}-${slug}`, 64);

  const definitions = new Map<string, string>();
  const collectDefinitions = (node: AnyNode) => {
    if (node.type === "definition") definitions.set(String(node.identifier).toLowerCase(), String(node.url));
    node.children?.forEach(collectDefinitions);
  };
  collectDefinitions(tree as unknown as AnyNode);

  const checkpoints: StubCheckpoint[] = [];
  const usedIds = new Set<string>();
  const stats = { shellBlocks: 0, runBlocks: 0, readOnlyBlocks: 0, otherCode: 0 };
  const references: { text: string; url: string }[] = [];
  let section = "";
  const lineOf = (node: AnyNode) => node.position?.start.line;

  const checkpointFor = (node: AnyNode, commands: string): AnyNode[] => {
    const base = kebab(section || "step", 40) || "step";
    let id = base;
    for (let n = 2; usedIds.has(id); n++) id = `${base}-${n}`;
    usedIds.add(id);
    const first = stateChangingCommands(commands)[0] ?? simpleCommands(commands)[0] ?? "";
    const shown = first.split("\n")[0]!.length > 60 ? `${first.split("\n")[0]!.slice(0, 57)}…` : first.split("\n")[0]!;
    checkpoints.push({ id, title: `TODO: what \`${shown.replace(/`/g, "'")}\` leaves behind`, commands, line: lineOf(node) });
    return [flowComment(`TODO(author): write checks/${id}.sh and solves/${id}.sh in labs/${series}/${slug}/, then a real title and hint in lab.yaml`), jsx("Checkpoint", { id })];
  };

  /** One code block of the post: what replaces it on the page. */
  const mapCode = (node: Code & AnyNode): AnyNode[] => {
    const lang = (node.lang ?? "").toLowerCase();
    if (CONSOLE.has(lang)) {
      const { commands, output, hadPrompts } = splitTranscript(node.value);
      if (!hadPrompts) report.push({ kind: "code-language", line: lineOf(node), detail: `\`${lang}\` block without \`$ \` prompts: taken as commands, check it` });
      const replaced = mapShell({ ...node, lang: "sh", value: commands }, node);
      return output ? [...replaced.slice(0, 1), { type: "code", lang: "text", meta: 'title="Output"', value: output }, ...replaced.slice(1)] : replaced;
    }
    if (SHELL.has(lang)) return mapShell(node, node);
    if (lang === "zsh" || lang === "fish") report.push({ kind: "code-language", line: lineOf(node), detail: `\`${lang}\` block kept as code (Run types only sh, bash and shell blocks): change it to \`sh\` if bash runs it` });
    if (!lang) report.push({ kind: "code-language", line: lineOf(node), detail: "code block without a language kept as code: if it is commands, mark it `sh` (then it gets Run)" });
    stats.otherCode++;
    return [node];
  };

  const mapShell = (node: AnyNode, original: AnyNode): AnyNode[] => {
    stats.shellBlocks++;
    const code: AnyNode = { type: "code", lang: "sh", meta: (original.meta as string | null) ?? null, value: String(node.value), position: original.position };
    if (!simpleCommands(String(node.value)).length) return [code];
    if (stateChangingCommands(String(node.value)).length === 0) {
      stats.readOnlyBlocks++;
      return [code];
    }
    stats.runBlocks++;
    const [note, checkpoint] = checkpointFor(original, String(node.value));
    const id = (checkpoint!.attributes as { value: string }[])[0]!.value;
    return [jsx("Run", { check: id }, [code]), note!, checkpoint!];
  };

  const linkOf = (node: AnyNode): { text: string; url: string } | undefined => {
    if (node.type === "link") return { text: plainText(node) || String(node.url), url: String(node.url) };
    if (node.type === "linkReference") {
      const url = definitions.get(String(node.identifier).toLowerCase());
      return url ? { text: plainText(node) || url, url } : undefined;
    }
    return undefined;
  };
  const linksIn = (node: AnyNode): { text: string; url: string }[] => {
    const own = linkOf(node);
    return own ? [own] : (node.children ?? []).flatMap(linksIn);
  };

  /** Phrasing content: shortcodes, inline HTML, relative images. */
  const mapInline = (node: AnyNode): AnyNode[] => {
    if (node.type === "text") {
      const value = String(node.value);
      const parts: AnyNode[] = [];
      let last = 0;
      for (const match of value.matchAll(SHORTCODE)) {
        if (match.index > last) parts.push({ type: "text", value: value.slice(last, match.index) });
        report.push({ kind: "shortcode", line: lineOf(node), detail: `\`${match[0].replace(/\s+/g, " ")}\`: the site generator's shortcode, left as a TODO comment` });
        parts.push(textComment(`TODO(author): shortcode not imported: ${match[0]}`));
        last = match.index + match[0].length;
      }
      if (!parts.length) return [node];
      if (last < value.length) parts.push({ type: "text", value: value.slice(last) });
      return parts;
    }
    if (node.type === "html") {
      report.push({ kind: "html", line: lineOf(node), detail: `inline HTML \`${String(node.value).slice(0, 60)}\` dropped (the text around it is kept)` });
      return [];
    }
    if (node.type === "image" && isRelativeUrl(String(node.url))) {
      report.push({ kind: "image", line: lineOf(node), detail: `image \`${node.url}\` ("${node.alt ?? ""}") has a relative path: not imported; copy it beside the page and link it, or use its full URL` });
      return [textComment(`TODO(author): image not imported: ${node.url} (${node.alt ?? ""})`)];
    }
    if (node.type === "footnoteReference") report.push({ kind: "footnote", line: lineOf(node), detail: `footnote [^${node.identifier}] kept as a GFM footnote (listed at the page's end): check it reads well there` });
    if ((node.type === "link" || node.type === "definition") && isRelativeUrl(String(node.url))) {
      report.push({ kind: "link", line: lineOf(node), detail: `relative link \`${node.url}\` points into the original site: make it a full URL` });
    }
    if (node.children) node.children = node.children.flatMap(mapInline);
    return [node];
  };

  /** Flow content, recursively (code blocks in list items and quotes are mapped too). */
  const mapFlow = (node: AnyNode): AnyNode[] => {
    switch (node.type) {
      case "yaml":
      case "toml":
        return [];
      case "heading":
        section = plainText(node);
        if (node.children) node.children = node.children.flatMap(mapInline);
        return [node];
      case "code":
        return mapCode(node as Code & AnyNode);
      case "html": {
        const value = String(node.value).trim();
        if (/^<!--[\s\S]*-->$/.test(value)) {
          report.push({ kind: "html", line: lineOf(node), detail: "HTML comment kept as an MDX comment" });
          return [flowComment(value.replace(/^<!--|-->$/g, ""))];
        }
        report.push({ kind: "html", line: lineOf(node), detail: `HTML block \`${value.split("\n")[0]!.slice(0, 60)}\` not imported (left as a TODO comment)` });
        return [flowComment(`TODO(author): HTML block not imported: ${value}`)];
      }
      case "paragraph": {
        const text = plainText(node).trim();
        const shortcodes = text.match(SHORTCODE);
        if (shortcodes && shortcodes.join("").replace(/\s+/g, "") === text.replace(/\s+/g, "")) {
          for (const shortcode of shortcodes) report.push({ kind: "shortcode", line: lineOf(node), detail: `\`${shortcode.replace(/\s+/g, " ")}\`: the site generator's shortcode, left as a TODO comment` });
          return [flowComment(`TODO(author): shortcode not imported: ${text}`)];
        }
        if (node.children) node.children = node.children.flatMap(mapInline);
        return [node];
      }
      case "footnoteDefinition":
        if (node.children) node.children = node.children.flatMap(mapFlow);
        return [node];
      default:
        if (node.children) node.children = node.children.flatMap((child) => (isFlow(child) ? mapFlow(child) : mapInline(child)));
        return [node];
    }
  };

  // The references section (a top-level heading such as "References"): its links, as a list.
  const body: AnyNode[] = [];
  const children = tree.children as AnyNode[];
  for (let index = 0; index < children.length; index++) {
    const node = children[index]!;
    if (node.type === "heading" && node.depth === 1 && plainText(node).trim() === frontMatter.title && !body.some((child) => child.type === "heading")) {
      report.push({ kind: "heading", line: lineOf(node), detail: "the first heading repeats the title: dropped (the page shows its title)" });
      continue;
    }
    if (node.type === "heading" && REFERENCES_HEADING.test(plainText(node).trim().replace(/:$/, ""))) {
      const depth = Number(node.depth);
      let end = index + 1;
      while (end < children.length && !(children[end]!.type === "heading" && Number(children[end]!.depth) <= depth)) end++;
      const links = children.slice(index + 1, end).flatMap(linksIn);
      section = plainText(node);
      if (links.length) {
        references.push(...links);
        for (const link of links) if (isRelativeUrl(link.url)) report.push({ kind: "link", line: lineOf(node), detail: `reference \`${link.url}\` is relative to the original site: make it a full URL` });
        const dropped = children.slice(index + 1, end).filter((child) => linksIn(child).length === 0 && child.type !== "definition");
        if (dropped.length) report.push({ kind: "references", line: lineOf(node), detail: `${dropped.length} block(s) without links in "${plainText(node)}" dropped (the section became a list of its links)` });
        body.push(node, {
          type: "list",
          ordered: false,
          spread: false,
          children: links.map((link) => ({ type: "listItem", spread: false, children: [{ type: "paragraph", children: [{ type: "link", url: link.url, children: [{ type: "text", value: link.text }] }] }] })),
        });
        body.push(...children.slice(index + 1, end).filter((child) => child.type === "definition"));
        index = end - 1;
        continue;
      }
      report.push({ kind: "references", line: lineOf(node), detail: `"${plainText(node)}" has no links: kept as prose` });
    }
    body.push(...mapFlow(node));
  }
  if (!references.length && !report.some((item) => item.kind === "references")) {
    report.push({ kind: "references", detail: "no references section (a heading such as References, Links or Further reading): none listed" });
  }

  if (!checkpoints.length) {
    report.push({ kind: "checkpoint", detail: "no shell block changes state, yet a lab needs a checkpoint: one stub was added at the end of the page" });
    section = "first-step";
    body.push(...checkpointFor({ type: "code" }, "").slice(0, 2));
  }

  // One line per distinct finding (inline HTML such as <kbd> comes in pairs).
  const seen = new Set<string>();
  const findings = report.filter((item) => {
    const key = `${item.line}|${item.kind}|${item.detail}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
  report.splice(0, report.length, ...findings);

  const page = renderPage({ body, frontMatter, labId, file: options.file, series, slug });
  const labYaml = renderLabYaml({ frontMatter, labId, series, slug, file: options.file, checkpoints, commands: usedCommands(tree as unknown as AnyNode) });
  const scripts: Record<string, string> = {};
  for (const checkpoint of checkpoints) {
    const quoted = checkpoint.commands ? checkpoint.commands.split("\n").map((line) => `#   ${line}`).join("\n") : "#   (no block: the post had no command that changes state)";
    scripts[`checks/${checkpoint.id}.sh`] = [
      `# TODO(author): exit 0 once the reader has done this step, and print what you found (the reader sees it).`,
      `# Check the outcome, not the command. The post's block${checkpoint.line ? ` (line ${checkpoint.line})` : ""}:`,
      quoted,
      `echo "TODO: write the check for ${checkpoint.id} (labs/${series}/${slug}/checks/${checkpoint.id}.sh)"`,
      `exit 1`,
      "",
    ].join("\n");
    scripts[`solves/${checkpoint.id}.sh`] = [
      `# TODO(author): what a reader types to pass ${checkpoint.id}: usually the page's Run block, verbatim.`,
      `# The post's block${checkpoint.line ? ` (line ${checkpoint.line})` : ""}:`,
      quoted,
      "",
    ].join("\n");
  }
  return { slug, series, labId, frontMatter, page, labYaml, checkpoints, scripts, references, report, stats };
}

function isFlow(node: AnyNode): boolean {
  return ["paragraph", "heading", "code", "html", "list", "listItem", "blockquote", "table", "thematicBreak", "definition", "footnoteDefinition", "yaml", "toml"].includes(node.type);
}

/** The command names the post's shell blocks run, for the author to copy into `requires.commands`. */
function usedCommands(tree: AnyNode): string[] {
  const names = new Set<string>();
  const visit = (node: AnyNode) => {
    const lang = String(node.lang ?? "").toLowerCase();
    if (node.type === "code" && (SHELL.has(lang) || CONSOLE.has(lang))) {
      const text = CONSOLE.has(lang) ? splitTranscript(String(node.value)).commands : String(node.value);
      for (const command of simpleCommands(text)) {
        for (const stage of command.split("\n")[0]!.split("|")) {
          const name = stage.trim().split(/\s+/).find((word) => !/=/.test(word) && !["sudo", "if", "then", "do", "while", "until", "!", "time", "env"].includes(word));
          if (name && /^[a-z][\w.+-]*$/.test(name)) names.add(name);
        }
      }
    }
    node.children?.forEach(visit);
  };
  visit(tree);
  const builtins = new Set(["cd", "echo", "printf", "export", "for", "done", "fi", "else", "case", "esac", "sleep", "true", "false", "test", "set", "unset", "source", "alias", "exit", "pwd", "read", "eval", "exec"]);
  return [...names].filter((name) => !builtins.has(name)).sort();
}

function renderPage(input: { body: AnyNode[]; frontMatter: FrontMatter; labId: string; file: string; series: string; slug: string }): string {
  const { frontMatter, labId, series, slug } = input;
  const front = stringifyYaml({
    title: frontMatter.title,
    ...(frontMatter.description ? { description: frontMatter.description } : {}),
    lab: labId,
    sidebar: { badge: { text: "Draft", variant: "caution" } },
  }).trimEnd();
  const origin = [frontMatter.date, frontMatter.tags.length ? `tags: ${frontMatter.tags.join(", ")}` : undefined].filter(Boolean).join("; ");
  const banner: AnyNode[] = [
    flowComment(`Imported from ${path.basename(input.file)} by scripts/import.ts. TODO(author): every TODO on this page and in labs/${series}/${slug}/ (IMPORT-REPORT.md lists what was not mapped).`),
    {
      type: "containerDirective",
      name: "caution",
      children: [
        { type: "paragraph", data: { directiveLabel: true }, children: [{ type: "text", value: "Draft" }] },
        {
          type: "paragraph",
          children: [
            { type: "text", value: "Imported from " },
            { type: "emphasis", children: [{ type: "text", value: frontMatter.title }] },
            { type: "text", value: `${origin ? ` (${origin})` : ""}. Its checkpoints are stubs that fail until their checks and solves are written.` },
          ],
        },
      ],
    },
    jsx("LabProgress", {}),
    jsx("Terminal", { name: "main" }),
  ];
  const tree = { type: "root", children: [...banner, ...input.body] } as unknown as Root;
  const markdown = unified()
    .use(remarkGfm)
    .use(remarkMdx)
    .use(remarkDirectiveStringify)
    .use(remarkStringify, { bullet: "-", fences: true, rule: "-", emphasis: "*", resourceLink: true })
    .stringify(tree);
  const imports = ["Terminal", "Run", "Checkpoint", "LabProgress"].map((name) => `import ${name} from "../../../components/${name}.astro";`).join("\n");
  return `---\n${front}\n---\n\n${imports}\n\n${markdown}`;
}

/**
 * Starlight's asides (`:::caution[Title]`) are remark-directive syntax; the
 * page needs just this one, so it is written here rather than pulling in
 * remark-directive for the serializer.
 */
function remarkDirectiveStringify(this: { data: () => { toMarkdownExtensions?: unknown[] } }) {
  const data = this.data();
  (data.toMarkdownExtensions ??= []).push({
    // MDX reads a paragraph that starts with `import` or `export` as JavaScript: the serializer
    // writes that first letter as a character reference (&#x69;) instead, which reads the same.
    unsafe: [
      { character: "i", atBreak: true, after: "mport\\b" },
      { character: "e", atBreak: true, after: "xport\\b" },
    ],
  });
  data.toMarkdownExtensions.push({
    handlers: {
      containerDirective(node: AnyNode, _parent: unknown, state: { containerFlow: (node: AnyNode, info: unknown) => string }, info: unknown) {
        const [label, ...rest] = node.children ?? [];
        const title = label ? plainText(label) : "";
        const inner = state.containerFlow({ ...node, children: rest }, info);
        return `:::${node.name}${title ? `[${title.replace(/[[\]]/g, "")}]` : ""}\n${inner}\n:::`;
      },
    },
  });
}

function renderLabYaml(input: { frontMatter: FrontMatter; labId: string; series: string; slug: string; file: string; checkpoints: StubCheckpoint[]; commands: string[] }): string {
  const { frontMatter } = input;
  const lab = {
    id: input.labId,
    title: frontMatter.title,
    series: input.series,
    ...(frontMatter.description ? { summary: frontMatter.description } : {}),
    requires: { services: [], commands: [] },
    checkpoints: input.checkpoints.map((checkpoint) => ({
      id: checkpoint.id,
      title: checkpoint.title,
      check: `checks/${checkpoint.id}.sh`,
      solve: `solves/${checkpoint.id}.sh`,
      hint: "TODO(author): what to do when the check fails",
    })),
  };
  const header = [
    "# yaml-language-server: $schema=../../lab.schema.json",
    `# Imported from ${path.basename(input.file)}: "${frontMatter.title}"${frontMatter.date ? ` (${frontMatter.date})` : ""}${frontMatter.tags.length ? `, tags: ${frontMatter.tags.join(", ")}` : ""}.`,
    "# A draft by scripts/import.ts: every checkpoint is a stub whose check fails (TODO(author)).",
    `# TODO(author): requires.commands: the post's shell blocks run ${input.commands.join(", ") || "no commands"}.`,
  ];
  return `${header.join("\n")}\n${stringifyYaml(lab, { lineWidth: 0 })}`;
}

/** Writes the page, the lab folder and IMPORT-REPORT.md under `root`; refuses to overwrite unless `force`. */
export function writeImport(result: ImportResult, root: string, force = false): { page: string; labDir: string; reportFile: string } {
  const page = path.join(root, "src", "content", "docs", "labs", `${result.slug}.mdx`);
  const labDir = path.join(root, "labs", result.series, result.slug);
  if (!force) {
    for (const target of [page, labDir]) if (existsSync(target)) throw new Error(`${path.relative(root, target)} exists (--force to overwrite)`);
  }
  mkdirSync(path.dirname(page), { recursive: true });
  writeFileSync(page, result.page);
  for (const folder of ["checks", "solves"]) mkdirSync(path.join(labDir, folder), { recursive: true });
  writeFileSync(path.join(labDir, "lab.yaml"), result.labYaml);
  for (const [file, text] of Object.entries(result.scripts)) writeFileSync(path.join(labDir, file), text);
  const reportFile = path.join(labDir, "IMPORT-REPORT.md");
  writeFileSync(reportFile, renderReport(result, path.relative(root, page), path.relative(root, labDir)));
  return { page, labDir, reportFile };
}

export function renderReport(result: ImportResult, pageFile: string, labDir: string): string {
  const { stats, frontMatter } = result;
  const lines = [
    `# Import report: ${frontMatter.title}`,
    "",
    `- Page: \`${pageFile}\` (lab \`${result.labId}\`); lab folder: \`${labDir}/\``,
    `- Front matter (${frontMatter.format}): title "${frontMatter.title}", date ${frontMatter.date ?? "none"}, tags ${frontMatter.tags.join(", ") || "none"}`,
    `- Shell blocks: ${stats.shellBlocks} (${stats.runBlocks} change state and are followed by a checkpoint stub, ${stats.readOnlyBlocks} only read); other code blocks kept as code: ${stats.otherCode}`,
    `- Checkpoint stubs (their checks fail until written; solves are empty): ${result.checkpoints.map((checkpoint) => checkpoint.id).join(", ")}`,
    `- References: ${result.references.length} link(s)`,
    "",
    result.report.length ? "## Not mapped, or mapped with a loss (the author decides)" : "## Everything was mapped",
    "",
    ...result.report.map((item) => `- ${item.line ? `line ${item.line}: ` : ""}**${item.kind}**: ${item.detail}`),
    "",
  ];
  return lines.join("\n");
}

function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { series: { type: "string" }, slug: { type: "string" }, out: { type: "string" }, force: { type: "boolean", default: false }, help: { type: "boolean", short: "h" } },
  });
  if (values.help || positionals.length !== 1) {
    console.log("usage: node scripts/import.ts POST.md [--series ID] [--slug SLUG] [--out PROJECT_DIR] [--force]");
    process.exit(values.help ? 0 : 2);
  }
  const file = positionals[0]!;
  const root = path.resolve(values.out ?? path.join(path.dirname(fileURLToPath(import.meta.url)), ".."));
  const result = importPost(readFileSync(file, "utf8"), { file, series: values.series, slug: values.slug });
  const written = writeImport(result, root, values.force);
  console.log(readFileSync(written.reportFile, "utf8"));
  console.log(`wrote ${path.relative(process.cwd(), written.page)} and ${path.relative(process.cwd(), written.labDir)}/`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (error) {
    console.error(`import: ${(error as Error).message}`);
    process.exit(1);
  }
}
