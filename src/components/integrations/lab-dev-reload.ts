/**
 * Astro integration, dev server only: an author editing a lab definition
 * (labs/**: lab.yaml, checks, solves, series.yaml) sees it on the page at
 * once. Pages read checkpoint titles and hints from the lab catalog
 * (lab-catalog.ts), which is cached; Vite knows nothing of these files, since
 * no module imports them. So: watch labs/, on a change clear the catalog,
 * re-check the pages' references (reported, not fatal, as at start) and tell
 * the browser to reload.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { AstroIntegration } from "astro";
import { labsChanged } from "../lab-catalog.ts";
import { LabDefinitionError, loadLabs, loadSeries } from "../../../server/labs.ts";

export function labDevReload(): AstroIntegration {
  let labsDir = "";
  return {
    name: "nwl-lab-dev-reload",
    hooks: {
      "astro:config:done": ({ config }) => {
        labsDir = path.join(fileURLToPath(config.root), "labs");
      },
      "astro:server:setup": ({ server, logger }) => {
        server.watcher.add(labsDir);
        const changed = (file: string) => {
          const relative = path.relative(labsDir, file);
          if (relative.startsWith("..") || path.isAbsolute(relative)) return;
          labsChanged();
          try {
            loadLabs(labsDir);
            loadSeries(labsDir);
            logger.info(`labs/${relative} changed: lab definitions reloaded`);
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
