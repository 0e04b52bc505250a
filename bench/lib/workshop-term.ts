/**
 * A lab terminal as the Part 1 page's client uses it (src/client/terminal-
 * connection.ts): a hello with the reader's token (and the environment to
 * join, for a page's second terminal), output frames checked for gaps and
 * acked every FlowDefaults.ackIntervalBytes. It counts OSC 133;A marks (the
 * lab shell prints one before each prompt) and times hello → welcome.
 *
 * Also the page's Check button: POST /api/labs/<lab>/checkpoints/<id>/check.
 */
import WebSocket from "ws";
import { FlowDefaults, FrameKind, PROTOCOL_VERSION, SUBPROTOCOL, decodeFrame, encodeMessage, parseServerMessage, type Welcome } from "../../server/protocol.ts";
import { Term, type Chunk } from "./term.ts";

/** OSC 133;A: a prompt is about to be printed. */
export const PROMPT_MARK = "\x1b]133;A\x07";

export interface OpenOptions {
  token: string;
  lab: string;
  /** The environment to join (the page's second terminal names the first one's). */
  environment?: string;
  cols?: number;
  rows?: number;
  timeoutMs?: number;
}

export class LabTerm extends Term {
  welcome: Welcome | undefined;
  /** ms from the upgrade request until the socket was open. */
  upgradeMs = 0;
  /** ms from sending the hello until the welcome arrived. */
  helloToWelcomeMs = 0;
  /** OSC 133;A marks seen so far (one per prompt). */
  marks = 0;
  /** performance.now() of the first and the last mark. */
  firstMarkAt = 0;
  lastMarkAt = 0;
  /** performance.now() of the welcome. */
  welcomedAt = 0;
  problem: string | undefined;
  closeCode: number | undefined;
  private readonly socket: WebSocket;
  private offset = 0;
  private acked = 0;
  /** The end of the previous chunk, for a mark split across chunks. */
  private tail = "";

  static async open(baseUrl: string, options: OpenOptions): Promise<LabTerm> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const began = performance.now();
    const socket = new WebSocket(new URL("ws", baseUrl.replace(/^http/, "ws")).toString(), SUBPROTOCOL, { perMessageDeflate: false, handshakeTimeout: timeoutMs });
    const term = new LabTerm(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
      socket.once("unexpected-response", (_request, response) => reject(new Error(`upgrade refused: HTTP ${response.statusCode}`)));
    });
    const helloAt = performance.now();
    term.upgradeMs = helloAt - began;
    socket.send(
      encodeMessage({
        type: "hello",
        version: PROTOCOL_VERSION,
        lab: options.lab,
        environment: options.environment,
        cols: options.cols ?? 120,
        rows: options.rows ?? 40,
        token: options.token,
      }),
    );
    await term.until(() => term.welcome !== undefined || term.problem !== undefined, timeoutMs, "welcome").catch((error: Error) => (term.problem ??= error.message));
    if (!term.welcome) {
      socket.terminate();
      throw new Error(`no welcome: ${term.problem}`);
    }
    term.helloToWelcomeMs = term.welcomedAt - helloAt;
    return term;
  }

  private constructor(socket: WebSocket) {
    super();
    this.socket = socket;
    socket.on("message", (data, isBinary) => (isBinary ? this.frame(data as Buffer) : this.control((data as Buffer).toString("utf8"))));
    socket.on("close", (code, reason) => {
      this.closeCode = code;
      this.problem ??= `closed ${code} ${reason.toString()}`;
      this.ended();
    });
    socket.on("error", () => {});
  }

  private control(text: string): void {
    const parsed = parseServerMessage(text);
    if (!parsed.ok) this.problem ??= parsed.error;
    else if (parsed.message.type === "welcome") {
      this.welcomedAt = performance.now();
      this.welcome = parsed.message;
      this.offset = this.acked = parsed.message.offset;
    } else if (parsed.message.type === "error") this.problem ??= `${parsed.message.code}: ${parsed.message.message}`;
    this.notify();
  }

  private frame(data: Buffer): void {
    const frame = decodeFrame(data);
    if (frame?.kind !== FrameKind.output) return;
    if (frame.offset !== this.offset) {
      this.problem ??= `stream gap: expected offset ${this.offset}, got ${frame.offset}`;
      this.socket.terminate();
      return;
    }
    this.offset += frame.payload.byteLength;
    this.push(frame.payload as Buffer);
    if (this.offset - this.acked >= FlowDefaults.ackIntervalBytes) {
      this.acked = this.offset;
      this.socket.send(encodeMessage({ type: "ack", offset: this.acked }));
    }
  }

  protected override push(chunk: Chunk): void {
    const text = typeof chunk === "string" ? chunk : chunk.toString("latin1");
    const joined = this.tail + text;
    let from = 0;
    for (;;) {
      const at = joined.indexOf(PROMPT_MARK, from);
      if (at < 0) break;
      this.marks++;
      this.lastMarkAt = performance.now();
      if (this.marks === 1) this.firstMarkAt = this.lastMarkAt;
      from = at + PROMPT_MARK.length;
    }
    // Keep what could be the start of a mark (never a whole one, which was counted).
    this.tail = joined.slice(Math.max(from, joined.length - (PROMPT_MARK.length - 1)));
    super.push(chunk);
  }

  get environment(): string {
    return this.welcome!.environment;
  }

  /** Waits until more than `seen` marks have arrived: the prompt after a command. */
  waitForMark(seen: number, timeoutMs: number, what: string): Promise<void> {
    return this.until(() => this.marks > seen, timeoutMs, what);
  }

  write(data: string): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(Buffer.from(data, "utf8"));
  }

  /** Close code 1000: the reader closed the terminal, so the server ends the shell. */
  protected shut(): void {
    this.socket.close(1000);
  }

  /** Drops the socket at once (cleanup after a failure). */
  terminate(): void {
    this.socket.terminate();
  }
}

/** Text the way xterm.js pastes it: line ends as CR, wrapped in bracketed-paste marks; then Enter. */
export function bracketedPaste(script: string): string {
  return `\x1b[200~${script.trimEnd().replace(/\r?\n/g, "\r")}\x1b[201~\r`;
}

export interface CheckOutcome {
  ms: number;
  status: number;
  passed: boolean;
  timedOut: boolean;
  /** The check's output or the API's error, when it did not pass (bounded). */
  detail: string;
}

/** The page's Check button: runs the checkpoint's own check in the reader's environment. */
export async function check(baseUrl: string, token: string, lab: string, checkpoint: string, environment: string, timeoutMs: number): Promise<CheckOutcome> {
  const started = performance.now();
  try {
    const response = await fetch(new URL(`api/labs/${lab}/checkpoints/${checkpoint}/check`, baseUrl), {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ environment }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    const ms = performance.now() - started;
    let body: { passed?: boolean; timedOut?: boolean; output?: string; message?: string } = {};
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON
    }
    const passed = response.status === 200 && body.passed === true;
    return {
      ms,
      status: response.status,
      passed,
      timedOut: body.timedOut === true,
      detail: passed ? "" : (body.output ?? body.message ?? text).slice(-600),
    };
  } catch (error) {
    return { ms: performance.now() - started, status: 0, passed: false, timedOut: false, detail: (error as Error).message };
  }
}
