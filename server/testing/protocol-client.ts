/**
 * A Node client of the terminal protocol, for tests and benchmarks: it
 * collects output in order, acks it, and waits for text to appear.
 */
import WebSocket from "ws";
import {
  FlowDefaults,
  FrameKind,
  PROTOCOL_VERSION,
  SUBPROTOCOL,
  decodeFrame,
  encodeMessage,
  parseServerMessage,
  type ClientMessage,
  type Activity,
  type EnvironmentChanged,
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
}

/** The operator token test servers use (server/testing/lab-server.ts). */
export const TEST_TOKEN = "test-token-0123456789abcdef";

export class ProtocolClient {
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
  /** Stream offset just past the last byte received. */
  offset = 0;
  received = 0;
  private chunks: Buffer[] = [];
  private acked = 0;
  private readonly autoAck: boolean;
  private readonly keepOutput: boolean;
  private waiters = new Set<() => void>();
  readonly closed: Promise<number>;

  private constructor(socket: WebSocket, options: ProtocolClientOptions) {
    this.socket = socket;
    this.autoAck = options.autoAck ?? true;
    this.keepOutput = options.keepOutput ?? true;
    this.offset = options.offset ?? 0;
    socket.on("message", (data, isBinary) => this.receive(data as Buffer, isBinary));
    this.closed = new Promise((resolve) =>
      socket.on("close", (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        this.notify();
        resolve(code);
      }),
    );
  }

  static async connect(baseUrl: string, options: ProtocolClientOptions = {}): Promise<ProtocolClient> {
    const url = new URL("ws", baseUrl.replace(/^http/, "ws")).toString();
    const socket = new WebSocket(url, SUBPROTOCOL, {
      perMessageDeflate: false,
      ...(options.origin ? { origin: options.origin } : {}),
      ...(options.host ? { headers: { host: options.host } } : {}),
    });
    const client = new ProtocolClient(socket, options);
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
      socket.once("unexpected-response", (_request, response) => {
        reject(Object.assign(new Error(`upgrade refused: HTTP ${response.statusCode}`), { status: response.statusCode }));
      });
    });
    client.send({
      type: "hello",
      version: PROTOCOL_VERSION,
      lab: options.lab ?? "sandbox",
      cols: options.cols ?? 80,
      rows: options.rows ?? 24,
      session: options.session,
      environment: options.environment,
      offset: options.offset,
      token: options.token === null ? undefined : (options.token ?? TEST_TOKEN),
    });
    await client.until(() => client.welcome !== undefined || client.closeCode !== undefined, 20_000, "welcome");
    return client;
  }

  get text(): string {
    return this.output.toString("utf8");
  }

  get output(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  send(message: ClientMessage): void {
    this.socket.send(encodeMessage(message));
  }

  type(input: string | Buffer): void {
    this.socket.send(typeof input === "string" ? Buffer.from(input, "utf8") : input);
  }

  sendRaw(data: string | Buffer, binary: boolean): void {
    this.socket.send(data, { binary });
  }

  ack(): void {
    if (this.offset > this.acked) {
      this.acked = this.offset;
      this.send({ type: "ack", offset: this.acked });
    }
  }

  clearOutput(): void {
    this.chunks = [];
  }

  /**
   * Waits until the output contains `text`: the output without its OSC sequences
   * (the shell's invisible prompt marks, which may sit at the start of a command's
   * first line), or byte for byte with `raw`.
   */
  async waitForText(text: string | RegExp, timeoutMs = 10_000, options: { raw?: boolean } = {}): Promise<string> {
    const output = () => (options.raw ? this.text : this.text.replace(/\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g, ""));
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

  close(code = 1000): Promise<number> {
    this.socket.close(code);
    return this.closed;
  }

  /** Drops the connection the way a network cut does: no close frame. */
  drop(): void {
    this.socket.terminate();
  }

  private receive(data: Buffer, isBinary: boolean): void {
    if (!isBinary) {
      const parsed = parseServerMessage(data.toString("utf8"));
      if (!parsed.ok) throw new Error(parsed.error);
      const message = parsed.message;
      if (message.type === "welcome") {
        this.welcome = message;
        if (message.replay !== "exact") this.offset = message.offset;
      } else if (message.type === "exit") this.exitCode = message.code;
      else if (message.type === "notice") this.notices.push(message);
      else if (message.type === "environment" || message.type === "activity") this.environmentEvents.push(message);
      else this.errors.push(message);
      this.notify();
      return;
    }
    const frame = decodeFrame(data);
    if (!frame) throw new Error("undecodable frame");
    if (frame.kind === FrameKind.repaint) {
      this.repaints.push(Buffer.from(frame.payload));
      this.offset = frame.offset;
    } else {
      if (frame.offset !== this.offset) throw new Error(`stream gap: expected offset ${this.offset}, got ${frame.offset}`);
      this.offset += frame.payload.byteLength;
      this.received += frame.payload.byteLength;
      if (this.keepOutput) this.chunks.push(Buffer.from(frame.payload));
      if (this.autoAck && this.offset - this.acked >= FlowDefaults.ackIntervalBytes) this.ack();
    }
    this.notify();
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}
