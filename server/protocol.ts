/**
 * The Nix Way Labs terminal wire protocol, version 1: one WebSocket is one
 * terminal session. This module is shared by the browser and the server, so it
 * imports nothing from Node.
 *
 *   binary, client → server   input bytes for the pty, as typed or pasted
 *   binary, server → client   [u8 kind][u32 hi][u32 lo][payload]: kind 1 = output
 *                             whose first byte sits at stream offset hi·2³²+lo;
 *                             kind 2 = a repaint of the screen (not part of the
 *                             stream; the stream goes on at the offset it names);
 *                             kind 3 = the same, skipping ahead of a flood (only
 *                             to a client whose hello said skipAhead)
 *   text, client → server     hello (first frame, once) | resize | ack | leave | interrupt
 *   text, server → client     welcome (answers hello) | exit | error | notice
 *                             | environment (its state changed: progress, reset)
 *                             | activity (the lab ran a step's solve in it: shown in the terminal)
 *
 * Every byte a program writes has a place in the session's output stream.
 * The client acks the offset xterm has processed; the server pauses the pty
 * while more than a high watermark is unacknowledged. A client that
 * reconnects says the offset it has: the server replays from there, or
 * repaints the screen when that offset has left its replay buffer.
 * A client that draws a terminal says `skipAhead` in its hello: when it falls
 * behind a flood (its window full and 256 KiB more waiting), the program runs on and the client
 * gets repaints of the latest screen instead of every byte, each acked with
 * its offset once drawn (terminal-session.ts).
 */
import { z } from "zod";
import { EnvironmentState } from "./lab-api-protocol.ts";

// In a page, whose Content-Security-Policy forbids eval, zod must not probe for
// it (the probe is a reported violation); it parses as well without compiling.
if (typeof document !== "undefined") z.config({ jitless: true });

export const PROTOCOL_VERSION = 1;
/** Offered as the WebSocket subprotocol so a mismatched peer fails at the handshake. */
export const SUBPROTOCOL = "nix-way-labs.v1";

export const FrameKind = { output: 1, repaint: 2, skipAhead: 3 } as const;
export const FRAME_HEADER_BYTES = 9;

/** Close codes (4000–4999 are the application's). */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  /** Another connection attached to the session (the newest tab wins). */
  replaced: 4000,
  /** The client drops this socket to open a new one at once (its Reconnect): keep the shell. */
  reconnecting: 4001,
  policy: 1008,
  tooBig: 1009,
  badFrame: 4400,
  unauthorized: 4401,
  notFound: 4404,
  versionMismatch: 4409,
  sessionEnded: 4410,
  /** The reader reset the lab environment: the shell went with it; a new one starts in the new environment. */
  environmentReset: 4411,
  limitReached: 4429,
  serverError: 4500,
} as const;

const size = z.number().int().min(2).max(1000);
const offset = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);

export const Hello = z.object({
  type: z.literal("hello"),
  version: z.literal(PROTOCOL_VERSION).describe("Protocol version the client speaks"),
  lab: id.describe("Lab whose environment the shell runs in"),
  environment: id.optional().describe("Lab environment to join (several terminals of one page share it)"),
  session: id.optional().describe("Session to resume, from an earlier welcome"),
  offset: offset.optional().describe("Output bytes the client already has of that session"),
  cols: size,
  rows: size,
  token: z.string().max(512).optional().describe("Access token, when the server requires one"),
  skipAhead: z
    .boolean()
    .optional()
    .describe("The client draws a terminal: when it falls behind a flood, the server may send one repaint of the screen for the output it skips, instead of every byte"),
});
export const Resize = z.object({ type: z.literal("resize"), cols: size, rows: size });
export const Ack = z.object({
  type: z.literal("ack"),
  offset: offset.describe("Output processed by the terminal, as a stream offset"),
});
/** The page is going away (closed or reloaded): keep the shell only briefly. */
export const Leave = z.object({ type: z.literal("leave") });
/**
 * Stop what runs in the foreground of this terminal (the reader's Stop, after Ctrl+C did
 * not help: e.g. an attached `ctr task start` whose PID 1 ignores SIGINT). The server kills
 * that process group, never the shell itself, and answers with a notice.
 */
export const Interrupt = z.object({ type: z.literal("interrupt") });
export const ClientMessage = z.discriminatedUnion("type", [Hello, Resize, Ack, Leave, Interrupt]);

export const Welcome = z.object({
  type: z.literal("welcome"),
  version: z.literal(PROTOCOL_VERSION),
  session: id.describe("Id to resume this session with"),
  environment: id.describe("Id of the lab environment the session runs in"),
  offset: offset.describe("Stream offset the next output frame starts at"),
  replay: z.enum(["new", "exact", "repaint"]).describe("How the stream resumes: a new shell, a byte-exact replay, or a repaint"),
});
export const Exit = z.object({
  type: z.literal("exit"),
  code: z.number().int(),
  signal: z.number().int().optional(),
});
export const ErrorCode = z.enum([
  "bad-frame",
  "not-hello",
  "unknown-lab",
  "unknown-session",
  "input-overflow",
  "limit-reached",
  "unauthorized",
  "environment-failed",
  "service-degraded",
  "server-error",
]);
export const ErrorMessage = z.object({
  type: z.literal("error"),
  code: ErrorCode,
  message: z.string().describe("What went wrong, for a reader"),
});
/** Something the reader should know that is not an error of theirs, e.g. the lab's containerd restarting. */
export const Notice = z.object({
  type: z.literal("notice"),
  level: z.enum(["info", "warning"]),
  message: z.string().describe("A sentence for the reader"),
});
/** The environment's state changed (a check anywhere, a reset): every terminal in it hears, so every tab agrees. */
export const EnvironmentChanged = z.object({ type: z.literal("environment"), state: EnvironmentState });
/** The lab ran a step for the reader (Solve, Catch me up): what ran and what it printed, shown in the terminal. */
export const Activity = z.object({
  type: z.literal("activity"),
  title: z.string().describe("e.g. Solved “Track the k8s folder”"),
  script: z.string().describe("The commands the lab ran, from the lab definition"),
  output: z.string(),
  passed: z.boolean().describe("Whether the step's check passed afterwards"),
});
export const ServerMessage = z.discriminatedUnion("type", [Welcome, Exit, ErrorMessage, Notice, EnvironmentChanged, Activity]);

export type Hello = z.infer<typeof Hello>;
export type Resize = z.infer<typeof Resize>;
export type Ack = z.infer<typeof Ack>;
export type Leave = z.infer<typeof Leave>;
export type Interrupt = z.infer<typeof Interrupt>;
export type EnvironmentChanged = z.infer<typeof EnvironmentChanged>;
export type Activity = z.infer<typeof Activity>;
export type ClientMessage = z.infer<typeof ClientMessage>;
export type Welcome = z.infer<typeof Welcome>;
export type Exit = z.infer<typeof Exit>;
export type ErrorCode = z.infer<typeof ErrorCode>;
export type ErrorMessage = z.infer<typeof ErrorMessage>;
export type Notice = z.infer<typeof Notice>;
export type ServerMessage = z.infer<typeof ServerMessage>;

export type ParseResult<T> = { ok: true; message: T } | { ok: false; error: string };

function parseText<T>(schema: z.ZodType<T>, text: string): ParseResult<T> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: "control frame is not JSON" };
  }
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, message: result.data };
  const issue = result.error.issues[0];
  const where = issue?.path.length ? ` at ${issue.path.join(".")}` : "";
  return { ok: false, error: `invalid control frame${where}: ${issue?.message ?? "unknown"}` };
}

export const parseClientMessage = (text: string) => parseText(ClientMessage, text);
export const parseServerMessage = (text: string) => parseText(ServerMessage, text);

export function encodeMessage(message: ClientMessage | ServerMessage): string {
  return JSON.stringify(message);
}

/**
 * Frames output or a repaint: header plus payload, in one buffer. The payload
 * may come as consecutive chunks (the pty reads of one flush), copied once.
 * `alloc` makes the frame: the server passes Buffer.allocUnsafe, since every
 * byte is written here and zero-filling first is wasted work on its hottest path.
 */
export function encodeFrame(
  kind: number,
  streamOffset: number,
  payload: Uint8Array | readonly Uint8Array[],
  alloc: (size: number) => Uint8Array = (size) => new Uint8Array(size),
): Uint8Array {
  const chunks = payload instanceof Uint8Array ? [payload] : payload;
  let length = 0;
  for (const chunk of chunks) length += chunk.byteLength;
  const frame = alloc(FRAME_HEADER_BYTES + length);
  const view = new DataView(frame.buffer, frame.byteOffset, FRAME_HEADER_BYTES);
  view.setUint8(0, kind);
  view.setUint32(1, Math.floor(streamOffset / 2 ** 32));
  view.setUint32(5, streamOffset >>> 0);
  let at = FRAME_HEADER_BYTES;
  for (const chunk of chunks) {
    frame.set(chunk, at);
    at += chunk.byteLength;
  }
  return frame;
}

export type DecodedFrame = { kind: number; offset: number; payload: Uint8Array };

export function decodeFrame(frame: Uint8Array): DecodedFrame | undefined {
  if (frame.byteLength < FRAME_HEADER_BYTES) return undefined;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const kind = view.getUint8(0);
  if (kind !== FrameKind.output && kind !== FrameKind.repaint && kind !== FrameKind.skipAhead) return undefined;
  const offset = view.getUint32(1) * 2 ** 32 + view.getUint32(5);
  return { kind, offset, payload: frame.subarray(FRAME_HEADER_BYTES) };
}

/** Flow-control defaults the client and server agree on (the server's are configurable). */
export const FlowDefaults = {
  /**
   * The client acks after this many processed bytes. Every ack is a message
   * to send and a wake-up of the server to parse it, so a flood gets few of
   * them (WeTTY's client commits every 256 Ki characters).
   */
  ackIntervalBytes: 128 * 1024,
  /**
   * Pause the pty above this many unacknowledged bytes... It also bounds
   * how much output can queue ahead of a keystroke's echo on a slow client.
   */
  highWatermarkBytes: 512 * 1024,
  /** ...and resume it below this many; kept above the ack interval so acks always arrive. */
  lowWatermarkBytes: 256 * 1024,
} as const;
