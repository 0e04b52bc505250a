/**
 * Every setting and limit of the lab server in one schema, validated once at
 * the edge (CLI flags and environment variables in main.ts).
 */
import { z } from "zod";
import { FlowDefaults } from "./protocol.ts";

const bytes = z.number().int().positive();
const ms = z.number().int().positive();

export const LimitsSchema = z
  .object({
    maxPayloadBytes: bytes.default(1024 * 1024).describe("Largest WebSocket frame accepted from a client (ws maxPayload); larger closes with 1009"),
    maxPendingInputBytes: bytes.default(4 * 1024 * 1024).describe("Input written to a pty but not yet read by its program; beyond it input is refused with an error"),
    highWatermarkBytes: bytes.default(FlowDefaults.highWatermarkBytes).describe("Unacknowledged output above which the pty is paused"),
    lowWatermarkBytes: bytes.default(FlowDefaults.lowWatermarkBytes).describe("Unacknowledged output below which a paused pty resumes; keep above the client's ack interval"),
    replayBufferBytes: bytes.default(2 * 1024 * 1024).describe("Output kept per session to resume a dropped connection byte-exactly"),
    coalesceMs: z.number().int().min(0).max(50).default(4).describe("Output is gathered this long into one frame, unless input just arrived"),
    graceMs: ms.default(10 * 60 * 1000).describe("How long a session outlives its dropped connection"),
    leaveGraceMs: ms.default(10_000).describe("How long a session outlives a page that said it was leaving (closed or reloaded)"),
    environmentGraceMs: ms.default(60 * 1000).describe("How long a lab environment outlives its last session"),
    helloTimeoutMs: ms.default(10_000).describe("Time a new connection has to send its hello"),
    maxSessions: z.number().int().positive().default(1000).describe("Terminal sessions held at once, attached or not"),
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

export const ServerConfigSchema = z.object({
  host: z.string().min(1).default("127.0.0.1").describe("Address to listen on; loopback by default"),
  port: z.number().int().min(0).max(65535).default(4321).describe("Port to listen on (0 picks a free one)"),
  siteDir: z.string().optional().describe("Built static site to serve on the same origin (dist/); none to serve only the API"),
  dataDir: z.string().default(".lab-data").describe("Where environments, images and the embedded services keep their state"),
  labsDir: z.string().default("labs").describe("Lab definitions"),
  driver: z
    .enum(["host", "host-namespaces"])
    .default("host-namespaces")
    .describe("Session driver: host-namespaces gives each reader private mounts, network and containerd namespace; host runs shells on the host itself"),
  containerd: z
    .enum(["auto", "embedded", "system"])
    .default("auto")
    .describe("Which containerd the labs use: the system's when its socket answers (auto), or one the server starts and supervises (embedded)"),
  shell: z.string().default("/bin/bash").describe("Login shell started in each terminal"),
  limits: LimitsSchema.prefault({}),
});

export type ServerConfig = z.infer<typeof ServerConfigSchema>;
export type ServerConfigInput = z.input<typeof ServerConfigSchema>;
export type Limits = z.infer<typeof LimitsSchema>;

export function parseServerConfig(input: ServerConfigInput): ServerConfig {
  const result = ServerConfigSchema.safeParse(input);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => `  ${issue.path.join(".") || "config"}: ${issue.message}`);
  throw new Error(`invalid lab server configuration:\n${lines.join("\n")}`);
}
