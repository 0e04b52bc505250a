/**
 * Astro integration, dev server only: an author editing a lab definition
 * (labs/**: lab.yaml, checks, solves, series.yaml) sees it on the page at
 * once. Pages read checkpoint titles and hints from the lab catalog
 * (lab-catalog.ts), which is cached; Vite knows nothing of these files, since
 * no module imports them. So: watch labs/, on a change clear the catalog,
 * validate the labs and re-check the pages' references (reported, not fatal,
 * as lab-references.ts does at start) and tell the browser to reload.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { AstroIntegration } from "astro";
import { labsChanged } from "../lab-catalog.ts";
import { LabDefinitionError, loadLabs, loadSeries } from "../../../server/labs.ts";
import { check } from "./lab-references.ts";

/** The files a lab's definition is made of: its lab.yaml, a series.yaml, its check and solve scripts. */
const LAB_FILE = /(^|\/)(lab\.yaml|series\.yaml)$|\.sh$/;
/** An editor's save is often several events (write, rename, chmod): one reload for them all. */
const DEBOUNCE_MS = 100;

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
        let timer: ReturnType<typeof setTimeout> | undefined;
        const touched = new Set<string>();
        const reload = () => {
          timer = undefined;
          const relative = [...touched].sort().join(", labs/");
          touched.clear();
          labsChanged();
          try {
            const labs = loadLabs(labsDir);
            loadSeries(labsDir);
            // A checkpoint renamed or removed in lab.yaml may leave a page naming it.
            check(root, docsDir, labs);
            logger.info(`labs/${relative} changed: lab definitions reloaded`);
          } catch (error) {
            // The page shows the same error when it renders; the server keeps running.
            logger.error(error instanceof LabDefinitionError ? error.message : `labs/${relative}: ${(error as Error).message}`);
          }
          server.ws.send({ type: "full-reload", path: "*" });
        };
        const changed = (file: string) => {
          const relative = path.relative(labsDir, file);
          if (relative.startsWith("..") || path.isAbsolute(relative) || !LAB_FILE.test(relative.split(path.sep).join("/"))) return;
          touched.add(relative);
          if (timer) clearTimeout(timer);
          timer = setTimeout(reload, DEBOUNCE_MS);
        };
        for (const event of ["add", "change", "unlink"] as const) server.watcher.on(event, changed);
      },
    },
  };
}
