/**
 * The lab server's options, declared once. From this table come the CLI
 * parsing (node:util parseArgs), `--help`, the environment variables, the
 * config file's checks and the option tables of the README and the
 * self-hosting page (scripts/options-table.ts). Each option names a path
 * into ServerConfigSchema: the schema says what a valid value is, and its
 * defaults are the defaults.
 *
 * Precedence: flags > environment variables > config file (--config, JSON or
 * TOML, the schema's own names) > the schema's defaults.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { parse as parseToml } from "smol-toml";
import { LimitsSchema, ServerConfigSchema, formatConfigIssues, type ServerConfig } from "./config.ts";
import { REGISTRY_COMMANDS, USUAL_CNI_PLUGIN_DIRS } from "./environment/prerequisites.ts";

export interface ServerOption {
  /** Path into ServerConfigSchema ("limits.graceMs"); undefined for --config, which is no setting. */
  key: string | undefined;
  /** The flag, without its dashes. */
  flag: string;
  /** Environment variables, the first set wins. */
  env: readonly string[];
  /** How the text of a flag or variable becomes the value: a list is repeated flags or a comma-separated variable. */
  kind: "string" | "number" | "list";
  /** What the value is, in --help (ADDR, N, DIR). */
  placeholder: string;
  /**
   * What the option means, for an option that is no setting (--config) only: a setting's meaning
   * is its schema's .describe() in server/config.ts, written once (optionDescription()).
   */
  description?: string;
  /** The default in words, where the schema's own (or its absence) would not say it. */
  defaultText?: string;
}

export const SERVER_OPTIONS: readonly ServerOption[] = [
  { key: "host", flag: "host", env: ["NWL_HOST"], kind: "string", placeholder: "ADDR" },
  { key: "port", flag: "port", env: ["NWL_PORT", "PORT"], kind: "number", placeholder: "N" },
  { key: "siteDir", flag: "site", env: ["NWL_SITE"], kind: "string", placeholder: "DIR", defaultText: "dist when dist/index.html exists" },
  { key: "dataDir", flag: "data-dir", env: ["NWL_DATA_DIR"], kind: "string", placeholder: "DIR" },
  { key: "driver", flag: "driver", env: ["NWL_DRIVER"], kind: "string", placeholder: "KIND" },
  { key: "containerd", flag: "containerd", env: ["NWL_CONTAINERD"], kind: "string", placeholder: "MODE" },
  { key: "labsDir", flag: "labs", env: ["NWL_LABS_DIR"], kind: "string", placeholder: "DIR" },
  { key: "limits.graceMs", flag: "grace-ms", env: ["NWL_GRACE_MS"], kind: "number", placeholder: "N" },
  { key: undefined, flag: "config", env: ["NWL_CONFIG"], kind: "string", placeholder: "FILE", description: "Settings as JSON or TOML (by extension), with the config file's names below, limits included", defaultText: "none" },
  { key: "tokenFile", flag: "token-file", env: ["NWL_TOKEN_FILE"], kind: "string", placeholder: "FILE", defaultText: "none (a new token each start)" },
  { key: "readersFile", flag: "readers-file", env: ["NWL_READERS_FILE"], kind: "string", placeholder: "FILE", defaultText: "DATA_DIR/readers" },
  { key: "publicUrl", flag: "public-url", env: ["NWL_PUBLIC_URL"], kind: "string", placeholder: "URL" },
  { key: "allowOrigins", flag: "allow-origin", env: ["NWL_ALLOW_ORIGINS"], kind: "list", placeholder: "ORIGIN" },
  { key: "allowHosts", flag: "allow-host", env: ["NWL_ALLOW_HOSTS"], kind: "list", placeholder: "HOST" },
  { key: "shell", flag: "shell", env: ["NWL_SHELL"], kind: "string", placeholder: "FILE", defaultText: "bash on PATH" },
  { key: "cniPluginDir", flag: "cni-plugin-dir", env: ["NWL_CNI_PLUGIN_DIR"], kind: "string", placeholder: "DIR", defaultText: `the first of ${USUAL_CNI_PLUGIN_DIRS.join(", ")} holding loopback` },
  { key: "registry", flag: "registry", env: ["NWL_REGISTRY"], kind: "string", placeholder: "CMD", defaultText: `${REGISTRY_COMMANDS.join(" or ")} on PATH` },
  { key: "busybox", flag: "busybox", env: ["NWL_BUSYBOX"], kind: "string", placeholder: "CMD", defaultText: "busybox on PATH" },
];

/** What an option means: its setting's description in the schema (server/config.ts), else its own (--config). */
export function optionDescription(option: ServerOption): string {
  if (!option.key) return option.description ?? "";
  const [first, second] = option.key.split(".");
  const schema = second === undefined ? (ServerConfigSchema.shape as Record<string, { description?: string }>)[first!] : (LimitsSchema.shape as Record<string, { description?: string }>)[second];
  const description = schema?.description;
  if (!description) throw new Error(`setting ${option.key} has no description in server/config.ts`);
  return description;
}

/** What a flag means, for --help and the flag table: a list's flag repeats and its variable is comma-separated. */
function flagDescription(option: ServerOption): string {
  return `${optionDescription(option)}${option.kind === "list" ? " (the flag repeatable, the variable comma-separated)" : ""}`;
}

/** `node server/main.ts --help`. */
export function usage(): string {
  const lines = [
    "usage: node server/main.ts [options]          start the lab server",
    "       node server/main.ts doctor [options]   what this host has and lacks, per driver and lab",
    "       node server/main.ts invite NAME [--data-dir DIR | --readers-file FILE] [--public-url URL]",
    "",
  ];
  for (const option of SERVER_OPTIONS) {
    const head = `  --${option.flag} ${option.placeholder}`;
    const fallback = defaultText(option);
    lines.push(`${head.padEnd(26)}${flagDescription(option)}`);
    lines.push(`${"".padEnd(26)}(${option.env.join(" or ")}; default ${fallback})`);
  }
  lines.push("  --help                  this text");
  lines.push("Precedence: flags, then environment variables, then the config file, then defaults.");
  return lines.join("\n");
}

/** The default of an option in words: its own text, else the schema's default, else "none". */
export function defaultText(option: ServerOption): string {
  if (option.defaultText) return option.defaultText;
  const value = option.key ? valueAt(schemaDefaults(), option.key) : undefined;
  if (value === undefined || (Array.isArray(value) && !value.length)) return "none";
  return Array.isArray(value) ? value.join(",") : String(value);
}

function schemaDefaults(): Record<string, unknown> {
  return ServerConfigSchema.parse({}) as unknown as Record<string, unknown>;
}

function valueAt(object: Record<string, unknown>, key: string): unknown {
  return key.split(".").reduce<unknown>((at, part) => (at && typeof at === "object" ? (at as Record<string, unknown>)[part] : undefined), object);
}

function setAt(object: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split(".");
  let at = object;
  for (const part of parts.slice(0, -1)) at = (at[part] ??= {}) as Record<string, unknown>;
  at[parts.at(-1)!] = value;
}

/** parseArgs' option list, from the table. */
export function parseArgsOptions(): Record<string, { type: "string" | "boolean"; multiple?: boolean }> {
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = { help: { type: "boolean" } };
  for (const option of SERVER_OPTIONS) options[option.flag] = option.kind === "list" ? { type: "string", multiple: true } : { type: "string" };
  return options;
}

/** Where a setting came from, for an error that names it. */
type Source = string;

function fromText(option: ServerOption, text: string | string[]): unknown {
  if (option.kind === "list") return Array.isArray(text) ? text : text.split(",").map((item) => item.trim()).filter(Boolean);
  const single = Array.isArray(text) ? text.at(-1)! : text;
  // A number that is not one stays text: the schema then says "expected number" with the option's name.
  if (option.kind === "number") return single.trim() !== "" && Number.isFinite(Number(single)) ? Number(single) : single;
  return single;
}

/** A config file's settings: JSON, or TOML when its name ends in .toml. Errors name the file. */
export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new Error(`config file ${file}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = file.endsWith(".toml") ? parseToml(text) : JSON.parse(text);
  } catch (error) {
    throw new Error(`config file ${file} is not valid ${file.endsWith(".toml") ? "TOML" : "JSON"}: ${(error as Error).message}`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error(`config file ${file}: expected an object of settings (the names of server/config.ts)`);
  // Unknown keys are refused by the (strict) schema, with the file named: see resolveServerOptions.
  return parsed as Record<string, unknown>;
}

export interface ResolvedOptions {
  config: ServerConfig;
  positionals: string[];
  help: boolean;
}

/**
 * The server's configuration from argv, the environment and the config file
 * they name, validated once by ServerConfigSchema; an invalid value is named
 * with where it came from (the flag, the variable, or the file and its field).
 */
export function resolveServerOptions(argv: readonly string[], env: NodeJS.ProcessEnv, options: { cwd?: string } = {}): ResolvedOptions {
  const { values, positionals } = parseArgs({ args: [...argv], allowPositionals: true, options: parseArgsOptions() });
  if (values.help) return { config: undefined as unknown as ServerConfig, positionals, help: true };
  const input: Record<string, unknown> = {};
  const sources = new Map<string, Source>();
  const configOption = SERVER_OPTIONS.find((option) => option.flag === "config")!;
  const configFile = (values.config as string | undefined) ?? configOption.env.map((name) => env[name]).find((value) => value);
  if (configFile) {
    const settings = readConfigFile(configFile);
    Object.assign(input, structuredClone(settings));
    for (const key of Object.keys(settings)) sources.set(key, `config file ${configFile}`);
    if (settings.limits && typeof settings.limits === "object") {
      for (const key of Object.keys(settings.limits)) sources.set(`limits.${key}`, `config file ${configFile}`);
    }
  }
  for (const option of SERVER_OPTIONS) {
    if (!option.key) continue;
    const flagValue = values[option.flag] as string | string[] | undefined;
    const variable = option.env.find((name) => env[name] !== undefined && env[name] !== "");
    if (flagValue !== undefined) {
      setAt(input, option.key, fromText(option, flagValue));
      sources.set(option.key, `--${option.flag}`);
    } else if (variable) {
      setAt(input, option.key, fromText(option, env[variable]!));
      sources.set(option.key, variable);
    }
  }
  // The site: dist/ when it was built, and always an absolute path (the server may chdir nowhere, but logs say it).
  if (input.siteDir === undefined && existsSync(path.join(options.cwd ?? ".", "dist/index.html"))) input.siteDir = "dist";
  if (typeof input.siteDir === "string") input.siteDir = path.resolve(options.cwd ?? ".", input.siteDir);
  const result = ServerConfigSchema.safeParse(input);
  if (!result.success) throw new Error(formatConfigIssues(result.error.issues, sources));
  return { config: result.data, positionals, help: false };
}

/** Rows of the flag table: flag, environment, default, meaning (Markdown). */
export function flagTableMarkdown(): string {
  const code = (text: string) => `\`${text}\``;
  const rows = SERVER_OPTIONS.map((option) => {
    const fallback = defaultText(option);
    const shownDefault = option.defaultText || fallback === "none" ? fallback : code(fallback);
    return `| ${code(`--${option.flag}`)} | ${option.env.map(code).join(", ")} | ${option.key ? code(option.key) : "none"} | ${shownDefault} | ${cell(flagDescription(option))} |`;
  });
  return ["| flag | environment | config file | default | meaning |", "|---|---|---|---|---|", ...rows].join("\n");
}

/** Text for a Markdown table cell that is also safe in MDX: no pipes, no tag-like <name>. */
function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Every setting of the config file (the schema's names, limits.* nested), its default and what it does. */
export function configTableMarkdown(): string {
  const defaults = schemaDefaults();
  const flagged = new Map(SERVER_OPTIONS.filter((option) => option.key).map((option) => [option.key!, option]));
  const row = (key: string, description: string | undefined) => {
    const option = flagged.get(key);
    const value = valueAt(defaults, key);
    const shown = option?.defaultText ?? (value === undefined || (Array.isArray(value) && !value.length) ? "none" : `\`${JSON.stringify(value)}\``);
    return `| \`${key}\` | ${shown} | ${cell(description ?? (option ? optionDescription(option) : ""))} |`;
  };
  const rows: string[] = [];
  for (const [key, schema] of Object.entries(ServerConfigSchema.shape)) {
    if (key === "limits") continue;
    rows.push(row(key, (schema as { description?: string }).description));
  }
  for (const [key, schema] of Object.entries(LimitsSchema.shape)) rows.push(row(`limits.${key}`, (schema as { description?: string }).description));
  return ["| setting | default | meaning |", "|---|---|---|", ...rows].join("\n");
}
