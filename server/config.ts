/**
 * Every setting and limit of the lab server in one schema, validated once at
 * the edge (flags, environment variables and the config file: options.ts).
 * The config file and the NixOS module's `settings` use these names.
 */
import { z } from "zod";
import type { $ZodIssue } from "zod/v4/core";
import { findCommand } from "./environment/prerequisites.ts";
import { FlowDefaults } from "./protocol.ts";

const bytes = z.number().int().positive();
const ms = z.number().int().positive();
const count = z.number().int().positive();
const origin = z.string().refine((text) => {
  try {
    const url = new URL(text);
    return (url.protocol === "http:" || url.protocol === "https:") && url.origin === text.replace(/\/$/, "");
  } catch {
    return false;
  }
}, "an origin is scheme://host[:port], e.g. https://labs.example.org");

// Strict: an unknown key (a typo) is refused, from a config file or a programmatic config alike.
export const LimitsSchema = z
  .strictObject({
    maxPayloadBytes: bytes.default(1024 * 1024).describe("Largest WebSocket frame accepted from a client (ws maxPayload); larger closes with 1009"),
    maxPendingInputBytes: bytes.default(4 * 1024 * 1024).describe("Input written to a pty but not yet read by its program; beyond it input is refused with an error"),
    highWatermarkBytes: bytes.default(FlowDefaults.highWatermarkBytes).describe("Unacknowledged output above which the pty is paused"),
    lowWatermarkBytes: bytes.default(FlowDefaults.lowWatermarkBytes).describe("Unacknowledged output below which a paused pty resumes; keep above the client's ack interval"),
    replayBufferBytes: bytes.default(2 * 1024 * 1024).describe("Output kept per session to resume a dropped connection byte-exactly"),
    coalesceMs: z.number().int().min(0).max(50).default(4).describe("Output is gathered this long into one frame, unless input just arrived"),
    graceMs: ms.default(10 * 60 * 1000).describe("How long a session outlives its dropped connection"),
    leaveGraceMs: ms.default(10_000).describe("How long a session outlives a page that said it was leaving (closed or reloaded)"),
    environmentGraceMs: ms
      .default(10 * 60 * 1000)
      .describe("How long a lab environment (and its progress) outlives its last terminal; the lab page shows it. API use (a check) restarts the wait"),
    helloTimeoutMs: ms.default(10_000).describe("Time a new connection has to send its hello"),
    maxSessions: count.default(1000).describe("Terminal sessions held at once on the server, attached or not; beyond it a hello is refused with close code 4429"),
    maxEnvironments: count.default(200).describe("Lab environments held at once on the server; beyond it a hello needing a new one is refused with close code 4429"),
    maxSessionsPerReader: count.default(16).describe("Terminal sessions one reader (the operator included) holds at once; beyond it a hello is refused with close code 4429"),
    maxEnvironmentsPerReader: count.default(4).describe("Lab environments one reader holds at once (one per lab page is the usual need); beyond it close code 4429"),
    maxConnectionsPerReader: count.default(32).describe("Open terminal connections of one reader; beyond it close code 4429"),
    upgradesPerMinutePerAddress: count.default(240).describe("WebSocket upgrades one client address may make a minute (before any token is read); beyond it HTTP 429 at the upgrade"),
    maxCols: z.number().int().min(20).max(1000).default(500).describe("Widest terminal a session may ask for; wider requests get this width (a repaint costs cols × rows)"),
    maxRows: z.number().int().min(5).max(1000).default(200).describe("Tallest terminal a session may ask for; taller requests get this height"),
    maxQueuedChecksPerEnvironment: count.default(4).describe("Checks waiting while another check of the same environment runs (they run one after another); beyond it HTTP 429"),
    maxCheckOutputBytes: bytes.default(64 * 1024).describe("Output of a check script kept as feedback"),
  })
  .refine((limits) => limits.lowWatermarkBytes < limits.highWatermarkBytes, {
    message: "lowWatermarkBytes must be below highWatermarkBytes",
  })
  .refine((limits) => limits.lowWatermarkBytes > FlowDefaults.ackIntervalBytes, {
    message: `lowWatermarkBytes must be above the client's ack interval (${FlowDefaults.ackIntervalBytes} bytes) or the stream can stall`,
  })
  .refine((limits) => limits.replayBufferBytes >= limits.highWatermarkBytes, {
    message: "replayBufferBytes must hold at least highWatermarkBytes so an unacknowledged window can always be replayed",
  });

export const ServerConfigSchema = z.strictObject({
  host: z.string().min(1).default("127.0.0.1").describe("Address to listen on; loopback by default (beyond loopback it needs a token file or invited readers, and TLS in front)"),
  port: z.number().int().min(0).max(65535).default(4321).describe("Port to listen on (0 picks a free one)"),
  siteDir: z.string().optional().describe("Built static site to serve on the same origin (dist/); none to serve only the API"),
  dataDir: z.string().default(".lab-data").describe("Where environments, images and the embedded services keep their state"),
  labsDir: z.string().default("labs").describe("Lab definitions"),
  driver: z
    .enum(["auto", "sandbox", "host-namespaces", "host"])
    .default("auto")
    .describe(
      "How a reader's environment is made: sandbox (root inside a user namespace of its own, nobody outside, with its own containerd and limits), host-namespaces (private mounts and network on the host: a reader is root on the machine), host (a plain shell, for one reader on a lab VM of their own); auto: sandbox where this kernel allows it, else host-namespaces",
    ),
  containerd: z
    .enum(["auto", "embedded", "system"])
    .default("auto")
    .describe("Which containerd the labs use: the system's when its socket answers (auto), or one the server starts and supervises (embedded)"),
  // Found on PATH, never a fixed /bin/bash: NixOS has none.
  shell: z.string().min(1).default(() => findCommand("bash") ?? "bash").describe("Login shell started in each terminal of the host and host-namespaces drivers"),
  cniPluginDir: z.string().min(1).optional().describe("Folder of the CNI plugins (loopback); each host-namespaces environment sees it where ctr looks for them (the sandbox uses the host's /usr/lib/cni)"),
  registry: z.string().min(1).optional().describe("The image registry binary (Debian: docker-registry; nixpkgs: registry, from the `distribution` package), a name on PATH or a path"),
  busybox: z.string().min(1).optional().describe("The static busybox the lab images are built from, a name on PATH or a path"),
  token: z.string().min(16).optional().describe("The operator's access token (programmatic use and tests; a command line would show it in ps: use tokenFile)"),
  tokenFile: z.string().optional().describe("File holding the operator's access token, for a link that stays the same across restarts; made with a new token when missing"),
  readersFile: z.string().optional().describe("Readers of a workshop, one `NAME TOKEN` a line (`invite NAME` adds one); default <dataDir>/readers"),
  publicUrl: z.string().url().optional().describe("The URL readers open when it is not the listen address (a reverse proxy with TLS): links are printed with it and its host is accepted"),
  allowOrigins: z.array(origin).default([]).describe("Origins of pages elsewhere (a static deploy of the site) that may use this server"),
  allowHosts: z.array(z.string().min(1)).default([]).describe("Host names requests may name besides loopback ones, the listen address and the public URL's host"),
  limits: LimitsSchema.prefault({}),
});

export type ServerConfig = z.infer<typeof ServerConfigSchema>;
export type ServerConfigInput = z.input<typeof ServerConfigSchema>;
export type Limits = z.infer<typeof LimitsSchema>;

export function parseServerConfig(input: ServerConfigInput): ServerConfig {
  const result = ServerConfigSchema.safeParse(input);
  if (result.success) return result.data;
  throw new Error(formatConfigIssues(result.error.issues));
}

/**
 * One line per invalid setting: its name, where it came from when known (a
 * flag, a variable, a config file: `sources` by setting name), and why.
 */
export function formatConfigIssues(issues: readonly $ZodIssue[], sources: ReadonlyMap<string, string> = new Map()): string {
  const line = (path: readonly PropertyKey[], message: string) => {
    const name = path.map(String).join(".");
    let source: string | undefined;
    for (let length = path.length; length > 0 && !source; length--) source = sources.get(path.slice(0, length).map(String).join("."));
    return `  ${name || "config"}${source ? ` (${source})` : ""}: ${message}`;
  };
  // An unknown key (the schemas are strict) is named one a line, as a typo the reader can find.
  const lines = issues.flatMap((issue) =>
    issue.code === "unrecognized_keys"
      ? issue.keys.map((key) => line([...issue.path, key], "not a setting of the lab server (see node server/main.ts --help and the README's config file table)"))
      : [line(issue.path, issue.message)],
  );
  return `invalid lab server configuration:\n${lines.join("\n")}`;
}
