/**
 * `node server/main.ts`: starts the lab server. Flags win over environment
 * variables (NWL_HOST, NWL_PORT, ...), which win over defaults; everything
 * is validated by the config schema before anything starts.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { createLabServer } from "./app.ts";
import { checkpointRunner } from "./checkpoints.ts";
import { parseServerConfig, type ServerConfig, type ServerConfigInput } from "./config.ts";
import type { SessionDriver } from "./drivers/driver.ts";
import { HostDriver } from "./drivers/host.ts";
import { NamespacesDriver } from "./drivers/namespaces.ts";
import { labApiRoutes } from "./lab-api.ts";
import { loadLabs, type LabCatalog } from "./labs.ts";

const USAGE = `usage: node server/main.ts [options]
  --host ADDR        address to listen on (NWL_HOST; default 127.0.0.1)
  --port N           port (NWL_PORT or PORT; default 4321; 0 = any free port)
  --site DIR         built site to serve (NWL_SITE; default dist/ when it exists)
  --data-dir DIR     state of environments and services (NWL_DATA_DIR; default .lab-data)
  --driver KIND      host-namespaces | host (NWL_DRIVER; default host-namespaces)
  --containerd MODE  auto | embedded | system (NWL_CONTAINERD; default auto)
  --labs DIR         lab definitions (NWL_LABS_DIR; default labs)
  --grace-ms N       how long a dropped session is kept (NWL_GRACE_MS; default 600000)
  --help`;

function main(): void {
  const { values } = parseArgs({
    options: {
      host: { type: "string" },
      port: { type: "string" },
      site: { type: "string" },
      "data-dir": { type: "string" },
      driver: { type: "string" },
      containerd: { type: "string" },
      labs: { type: "string" },
      "grace-ms": { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const env = process.env;
  const number = (text: string | undefined) => (text === undefined || text === "" ? undefined : Number(text));
  const siteDir = values.site ?? env.NWL_SITE ?? (existsSync("dist/index.html") ? "dist" : undefined);
  const graceMs = number(values["grace-ms"] ?? env.NWL_GRACE_MS);
  const input: ServerConfigInput = {
    host: values.host ?? env.NWL_HOST,
    port: number(values.port ?? env.NWL_PORT ?? env.PORT),
    siteDir: siteDir ? path.resolve(siteDir) : undefined,
    dataDir: values["data-dir"] ?? env.NWL_DATA_DIR,
    driver: (values.driver ?? env.NWL_DRIVER) as ServerConfigInput["driver"],
    containerd: (values.containerd ?? env.NWL_CONTAINERD) as ServerConfigInput["containerd"],
    labsDir: values.labs ?? env.NWL_LABS_DIR,
    limits: graceMs === undefined ? {} : { graceMs },
  };
  const config = parseServerConfig(input);
  const labs = loadLabs(config.labsDir);
  createLabServer(config, { driver: makeDriver(config, labs), labs: [...labs.keys()], routes: labApiRoutes(checkpointRunner(labs)) }).then(
    (server) => {
      console.log(`Nix Way Labs is serving ${config.siteDir ? "the site and " : ""}the lab server (driver: ${config.driver}). Open:`);
      console.log(server.url);
      // npm forwards the terminal's signal to us as well, so a second one must not
      // kill us half way through stopping containerd and the environments.
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        console.log(`${signal}: closing sessions and environments`);
        setTimeout(() => {
          console.error("still closing after 30 s: exiting anyway");
          process.exit(1);
        }, 30_000).unref();
        server.close().then(() => process.exit(0), (error: Error) => {
          console.error(`closing failed: ${error.message}`);
          process.exit(1);
        });
      };
      for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => stop(signal));
    },
    (error: Error) => {
      console.error(`lab server failed to start: ${error.message}`);
      process.exit(1);
    },
  );
}

function makeDriver(config: ServerConfig, labs: LabCatalog): SessionDriver {
  const common = { dataDir: config.dataDir, shell: config.shell, maxScriptOutputBytes: config.limits.maxCheckOutputBytes };
  if (config.driver === "host") return new HostDriver(common);
  return new NamespacesDriver({ ...common, labs, containerd: config.containerd });
}

try {
  main();
} catch (error) {
  console.error((error as Error).message);
  console.error(USAGE);
  process.exit(2);
}
