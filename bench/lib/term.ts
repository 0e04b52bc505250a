/**
 * One terminal session as the bench sees it, whatever carries it: our
 * protocol, WeTTY's socket.io events, the naive bridge's text frames, or a
 * local pty. Every adapter pushes output chunks as they arrive; the metrics
 * only ever use this class.
 */
import { createRequire } from "node:module";
import * as pty from "node-pty";
import WebSocket from "ws";
import { NodeWebSocket } from "../../src/client/node-socket.ts";
import { TerminalConnection } from "../../src/client/terminal-connection.ts";


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
 * Our server through the page's own client code: TerminalConnection
 * (src/client/terminal-connection.ts) over NodeWebSocket, exactly as the
 * page runs it but with no xterm. Its per-chunk work (decoding each frame's
 * header, trimming replays, acking every FlowDefaults.ackIntervalBytes as
 * soon as a chunk is "processed") is part of what is measured. Like the
 * other peers' clients it only counts what arrives; it keeps no copies.
 */
export class OurTerm extends Term {
  private readonly connection: TerminalConnection;
  private socket: NodeWebSocket | undefined;
  private welcomed = false;
  private problem: string | undefined;

  static async connect(url: string, lab: string): Promise<OurTerm> {
    const term = new OurTerm(url, lab, linkToken(url));
    await term.until(() => term.welcomed || term.problem !== undefined, 20_000, "welcome").catch((error: Error) => (term.problem ??= error.message));
    if (!term.welcomed) {
      term.connection.close();
      throw new Error(`no welcome: ${term.problem}`);
    }
    return term;
  }

  private constructor(url: string, lab: string, token: string | undefined) {
    super();
    this.connection = new TerminalConnection({
      serverUrl: url,
      lab,
      name: "bench",
      cols: 120,
      rows: 40,
      token,
      // One connection per measured session: a drop fails the measurement instead of reconnecting.
      reconnect: false,
      storage: { getItem: () => null, setItem: () => {}, removeItem: () => {} },
      onPageHide: () => {},
      createSocket: (socketUrl, protocol) => {
        this.socket = new NodeWebSocket(socketUrl, protocol);
        // Closed once the socket is (the connection lets go of it at once on close()).
        this.socket.raw.on("close", () => this.ended());
        return this.socket;
      },
      onOutput: (data, processed) => {
        // The payload is a view of the received frame: a Buffer over the same memory, no copy.
        this.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
        processed();
      },
      // A repaint only follows a resume, which the bench never does: a protocol bug, and the measurement fails with it.
      onRepaint: () => {
        this.problem ??= "unexpected repaint";
        this.connection.close();
      },
      onStatus: (status, detail, code) => {
        if (status !== "closed") return;
        this.problem ??= `closed ${code ?? ""} ${detail ?? ""}`.trim();
        this.notify();
      },
      onWelcome: () => {
        this.welcomed = true;
        this.notify();
      },
      onExit: () => {},
      onError: (code, message) => {
        this.problem ??= `${code}: ${message}`;
        this.notify();
      },
    });
    this.connection.connect();
  }

  write(data: string): void {
    this.connection.sendInput(data);
  }

  protected shut(): void {
    this.connection.close();
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
