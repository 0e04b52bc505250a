/**
 * The page's terminal client (src/client/terminal-connection.ts) in Node,
 * for tests: one connection (no reconnects, so a refusal or a close shows),
 * with its output collected in order, and waits for text to appear.
 *
 * Hello, welcome, output, acks, resume, notices, environment and activity
 * events, exit and close codes all go through TerminalConnection, as they do
 * in the page. What only a test of the server plays, a client the page never
 * is, goes to the `ws` socket underneath: `sendRaw` (malformed frames),
 * `send` of a hello or an ack, `drop` (no close frame), a close with a code of
 * the test's choosing, and `socket` for raw frames.
 */
import type WebSocket from "ws";
import { NodeWebSocket } from "../../src/client/node-socket.ts";
import { TerminalConnection } from "../../src/client/terminal-connection.ts";
import {
  CloseCode,
  PROTOCOL_VERSION,
  encodeMessage,
  type ClientMessage,
  type Activity,
  type EnvironmentChanged,
  type ErrorCode,
  type ErrorMessage,
  type Notice,
  type Welcome,
} from "../protocol.ts";

export interface ProtocolClientOptions {
  lab?: string;
  cols?: number;
  rows?: number;
  session?: string;
  environment?: string;
  offset?: number;
  /** Ack output as it arrives (a fast client); false to play a client that never reads. */
  autoAck?: boolean;
  /** Keep the output (tests); benchmarks only count it. */
  keepOutput?: boolean;
  /** Access token for the hello; TEST_TOKEN by default, null to send none. */
  token?: string | null;
  /** Origin header of the upgrade, as a browser page would send it. */
  origin?: string;
  /** Host header of the upgrade (a DNS-rebinding page sends its own name). */
  host?: string;
  /** Say in the hello that this client takes repaints when it falls behind (as the page does). */
  skipAhead?: boolean;
}

/** The operator token test servers use (server/testing/lab-server.ts). */
export const TEST_TOKEN = "test-token-0123456789abcdef";

/** Session ids kept nowhere: two clients in one process are two pages, not one reloaded. */
const NO_STORAGE = { getItem: () => null, setItem: () => {}, removeItem: () => {} };
/** An OSC sequence (the shell's invisible prompt marks), ended by BEL or ST. */
const OSC = /\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g;
/** The start of an OSC sequence (or of an ESC) that the text ends before it is finished. */
const UNFINISHED_OSC = /\x1b(?:\][^\x07\x1b]*\x1b?)?$/;

export class ProtocolClient {
  readonly connection: TerminalConnection;
  /** The `ws` socket under the connection: for raw frames only. */
  readonly socket: WebSocket;
  welcome: Welcome | undefined;
  readonly errors: ErrorMessage[] = [];
  readonly notices: Notice[] = [];
  /** The environment's news: its state after each change, and the steps the lab ran in it. */
  readonly environmentEvents: (EnvironmentChanged | Activity)[] = [];
  exitCode: number | undefined;
  closeCode: number | undefined;
  closeReason = "";
  repaints: Buffer[] = [];
  /** For each repaint, how many output bytes had been received before it (where it falls in `output`). */
  readonly repaintsAt: number[] = [];
  /** Stream offset just past the last byte received. */
  offset = 0;
  received = 0;
  readonly closed: Promise<number>;
  private readonly nodeSocket: NodeWebSocket;
  private chunks: Buffer[] = [];
  /** The output as text without its OSC sequences, kept up per chunk (waitForText searches it, not all the output again). */
  private stripped = "";
  /** The output's end from where an OSC may begin that is not finished yet: held, as received, until the next chunk. */
  private strippedTail = "";
  private decoder = new TextDecoder();
  private readonly autoAck: boolean;
  private readonly keepOutput: boolean;
  /** Processed-callbacks of output held back while this client plays one that reads nothing (autoAck false). */
  private unprocessed: (() => void) | undefined;
  private waiters = new Set<() => void>();

  private constructor(baseUrl: string, options: ProtocolClientOptions) {
    this.autoAck = options.autoAck ?? true;
    this.keepOutput = options.keepOutput ?? true;
    this.offset = options.offset ?? 0;
    let created: NodeWebSocket | undefined;
    const token = options.token === null ? undefined : (options.token ?? TEST_TOKEN);
    this.connection = new TerminalConnection({
      serverUrl: baseUrl,
      lab: options.lab ?? "sandbox",
      name: "test",
      environment: options.environment,
      cols: options.cols ?? 80,
      rows: options.rows ?? 24,
      token,
      // One socket, no storage: every client is a page of its own unless the test resumes a session.
      reconnect: false,
      storage: NO_STORAGE,
      ...(options.session !== undefined ? { resume: { session: options.session, offset: options.offset ?? 0 } } : {}),
      onPageHide: () => {},
      // A test types frames as it gives them (one over the server's maxPayload, too); the page splits at 64 KiB.
      inputFrameBytes: Number.MAX_SAFE_INTEGER,
      skipAhead: options.skipAhead,
      createSocket: (url, protocol) => (created = new NodeWebSocket(url, protocol, { origin: options.origin, host: options.host })),
      onOutput: (data, processed) => this.receiveOutput(data, processed),
      onRepaint: (data, processed) => {
        this.repaints.push(Buffer.from(data));
        this.repaintsAt.push(this.received);
        if (this.autoAck) processed();
        else this.unprocessed = processed;
        this.offset = this.connection.streamOffset;
        this.notify();
      },
      onStatus: () => this.notify(),
      onWelcome: (info) => {
        this.welcome = { type: "welcome", version: PROTOCOL_VERSION, ...info };
        if (info.replay !== "exact") this.offset = info.offset;
        this.notify();
      },
      onExit: (code) => {
        this.exitCode = code;
        this.notify();
      },
      onError: (code, message) => {
        this.errors.push({ type: "error", code: code as ErrorCode, message });
        this.notify();
      },
      onNotice: (level, message) => {
        this.notices.push({ type: "notice", level, message });
        this.notify();
      },
      onEnvironment: (state) => {
        this.environmentEvents.push({ type: "environment", state });
        this.notify();
      },
      onActivity: (activity) => {
        this.environmentEvents.push(activity);
        this.notify();
      },
    });
    this.connection.connect();
    if (!created) throw new Error("TerminalConnection did not open a socket");
    this.nodeSocket = created;
    this.socket = created.raw;
    // The close as the socket saw it, also after close() let go of the connection.
    this.closed = new Promise((resolve) =>
      this.socket.on("close", (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        this.notify();
        resolve(code);
      }),
    );
  }

  /** Opens a terminal and waits for its welcome (or its refusal: closeCode, errors). Rejects when the upgrade fails, with the HTTP `status`. */
  static async connect(baseUrl: string, options: ProtocolClientOptions = {}): Promise<ProtocolClient> {
    const client = new ProtocolClient(baseUrl, options);
    let opened = false;
    client.socket.once("open", () => (opened = true));
    await client.until(() => client.welcome !== undefined || client.closeCode !== undefined, 20_000, "welcome");
    if (!opened && client.closeCode !== undefined) {
      const { refusal, error } = client.nodeSocket;
      if (refusal) throw Object.assign(new Error(`upgrade refused: HTTP ${refusal.status}`), { status: refusal.status });
      throw error ?? new Error(`connection closed before it opened (${client.closeCode})`);
    }
    return client;
  }

  get text(): string {
    return this.output.toString("utf8");
  }

  get output(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  /** The connection's own messages (resize, leave, interrupt) as the page sends them; a hello or an ack as given (raw). */
  send(message: ClientMessage): void {
    if (message.type === "resize") this.connection.resize(message.cols, message.rows);
    else if (message.type === "leave") this.connection.leave();
    else if (message.type === "interrupt") this.connection.interrupt();
    else this.socket.send(encodeMessage(message));
  }

  /** Types input, as the page does with the reader's keys (one frame per call). */
  type(input: string | Buffer): void {
    this.connection.sendInput(input);
  }

  /** A frame as given, past the client: for malformed input. */
  sendRaw(data: string | Buffer, binary: boolean): void {
    this.socket.send(data, { binary });
  }

  /** The client that read nothing (autoAck false) catches up: all it has is processed, and acked as the page acks. */
  ack(): void {
    const processed = this.unprocessed;
    this.unprocessed = undefined;
    processed?.();
  }

  clearOutput(): void {
    this.chunks = [];
    this.stripped = this.strippedTail = "";
    this.decoder = new TextDecoder();
  }

  /**
   * Waits until the output contains `text`: the output without its OSC sequences
   * (the shell's invisible prompt marks, which may sit at the start of a command's
   * first line), or byte for byte with `raw`.
   */
  async waitForText(text: string | RegExp, timeoutMs = 10_000, options: { raw?: boolean } = {}): Promise<string> {
    const output = () => (options.raw ? this.text : this.stripped + this.strippedTail);
    const found = () => (typeof text === "string" ? output().includes(text) : text.test(output()));
    await this.until(found, timeoutMs, `output to contain ${String(text)}; got:\n${output().slice(-2000)}`);
    return this.text;
  }

  until(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  /** Ends the session as the page's close does (1000); another code closes the socket with it, as a browser going away (1001) or a Reconnect (4001) does. */
  close(code: number = CloseCode.normal): Promise<number> {
    if (code === CloseCode.normal) this.connection.close();
    else this.socket.close(code);
    return this.closed;
  }

  /** Drops the connection the way a network cut does: no close frame. */
  drop(): void {
    this.socket.terminate();
  }

  private receiveOutput(data: Uint8Array, processed: () => void): void {
    // The connection already dropped what a replay repeated: a frame that does not follow on is a gap, a server bug.
    const start = this.connection.streamOffset - data.byteLength;
    if (start !== this.offset) throw new Error(`stream gap: expected offset ${this.offset}, got ${start}`);
    this.offset = this.connection.streamOffset;
    this.received += data.byteLength;
    if (this.keepOutput) {
      this.chunks.push(Buffer.from(data));
      this.strip(data);
    }
    // Processed at once (acked every FlowDefaults.ackIntervalBytes, as the page does), or held until ack().
    if (this.autoAck) processed();
    else this.unprocessed = processed;
    this.notify();
  }

  /** Adds a chunk to `stripped`: complete OSC sequences dropped, an unfinished one at the end held for the next chunk. */
  private strip(data: Uint8Array): void {
    // The tail is kept as it came (not stripped): stripping it again could join what surrounded a removed OSC into a new one.
    const raw = this.strippedTail + this.decoder.decode(data, { stream: true });
    let after = 0;
    for (const match of raw.matchAll(OSC)) after = match.index + match[0].length;
    const unfinished = raw.slice(after).search(UNFINISHED_OSC);
    const cut = unfinished < 0 ? raw.length : after + unfinished;
    this.stripped += raw.slice(0, cut).replace(OSC, "");
    this.strippedTail = raw.slice(cut);
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}
