/**
 * Expressive Code plugin: a Run button next to Copy on shell code blocks of
 * lab pages. Done at build time, inside Expressive Code, so Shiki's
 * highlighting and the Copy button stay exactly as Starlight renders them and
 * the button is in the HTML before any script runs. The click itself is
 * handled by the lab page runtime (src/client/run.ts), which knows the
 * terminals.
 *
 * Which blocks: fenced `sh`, `bash` or `shell` blocks on pages whose
 * frontmatter names a `lab`. `norun` in a block's meta opts it out (for output
 * or for commands a reader should not run blindly).
 */
import { readFileSync, statSync } from "node:fs";
import { definePlugin } from "@astrojs/starlight/expressive-code";
import { h } from "@astrojs/starlight/expressive-code/hast";
import { parse as parseYaml } from "yaml";

const RUNNABLE_LANGUAGES = new Set(["sh", "bash", "shell"]);

const labCache = new Map<string, { mtimeMs: number; lab: string | undefined }>();

/** The `lab` named by a page's frontmatter; cached per file version (the dev server edits files). */
export function labOfPage(filePath: string | undefined): string | undefined {
  if (!filePath) return undefined;
  let mtimeMs: number;
  try {
    mtimeMs = statSync(filePath).mtimeMs;
  } catch {
    return undefined;
  }
  const cached = labCache.get(filePath);
  if (cached && cached.mtimeMs === mtimeMs) return cached.lab;
  const match = /^---\r?\n([\s\S]*?)\r?\n---/.exec(readFileSync(filePath, "utf8"));
  const data = match ? (parseYaml(match[1] ?? "") as Record<string, unknown> | null) : null;
  const lab = typeof data?.lab === "string" ? data.lab : undefined;
  labCache.set(filePath, { mtimeMs, lab });
  return lab;
}

/** What Run types: the block's text without full-line comments, like Copy on terminal frames. */
export function commandOf(code: string): string {
  return code
    .replace(/(?<=^|\n)\s*#.*($|\n+)/g, "")
    .replace(/\s+$/, "");
}

export function pluginRunButton() {
  return definePlugin({
    name: "nwl-run-button",
    hooks: {
      postprocessRenderedBlock: ({ codeBlock, renderData }) => {
        if (!RUNNABLE_LANGUAGES.has(codeBlock.language)) return;
        if (/(^|\s)norun(\s|$)/.test(codeBlock.meta)) return;
        const lab = labOfPage(codeBlock.parentDocument?.sourceFilePath);
        if (!lab) return;
        const command = commandOf(codeBlock.code);
        if (!command) return;
        // A sibling of Expressive Code's `.copy`, not inside it: its script binds every `.copy button`.
        renderData.blockAst.children.push(
          h("div", { className: "nwl-run-slot" }, [
            h(
              "button",
              { type: "button", className: ["nwl-run"], title: "Run in the terminal", "data-nwl-run": "", "data-command": command, "data-testid": "run-button" },
              [h("span", { "aria-hidden": "true" }, "▶"), " Run"],
            ),
          ]),
        );
      },
    },
    baseStyles: ({ cssVar }) => `
      .frame:has(.nwl-run-slot) { position: relative; }
      .nwl-run-slot {
        position: absolute; z-index: 1; direction: ltr;
        inset-block-start: calc(${cssVar("borderWidth")} + var(--button-spacing));
        /* Left of Copy: 2.5rem wide on touch screens, 2rem with a mouse, plus its gap. */
        inset-inline-end: calc(${cssVar("borderWidth")} + ${cssVar("uiPaddingInline")} / 2 + 2.75rem);
      }
      @media (hover: hover) { .nwl-run-slot { inset-inline-end: calc(${cssVar("borderWidth")} + ${cssVar("uiPaddingInline")} / 2 + 2.25rem); } }
      @media (scripting: none) { .nwl-run-slot { display: none; } }
      .nwl-run {
        height: 2rem; margin: 0; padding: 0 0.6rem; border: none; border-radius: 0.25rem; cursor: pointer;
        display: inline-flex; align-items: center; gap: 0.35rem;
        font: inherit; font-size: 0.8rem; font-weight: 600; line-height: 1;
        color: var(--sl-color-black, #000); background: var(--sl-color-accent-high, #7ab);
      }
      .nwl-run:hover, .nwl-run:focus-visible { background: var(--sl-color-white, #fff); }
      .nwl-run[data-state="running"] { opacity: 0.7; cursor: progress; }
      .frame:has(.nwl-run-slot) :nth-child(1 of .ec-line) .code { padding-inline-end: 8rem; }
    `,
  });
}
