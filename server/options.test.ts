/**
 * The options table, `--help`, the config file (JSON and TOML) and the docs
 * agree: each option is declared once in options.ts, and what is generated
 * from it (parseArgs, help, variables, tables) says the same thing.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LimitsSchema, parseServerConfig, ServerConfigSchema } from "./config.ts";
import { configTableMarkdown, flagTableMarkdown, resolveServerOptions, SERVER_OPTIONS, usage } from "./options.ts";
import { staleFiles } from "../scripts/options-table.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const work = mkdtempSync(path.join(tmpdir(), "nwl-options-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const full = path.join(work, name);
  writeFileSync(full, text);
  return full;
}

function cli(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, ["server/main.ts", ...args], { cwd: ROOT, encoding: "utf8", env: { PATH: process.env.PATH ?? "", ...env }, timeout: 30_000 });
}

describe("the options table", () => {
  it("keeps every flag and variable name the tests, benches and docs use", () => {
    const flags = SERVER_OPTIONS.map((option) => option.flag);
    for (const flag of ["host", "port", "site", "data-dir", "driver", "containerd", "labs", "grace-ms", "config", "token-file", "readers-file", "public-url", "allow-origin", "allow-host"]) {
      expect(flags).toContain(flag);
    }
    const variables = SERVER_OPTIONS.flatMap((option) => option.env);
    for (const name of ["NWL_HOST", "NWL_PORT", "PORT", "NWL_SITE", "NWL_DATA_DIR", "NWL_DRIVER", "NWL_CONTAINERD", "NWL_LABS_DIR", "NWL_GRACE_MS", "NWL_CONFIG", "NWL_TOKEN_FILE", "NWL_READERS_FILE", "NWL_PUBLIC_URL", "NWL_ALLOW_ORIGINS", "NWL_ALLOW_HOSTS"]) {
      expect(variables).toContain(name);
    }
    expect(new Set(flags).size).toBe(flags.length);
    expect(new Set(variables).size).toBe(variables.length);
  });

  it("names only settings the schema has", () => {
    const keys = new Set([...Object.keys(ServerConfigSchema.shape), ...Object.keys(LimitsSchema.shape).map((key) => `limits.${key}`)]);
    for (const option of SERVER_OPTIONS) if (option.key) expect(keys, option.flag).toContain(option.key);
  });

  it("--help lists every flag with its variables and default, as the table says", () => {
    const help = cli(["--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout.trim()).toBe(usage());
    for (const option of SERVER_OPTIONS) {
      expect(help.stdout).toContain(`--${option.flag} ${option.placeholder}`);
      expect(help.stdout).toContain(`(${option.env.join(" or ")}; default `);
    }
    expect(help.stdout).toContain("(NWL_PORT or PORT; default 4321)");
  });

  it("the README and the self-hosting page's table are what the table makes", () => {
    expect(staleFiles()).toEqual([]);
    for (const option of SERVER_OPTIONS) expect(flagTableMarkdown()).toContain(`| \`--${option.flag}\` |`);
    for (const key of Object.keys(LimitsSchema.shape)) expect(configTableMarkdown()).toContain(`| \`limits.${key}\` |`);
  });
});

describe("flags, variables and the config file", () => {
  it("reads a JSON file with the schema's names; a variable wins over it, a flag over both", () => {
    const json = file("settings.json", JSON.stringify({ port: 5000, host: "0.0.0.0", tokenFile: "/run/token", limits: { graceMs: 1234, maxSessions: 7 } }));
    const fromFile = resolveServerOptions(["--config", json], {}).config;
    expect(fromFile).toMatchObject({ port: 5000, host: "0.0.0.0", tokenFile: "/run/token", limits: { graceMs: 1234, maxSessions: 7 } });
    const fromVariable = resolveServerOptions([], { NWL_CONFIG: json, NWL_PORT: "6000", NWL_GRACE_MS: "99" }).config;
    expect(fromVariable).toMatchObject({ port: 6000, limits: { graceMs: 99, maxSessions: 7 } });
    const fromFlag = resolveServerOptions(["--port", "7000", "--allow-origin", "https://a.example", "--allow-origin", "https://b.example"], { NWL_CONFIG: json, NWL_PORT: "6000", NWL_ALLOW_ORIGINS: "https://c.example" }).config;
    expect(fromFlag).toMatchObject({ port: 7000, allowOrigins: ["https://a.example", "https://b.example"], limits: { graceMs: 1234 } });
    expect(resolveServerOptions([], { NWL_ALLOW_HOSTS: "a.example, b.example" }).config.allowHosts).toEqual(["a.example", "b.example"]);
  });

  it("reads TOML when the file's name ends in .toml, [limits] as a table", () => {
    const toml = file("settings.toml", 'port = 5001\ndriver = "host-namespaces"\ncniPluginDir = "/opt/x/lib/cni"\nregistry = "registry"\n\n[limits]\ngraceMs = 4321\n');
    expect(resolveServerOptions(["--config", toml], {}).config).toMatchObject({
      port: 5001,
      driver: "host-namespaces",
      cniPluginDir: "/opt/x/lib/cni",
      registry: "registry",
      limits: { graceMs: 4321 },
    });
  });

  it("names a bad field with its file and path, and where a flag or variable was bad", () => {
    const toml = file("bad.toml", 'port = "eighty"\n\n[limits]\ngraceMs = -1\n');
    expect(() => resolveServerOptions(["--config", toml], {})).toThrow(
      new RegExp(`port \\(config file ${toml}\\): .*expected number[\\s\\S]*limits\\.graceMs \\(config file ${toml}\\): .*>0`),
    );
    const json = file("bad.json", JSON.stringify({ driver: "docker" }));
    expect(() => resolveServerOptions([], { NWL_CONFIG: json })).toThrow(`driver (config file ${json}): Invalid option`);
    expect(() => resolveServerOptions(["--port", "x"], {})).toThrow("port (--port): Invalid input: expected number");
    expect(() => resolveServerOptions([], { NWL_DRIVER: "docker" })).toThrow("driver (NWL_DRIVER): Invalid option");
  });

  it("refuses a setting the schema does not know, rather than dropping a typo", () => {
    const toml = file("typo.toml", "grace_ms = 10\n[limits]\nmaxSesions = 3\n");
    expect(() => resolveServerOptions(["--config", toml], {})).toThrow(`grace_ms (config file ${toml}): not a setting of the lab server`);
    expect(() => resolveServerOptions(["--config", toml], {})).toThrow(`limits.maxSesions (config file ${toml}): not a setting`);
    // A programmatic config is held to the same schema.
    expect(() => parseServerConfig({ grace_ms: 10, limits: { maxSesions: 3 } } as never)).toThrow("grace_ms: not a setting of the lab server");
    expect(() => parseServerConfig({ limits: { maxSesions: 3 } } as never)).toThrow("limits.maxSesions: not a setting of the lab server");
  });

  it("says which file is not TOML or JSON", () => {
    const toml = file("broken.toml", "port = = 1\n");
    expect(() => resolveServerOptions(["--config", toml], {})).toThrow(`config file ${toml} is not valid TOML`);
    const json = file("broken.json", "{ port: 1 }");
    expect(() => resolveServerOptions(["--config", json], {})).toThrow(`config file ${json} is not valid JSON`);
  });

  it("the real CLI stops before starting, naming the file and the field", () => {
    const toml = file("cli.toml", "[limits]\nmaxCols = 5\n");
    const run = cli(["--config", toml, "--driver", "host", "--port", "0"]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`limits.maxCols (config file ${toml}): Too small`);
  });
});
