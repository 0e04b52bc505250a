/**
 * `node server/main.ts`: starts the lab server. Flags win over environment
 * variables (NWL_HOST, NWL_PORT, ...), which win over defaults; everything
 * is validated by the config schema before anything starts.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { inviteReader } from "./access.ts";
import { createLabServer } from "./app.ts";
import { parseServerConfig, type ServerConfig, type ServerConfigInput } from "./config.ts";
import type { SessionDriver } from "./drivers/driver.ts";
import { HostDriver } from "./drivers/host.ts";
import { NamespacesDriver } from "./drivers/namespaces.ts";
import { SandboxDriver } from "./drivers/sandbox/sandbox.ts";
import { loadLabs, type LabCatalog } from "./labs.ts";

const USAGE = `usage: node server/main.ts [options]
       node server/main.ts invite NAME [--data-dir DIR | --readers-file FILE] [--public-url URL]
  --host ADDR        address to listen on (NWL_HOST; default 127.0.0.1; beyond loopback needs
                     --token-file or invited readers, and TLS in front)
  --port N           port (NWL_PORT or PORT; default 4321; 0 = any free port)
  --site DIR         built site to serve (NWL_SITE; default dist/ when it exists)
  --data-dir DIR     state of environments and services (NWL_DATA_DIR; default .lab-data)
  --driver KIND      auto | sandbox | host-namespaces | host (NWL_DRIVER; default auto:
                     the sandbox where the kernel allows it)
  --containerd MODE  auto | embedded | system (NWL_CONTAINERD; default auto)
  --labs DIR         lab definitions (NWL_LABS_DIR; default labs)
  --grace-ms N       how long a dropped session is kept (NWL_GRACE_MS; default 600000)
  --config FILE      settings as JSON, with the names of server/config.ts (limits included) (NWL_CONFIG)
  --token-file FILE  the operator's token, for a link that stays the same (NWL_TOKEN_FILE;
                     made when missing; default: a new token at each start)
  --readers-file F   workshop readers, NAME TOKEN a line (NWL_READERS_FILE; default DATA_DIR/readers)
  --public-url URL   the URL readers open, behind a reverse proxy (NWL_PUBLIC_URL)
  --allow-origin O   another origin whose pages may use this server, repeatable (NWL_ALLOW_ORIGINS, comma-separated)
  --allow-host H     another host name requests may name, repeatable (NWL_ALLOW_HOSTS, comma-separated)
  --help`;

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      host: { type: "string" },
      port: { type: "string" },
      site: { type: "string" },
      "data-dir": { type: "string" },
      driver: { type: "string" },
      containerd: { type: "string" },
      labs: { type: "string" },
      "grace-ms": { type: "string" },
      config: { type: "string" },
      "token-file": { type: "string" },
      "readers-file": { type: "string" },
      "public-url": { type: "string" },
      "allow-origin": { type: "string", multiple: true },
      "allow-host": { type: "string", multiple: true },
      help: { type: "boolean" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const env = process.env;
  const list = (flag: string[] | undefined, variable: string | undefined) =>
    flag ?? (variable ? variable.split(",").map((item) => item.trim()).filter(Boolean) : undefined);
  if (positionals[0] === "invite") {
    const name = positionals[1];
    if (!name || positionals.length > 2) throw new Error("invite takes one reader name: node server/main.ts invite NAME");
    const dataDir = values["data-dir"] ?? env.NWL_DATA_DIR ?? ".lab-data";
    const readersFile = values["readers-file"] ?? env.NWL_READERS_FILE ?? path.join(dataDir, "readers");
    mkdirSync(path.dirname(readersFile), { recursive: true });
    const token = inviteReader(readersFile, name);
    const base = values["public-url"] ?? env.NWL_PUBLIC_URL ?? `http://127.0.0.1:${values.port ?? env.NWL_PORT ?? env.PORT ?? 4321}/`;
    console.log(`${name} is invited (${readersFile}). Their link, for them alone:`);
    console.log(`${base}#token=${token}`);
    return;
  }
  if (positionals.length) throw new Error(`unknown command "${positionals[0]}"`);
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
    tokenFile: values["token-file"] ?? env.NWL_TOKEN_FILE,
    readersFile: values["readers-file"] ?? env.NWL_READERS_FILE,
    publicUrl: values["public-url"] ?? env.NWL_PUBLIC_URL,
    allowOrigins: list(values["allow-origin"], env.NWL_ALLOW_ORIGINS),
    allowHosts: list(values["allow-host"], env.NWL_ALLOW_HOSTS),
    limits: graceMs === undefined ? {} : { graceMs },
  };
  // A config file (JSON, the schema's names) under the flags and variables: what they set wins.
  const configFile = values.config ?? env.NWL_CONFIG;
  const fromFile = configFile ? (readConfigFile(configFile) as ServerConfigInput) : {};
  const defined = Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined));
  const config = parseServerConfig({ ...fromFile, ...defined, limits: { ...fromFile.limits, ...input.limits } });
  const labs = loadLabs(config.labsDir);
  const { driver, why } = makeDriver(config, labs);
  createLabServer(config, { driver, catalog: labs }).then(
    (server) => {
      for (const warning of server.warnings) console.warn(`warning: ${warning}`);
      console.log(`driver: ${driver.kind}: ${why}`);
      const serving = `Nix Way Labs is serving ${config.siteDir ? "the site and " : ""}the lab server (driver: ${driver.kind}).`;
      if (config.tokenFile) {
        // A stable token stays out of the output (a service's output is a log): its file is where it lives.
        console.log(`${serving} Open this address with #token= and the token from ${config.tokenFile} after it:`);
        console.log(server.link.replace(/#token=.*$/, "#token=…"));
      } else {
        console.log(`${serving} Open this link; it is the key to a root shell in the labs, so hand it only to whoever should have one:`);
        console.log(server.link);
      }
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

function readConfigFile(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new Error(`config file ${file}: ${(error as Error).message}`);
  }
}

/** The driver the config names; "auto" is the sandbox where the kernel allows it, and says why not otherwise. */
function makeDriver(config: ServerConfig, labs: LabCatalog): { driver: SessionDriver; why: string } {
  const common = { dataDir: config.dataDir, shell: config.shell, maxScriptOutputBytes: config.limits.maxCheckOutputBytes };
  let kind = config.driver;
  let why = "chosen in the configuration";
  if (kind === "sandbox") {
    const sandbox = SandboxDriver.available();
    if (!sandbox.ok) throw new Error(`the sandbox driver cannot run on this host: ${sandbox.reasons.join("; ")}`);
  }
  if (kind === "auto") {
    const sandbox = SandboxDriver.available();
    kind = sandbox.ok ? "sandbox" : "host-namespaces";
    why = sandbox.ok
      ? "this kernel allows a user-namespace sandbox per reader"
      : `no sandbox on this host (${sandbox.reasons.join("; ")}): each reader gets private mounts and network, but is root on this machine`;
  }
  if (kind === "host") return { driver: new HostDriver(common), why };
  if (kind === "sandbox") return { driver: new SandboxDriver({ ...common, labs, containerd: config.containerd }), why };
  return { driver: new NamespacesDriver({ ...common, labs, containerd: config.containerd }), why };
}

try {
  main();
} catch (error) {
  console.error((error as Error).message);
  console.error(USAGE);
  process.exit(2);
}
