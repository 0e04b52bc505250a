/**
 * Astro integration, dev server only: an author editing a lab definition
 * (labs/**: lab.yaml, checks, solves, series.yaml) sees it on the page at
 * once. Pages read checkpoint titles and hints from the lab catalog
 * (lab-catalog.ts), which is cached; Vite knows nothing of these files, since
 * no module imports them. So: watch labs/, on a change clear the catalog,
 * validate the labs and re-check the pages' references (reported, not fatal,
 * as lab-references.ts does at start) and tell the browser to reload.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { AstroIntegration } from "astro";
import { labsChanged } from "../lab-catalog.ts";
import { LabDefinitionError, loadLabs, loadSeries, unresolvedReferences } from "../../../server/labs.ts";
import { pageReferences } from "./lab-references.ts";

function pages(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    return statSync(file).isDirectory() ? pages(file) : /\.mdx?$/.test(name) ? [file] : [];
  });
}

export function labDevReload(): AstroIntegration {
  let labsDir = "";
  let docsDir = "";
  let root = "";
  return {
    name: "nwl-lab-dev-reload",
    hooks: {
      "astro:config:done": ({ config }) => {
        root = fileURLToPath(config.root);
        labsDir = path.join(root, "labs");
        docsDir = path.join(fileURLToPath(config.srcDir), "content", "docs");
      },
      "astro:server:setup": ({ server, logger }) => {
        server.watcher.add(labsDir);
        const changed = (file: string) => {
          const relative = path.relative(labsDir, file);
          if (relative.startsWith("..") || path.isAbsolute(relative)) return;
          labsChanged();
          try {
            const labs = loadLabs(labsDir);
            loadSeries(labsDir);
            // A checkpoint renamed or removed in lab.yaml may leave a page naming it.
            const references = pages(docsDir).flatMap((file) => pageReferences(path.relative(root, file), readFileSync(file, "utf8")));
            const problems = unresolvedReferences(labs, references);
            if (problems.length) logger.error(`pages name labs or checkpoints that do not exist:\n${problems.map((problem) => `  ${problem}`).join("\n")}`);
            else logger.info(`labs/${relative} changed: lab definitions reloaded`);
          } catch (error) {
            // The page shows the same error when it renders; the server keeps running.
            logger.error(error instanceof LabDefinitionError ? error.message : `labs/${relative}: ${(error as Error).message}`);
          }
          server.ws.send({ type: "full-reload", path: "*" });
        };
        for (const event of ["add", "change", "unlink"] as const) server.watcher.on(event, changed);
      },
    },
  };
}
