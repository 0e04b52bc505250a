/**
 * One terminal session as the bench sees it, whatever carries it: our
 * protocol, WeTTY's socket.io events, the naive bridge's text frames, or a
 * local pty. Every adapter pushes output chunks as they arrive; the metrics
 * only ever use this class.
 */
import { createRequire } from "node:module";
import * as pty from "node-pty";
import WebSocket from "ws";
import { FlowDefaults, FrameKind, PROTOCOL_VERSION, SUBPROTOCOL, decodeFrame, encodeMessage, parseServerMessage } from "../../server/protocol.ts";


/** The token of a reader's link (http://host:port/#token=…), as the lab server prints it. */
export function linkToken(link: string): string | undefined {
  return new URLSearchParams(new URL(link).hash.slice(1)).get("token") ?? undefined;
}

/** GET /healthz with the link's token: the operator's view, with the server's labs. */
export async function operatorHealth(link: string): Promise<{ labs: string[] | null }> {
  const response = await fetch(new URL("healthz", link), { headers: { authorization: `Bearer ${linkToken(link)}` } });
  return (await response.json()) as { labs: string[] | null };
}

export type Chunk = Buffer | string;

/** Recent output kept as text, for prompts and echoes. */
const TEXT_KEEP = 64 * 1024;
/** A prompt ends in `$ ` or `# `, maybe followed by escape sequences (bracketed paste). */
const PROMPT = /[$#] (?:\x1b\[[0-9;?]*[A-Za-z])*$/;

export abstract class Term {
  /** Output bytes received (UTF-8 bytes for peers that send strings). */
  received = 0;
  closed = false;
  text = "";
  /** While set, takes every chunk instead of `text` (throughput runs count 50 MB). */
  sink: ((chunk: Chunk, at: number) => void) | undefined;
  private waiters = new Set<() => void>();

  abstract write(data: string): void;
  protected abstract shut(): void;

  /** Closes the session and waits (bounded) until the peer has let go. */
  async close(): Promise<void> {
    if (!this.closed) this.shut();
    await this.until(() => this.closed, 5000, "close").catch(() => {});
  }

  clearText(): void {
    this.text = "";
  }

  waitForPrompt(timeoutMs = 20_000): Promise<void> {
    return this.until(() => PROMPT.test(this.text), timeoutMs, "a prompt");
  }

  /** Resolves when `predicate` holds; rejects at the timeout or when the session closes first. */
  until(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (predicate()) finish();
        else if (this.closed && what !== "close") finish(new Error(`session closed while waiting for ${what}`));
      };
      const finish = (error?: Error) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last output: ${JSON.stringify(this.text.slice(-200))}`)), timeoutMs);
      this.waiters.add(check);
    });
  }

  protected push(chunk: Chunk): void {
    this.received += typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.byteLength;
    if (this.sink) this.sink(chunk, performance.now());
    else {
      const text = typeof chunk === "string" ? chunk : chunk.toString("latin1");
      this.text = this.text.length + text.length > TEXT_KEEP ? (this.text + text).slice(-TEXT_KEEP) : this.text + text;
    }
    this.notify();
  }

  protected ended(): void {
    this.closed = true;
    this.notify();
  }

  protected notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

/**
 * Our server as the browser's client (src/client/terminal-connection.ts)
 * speaks to it: hello, then output frames whose header is decoded and whose
 * offsets must follow on, acked every FlowDefaults.ackIntervalBytes. Like
 * the other peers' clients it only counts what arrives; it keeps no copies.
 */
export class OurTerm extends Term {
  private readonly socket: WebSocket;
  /** Stream offset of the next byte expected. */
  private offset = 0;
  private acked = 0;
  private welcomed = false;
  private problem: string | undefined;

  static async connect(url: string, lab: string): Promise<OurTerm> {
    const token = linkToken(url);
    const socket = new WebSocket(new URL("ws", url.replace(/^http/, "ws")).toString(), SUBPROTOCOL, { perMessageDeflate: false });
    const term = new OurTerm(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    socket.send(encodeMessage({ type: "hello", version: PROTOCOL_VERSION, lab, cols: 120, rows: 40, token }));
    await term.until(() => term.welcomed || term.problem !== undefined, 20_000, "welcome").catch((error: Error) => (term.problem ??= error.message));
    if (!term.welcomed) {
      socket.terminate();
      throw new Error(`no welcome: ${term.problem}`);
    }
    return term;
  }

  private constructor(socket: WebSocket) {
    super();
    this.socket = socket;
    socket.on("message", (data, isBinary) => (isBinary ? this.frame(data as Buffer) : this.control((data as Buffer).toString("utf8"))));
    socket.on("close", (code, reason) => {
      this.problem ??= `closed ${code} ${reason.toString()}`;
      this.ended();
    });
    socket.on("error", () => {});
  }

  private control(text: string): void {
    const parsed = parseServerMessage(text);
    if (!parsed.ok) this.problem ??= parsed.error;
    else if (parsed.message.type === "welcome") {
      this.welcomed = true;
      this.offset = this.acked = parsed.message.offset;
    } else if (parsed.message.type === "error") this.problem ??= `${parsed.message.code}: ${parsed.message.message}`;
    this.notify();
  }

  private frame(data: Buffer): void {
    const frame = decodeFrame(data);
    if (frame?.kind !== FrameKind.output) return;
    if (frame.offset !== this.offset) {
      // A gap or an overlap is a protocol bug: end the session, and the measurement fails with it.
      this.problem ??= `stream gap: expected offset ${this.offset}, got ${frame.offset}`;
      this.socket.terminate();
      return;
    }
    this.offset += frame.payload.byteLength;
    // decodeFrame's payload is a view of the received Buffer: a Buffer itself.
    this.push(frame.payload as Buffer);
    if (this.offset - this.acked >= FlowDefaults.ackIntervalBytes) {
      this.acked = this.offset;
      this.socket.send(encodeMessage({ type: "ack", offset: this.acked }));
    }
  }

  write(data: string): void {
    this.socket.send(Buffer.from(data, "utf8"));
  }

  protected shut(): void {
    this.socket.close(1000);
  }
}

/** socket.io-client from the folder WeTTY was installed into, loaded at run time (not a project dependency). */
type IoSocket = {
  on(event: string, listener: (...args: any[]) => void): IoSocket;
  emit(event: string, ...args: unknown[]): IoSocket;
  disconnect(): IoSocket;
};
type Io = (url: string, options: Record<string, unknown>) => IoSocket;

/** WeTTY 3.2 as its browser client speaks to it (client/wetty.js): input/resize/commit out, data in. */
export class WettyTerm extends Term {
  /** WeTTY's client commits every 256 KiB of characters it has written to xterm. */
  static readonly ACK_CHARS = 262144;
  private readonly socket: IoSocket;
  private uncommitted = 0;

  static async connect(url: string, peersDir: string): Promise<WettyTerm> {
    const { io } = createRequire(`${peersDir}/package.json`)("socket.io-client") as { io: Io };
    // Websocket from the start (the browser client polls first, then upgrades): the kinder setting for WeTTY.
    const socket = io(url, { path: "/socket.io", transports: ["websocket"], forceNew: true, reconnection: false });
    const term = new WettyTerm(socket);
    await new Promise<void>((resolve, reject) => {
      socket.on("connect", () => resolve());
      socket.on("connect_error", (error: Error) => reject(error));
    });
    return term;
  }

  private constructor(socket: IoSocket) {
    super();
    this.socket = socket;
    socket.on("login", () => socket.emit("resize", { cols: 120, rows: 40 }));
    socket.on("data", (data: string) => {
      this.push(data);
      this.uncommitted += data.length;
      while (this.uncommitted >= WettyTerm.ACK_CHARS) {
        this.uncommitted -= WettyTerm.ACK_CHARS;
        socket.emit("commit", WettyTerm.ACK_CHARS);
      }
    });
    socket.on("logout", () => socket.disconnect());
    socket.on("disconnect", () => this.ended());
  }

  write(data: string): void {
    this.socket.emit("input", data);
  }

  protected shut(): void {
    this.socket.disconnect();
  }
}

/** The naive bridge: text frames both ways. */
export class NaiveTerm extends Term {
  private readonly socket: WebSocket;

  static async connect(url: string): Promise<NaiveTerm> {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    const term = new NaiveTerm(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    return term;
  }

  private constructor(socket: WebSocket) {
    super();
    this.socket = socket;
    socket.on("message", (data) => this.push(data as Buffer));
    socket.on("close", () => this.ended());
    socket.on("error", () => {});
  }

  write(data: string): void {
    this.socket.send(data);
  }

  protected shut(): void {
    this.socket.close(1000);
  }
}

/** node-pty in the bench process, no network at all: the limit the transports are measured against. */
export class LocalPtyTerm extends Term {
  private readonly pty: pty.IPty;

  static async connect(cwd: string, env: Record<string, string>): Promise<LocalPtyTerm> {
    return new LocalPtyTerm(pty.spawn("bash", [], { name: "xterm-256color", cols: 120, rows: 40, cwd, env, encoding: null }));
  }

  private constructor(child: pty.IPty) {
    super();
    this.pty = child;
    child.onData((data) => this.push(data as unknown as Buffer));
    child.onExit(() => this.ended());
  }

  write(data: string): void {
    this.pty.write(data);
  }

  protected shut(): void {
    try {
      this.pty.kill("SIGHUP");
    } catch {
      this.ended();
      return;
    }
    // A shell that ignores the hangup is killed a second later.
    setTimeout(() => {
      if (this.closed) return;
      try {
        this.pty.kill("SIGKILL");
      } catch {
        this.ended();
      }
    }, 1000).unref();
  }
}
