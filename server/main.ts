/**
 * `node server/main.ts`: starts the lab server. `doctor` says what this host
 * has and lacks; `invite NAME` adds a workshop reader. Every option is
 * declared once in options.ts: flags win over environment variables (NWL_HOST,
 * NWL_PORT, ...), which win over the config file (--config, JSON or TOML),
 * which wins over the defaults; all of it is validated by the config schema
 * before anything starts.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { inviteReader } from "./access.ts";
import { createLabServer } from "./app.ts";
import type { ServerConfig } from "./config.ts";
import { runDoctor } from "./doctor.ts";
import type { SessionDriver } from "./drivers/driver.ts";
import { HostDriver } from "./drivers/host.ts";
import { NamespacesDriver } from "./drivers/namespaces.ts";
import { SandboxDriver } from "./drivers/sandbox/sandbox.ts";
import { configureHostTools } from "./environment/prerequisites.ts";
import { loadLabs, type LabCatalog } from "./labs.ts";
import { resolveServerOptions, usage } from "./options.ts";

async function main(): Promise<void> {
  const { config, positionals, help } = resolveServerOptions(process.argv.slice(2), process.env);
  if (help) {
    console.log(usage());
    return;
  }
  // The tools the config names (or none: they are looked for on PATH) for every driver and check.
  configureHostTools({ cniPluginDir: config.cniPluginDir, registry: config.registry, busybox: config.busybox });
  if (positionals[0] === "doctor") {
    if (positionals.length > 1) throw new Error("doctor takes no arguments but options: node server/main.ts doctor [--driver KIND] [--labs DIR] [--config FILE]");
    const report = runDoctor({ driver: config.driver, labsDir: config.labsDir, shell: config.shell });
    console.log(report.text);
    process.exitCode = report.ok ? 0 : 1;
    return;
  }
  if (positionals[0] === "invite") {
    const name = positionals[1];
    if (!name || positionals.length > 2) throw new Error("invite takes one reader name: node server/main.ts invite NAME");
    const readersFile = config.readersFile ?? path.join(config.dataDir, "readers");
    mkdirSync(path.dirname(readersFile), { recursive: true });
    const token = inviteReader(readersFile, name);
    const base = config.publicUrl ?? `http://127.0.0.1:${config.port}/`;
    console.log(`${name} is invited (${readersFile}). Their link, for them alone:`);
    console.log(`${base}#token=${token}`);
    return;
  }
  if (positionals.length) throw new Error(`unknown command "${positionals[0]}"`);
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

main().catch((error: Error) => {
  console.error(error.message);
  console.error("(node server/main.ts --help lists the options)");
  process.exit(2);
});
