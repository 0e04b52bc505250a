/**
 * Client side of the terminal transport (protocol in server/protocol.ts):
 * one TerminalConnection is one terminal session that survives dropped
 * sockets. It resumes from the last byte received, acks what xterm has
 * processed (flow control), and queues input typed while reconnecting.
 * No DOM or xterm here: the UI hands in callbacks.
 *
 * The page, the server's tests (server/testing/protocol-client.ts), the
 * bench (bench/lib/term.ts) and scripts/walk-lab.ts all use this one client.
 * Outside a browser, the socket comes from `createSocket` (Node:
 * src/client/node-socket.ts) and the page-only hooks are options.
 */
import {
  CloseCode,
  FlowDefaults,
  FrameKind,
  SUBPROTOCOL,
  PROTOCOL_VERSION,
  decodeFrame,
  encodeMessage,
  parseServerMessage,
  type Activity,
  type ClientMessage,
} from "../../server/protocol.ts";
import type { EnvironmentState } from "../../server/lab-api-protocol.ts";
import { sessionKey } from "./storage.ts";

export type ConnectionStatus = "connecting" | "connected" | "reconnecting" | "closed";

export interface WelcomeInfo {
  session: string;
  environment: string;
  replay: "new" | "exact" | "repaint";
  /** Stream offset the next output frame starts at. */
  offset: number;
}

/**
 * What this client needs of a WebSocket: the browser's has it, and so does
 * NodeWebSocket (src/client/node-socket.ts) over the `ws` package.
 */
export interface WebSocketLike {
  binaryType: BinaryType;
  readonly readyState: number;
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
  send(data: string | Uint8Array<ArrayBuffer>): void;
  close(code?: number, reason?: string): void;
}

export interface TerminalConnectionOptions {
  /** http(s) base URL of the lab server; the WebSocket is at /ws below it. */
  serverUrl: string;
  lab: string;
  /** Terminal name on the page: session ids are kept per lab and name. */
  name: string;
  environment?: string;
  cols: number;
  rows: number;
  /** The access token the hello carries; read at every connection, so a token saved meanwhile is used. */
  token?: string | (() => string | undefined);
  /** Write to xterm and call processed() from term.write's callback. */
  onOutput(data: Uint8Array, processed: () => void): void;
  /**
   * Screen state after a gap too large to replay, or skipped ahead to
   * (skipAhead): reset the terminal, write it, and call processed() from
   * term.write's callback (the server sends the next repaint only then).
   */
  onRepaint(data: Uint8Array, processed: () => void, reason: "resume" | "skip"): void;
  /** `closeCode` comes with "closed": why the connection stopped for good (e.g. 4401, 4404). */
  onStatus(status: ConnectionStatus, detail?: string, closeCode?: number): void;
  onWelcome(info: WelcomeInfo): void;
  onExit(code: number): void;
  onError(code: string, message: string): void;
  /** Something the reader should know that is not an error (e.g. the lab's containerd restarted). */
  onNotice?(level: "info" | "warning", message: string): void;
  /** The environment's state changed (a check in another tab, a reset): the page store listens. */
  onEnvironment?(state: EnvironmentState): void;
  /** The lab ran a step in the environment (Solve, Catch me up): shown in the terminal. */
  onActivity?(activity: Activity): void;
  /** The environment was reset under this terminal: a new shell in the new environment follows at once. */
  onEnvironmentReset?(message: string): void;
  /** Where session ids persist across reloads; sessionStorage by default. */
  storage?: Pick<Storage, "getItem" | "setItem" | "removeItem">;
  /** Opens the socket; the browser's WebSocket by default (Node: NodeWebSocket). */
  createSocket?: (url: string, protocol: string) => WebSocketLike;
  /** Calls `leave` when the page goes away; the window's `pagehide` by default. May return an unsubscribe, called on close(). */
  onPageHide?: (leave: () => void) => (() => void) | void;
  /**
   * false: the first close is final, and a refusal shows instead of being retried
   * (a test's or a CLI's one connection). The page reconnects (the default).
   */
  reconnect?: boolean;
  /** A session to resume from the start, and the stream offset already had of it (a client that keeps no storage). */
  resume?: { session: string; offset: number };
  /** Input goes in frames of at most this many bytes (64 KiB); the server's tests send frames whole. */
  inputFrameBytes?: number;
  /**
   * A terminal on screen: when it falls behind a flood, the server may skip
   * it ahead with a repaint (onRepaint) instead of every byte. Off for
   * clients that need every byte (tests, the bench's transport figures).
   */
  skipAhead?: boolean;
}

/** Input is sent in frames of at most this size, well under the server's maxPayload. */
const INPUT_CHUNK_BYTES = 64 * 1024;
/** Input typed while disconnected is kept up to this size, then the oldest goes. */
const MAX_QUEUED_INPUT_BYTES = 1024 * 1024;
const BACKOFF_MS = [200, 500, 1000, 2000, 4000, 8000];
const FINAL_CLOSE_CODES = new Set<number>([
  CloseCode.replaced,
  CloseCode.policy,
  CloseCode.unauthorized,
  CloseCode.versionMismatch,
  CloseCode.sessionEnded,
]);

export function webSocketUrl(serverUrl: string): string {
  const url = new URL(serverUrl);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.pathname = url.pathname.replace(/\/?$/, "/ws");
  url.hash = "";
  return url.toString();
}

export class TerminalConnection {
  private readonly options: TerminalConnectionOptions;
  private readonly storageKey: string;
  private readonly encoder = new TextEncoder();
  private socket: WebSocketLike | undefined;
  private session: string | undefined;
  private environment: string | undefined;
  /** Stream offset of the next byte we expect: everything before it went to xterm. */
  private received = 0;
  private processed = 0;
  private acked = 0;
  private cols: number;
  private rows: number;
  /** The size the server was last told, in the hello or a resize. */
  private serverCols = 0;
  private serverRows = 0;
  private queuedInput: Uint8Array<ArrayBuffer>[] = [];
  private queuedInputBytes = 0;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private finished = false;
  private welcomed = false;
  /** The error the server sent on the current socket, if any (it explains the close that follows). */
  private lastError: string | undefined;
  /** Stops listening for the page going away (set by the constructor). */
  private stopPageHide: (() => void) | undefined;

  constructor(options: TerminalConnectionOptions) {
    this.options = options;
    this.cols = options.cols;
    this.rows = options.rows;
    this.environment = options.environment;
    this.storageKey = sessionKey(options.lab, options.name);
    this.session = this.storage()?.getItem(this.storageKey) ?? undefined;
    if (options.resume) {
      this.session = options.resume.session;
      this.received = this.processed = this.acked = options.resume.offset;
    }
    // A page that is closed or reloaded says so, and the server keeps its shell
    // only briefly (a reload comes back within it); a dropped network says
    // nothing, and the shell waits the full grace period.
    const onPageHide =
      options.onPageHide ??
      ((leave: () => void) => {
        globalThis.addEventListener?.("pagehide", leave);
        return () => globalThis.removeEventListener?.("pagehide", leave);
      });
    // Removed on close(): a listener left on the window would keep this connection (and its view) in memory.
    this.stopPageHide = onPageHide(() => this.leave()) ?? undefined;
  }

  /** Stream offset just past the last output byte received. */
  get streamOffset(): number {
    return this.received;
  }

  /** Tells the server this page is going away: keep the shell only long enough for a reload. */
  leave(): void {
    if (this.welcomed) this.send({ type: "leave" });
  }

  connect(): void {
    this.finished = false;
    this.open(this.attempt === 0 ? "connecting" : "reconnecting");
  }

  /** A reader's explicit reconnect: skip the backoff wait. The server keeps the shell for the new socket. */
  reconnect(): void {
    clearTimeout(this.retryTimer);
    // Not 1000: that tells the server to end the shell this reconnect is about to resume.
    this.socket?.close(CloseCode.reconnecting, "reconnecting");
    this.detachSocket();
    this.attempt = 0;
    this.connect();
  }

  sendInput(data: string | Uint8Array): void {
    // A copy on an ArrayBuffer of its own: WebSocket.send takes no shared memory.
    const bytes = typeof data === "string" ? this.encoder.encode(data) : new Uint8Array(data);
    const frameBytes = this.options.inputFrameBytes ?? INPUT_CHUNK_BYTES;
    for (let start = 0; start < bytes.byteLength; start += frameBytes) {
      const chunk = bytes.subarray(start, start + frameBytes);
      if (this.welcomed && this.socket?.readyState === WebSocket.OPEN) this.socket.send(chunk);
      else this.queueInput(chunk);
    }
  }

  resize(cols: number, rows: number): void {
    this.cols = cols;
    this.rows = rows;
    if (this.welcomed) this.sendSize();
  }

  private sendSize(): void {
    if (this.cols === this.serverCols && this.rows === this.serverRows) return;
    this.serverCols = this.cols;
    this.serverRows = this.rows;
    this.send({ type: "resize", cols: this.cols, rows: this.rows });
  }

  /** Ends the session for good: the server kills the shell. */
  close(): void {
    this.finished = true;
    this.stopPageHide?.();
    this.stopPageHide = undefined;
    clearTimeout(this.retryTimer);
    this.storage()?.removeItem(this.storageKey);
    this.socket?.close(CloseCode.normal, "closed by reader");
    this.detachSocket();
    this.options.onStatus("closed", "closed");
  }

  private open(status: ConnectionStatus): void {
    this.options.onStatus(status);
    this.welcomed = false;
    this.lastError = undefined;
    let socket: WebSocketLike;
    try {
      const url = webSocketUrl(this.options.serverUrl);
      socket = this.options.createSocket ? this.options.createSocket(url, SUBPROTOCOL) : new WebSocket(url, SUBPROTOCOL);
    } catch (error) {
      // As a close that never opened: retried, unless this connection does not reconnect.
      this.closed(1006, String(error));
      return;
    }
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    socket.onopen = () => {
      this.serverCols = this.cols;
      this.serverRows = this.rows;
      this.send({
        type: "hello",
        version: PROTOCOL_VERSION,
        lab: this.options.lab,
        environment: this.environment,
        session: this.session,
        offset: this.session ? this.received : undefined,
        cols: this.cols,
        rows: this.rows,
        token: this.token(),
        ...(this.options.skipAhead ? { skipAhead: true } : {}),
      });
    };
    socket.onmessage = (event) => this.receive(event.data);
    socket.onclose = (event) => {
      if (socket !== this.socket) return;
      this.detachSocket();
      this.closed(event.code, event.reason);
    };
  }

  private receive(data: unknown): void {
    if (typeof data === "string") {
      const parsed = parseServerMessage(data);
      if (!parsed.ok) {
        this.options.onError("bad-frame", parsed.error);
        return;
      }
      const message = parsed.message;
      if (message.type === "welcome") this.welcome(message.session, message.environment, message.offset, message.replay);
      else if (message.type === "exit") {
        this.finished = true;
        this.storage()?.removeItem(this.storageKey);
        this.options.onExit(message.code);
      } else if (message.type === "notice") this.options.onNotice?.(message.level, message.message);
      else if (message.type === "environment") this.options.onEnvironment?.(message.state);
      else if (message.type === "activity") this.options.onActivity?.(message);
      else {
        this.lastError = message.code;
        this.options.onError(message.code, message.message);
      }
      return;
    }
    if (!(data instanceof ArrayBuffer)) return;
    const frame = decodeFrame(new Uint8Array(data));
    if (!frame) {
      this.options.onError("bad-frame", "unknown binary frame from server");
      return;
    }
    if (frame.kind === FrameKind.repaint || frame.kind === FrameKind.skipAhead) {
      this.received = this.processed = this.acked = frame.offset;
      const socket = this.socket;
      this.options.onRepaint(frame.payload, () => {
        if (this.socket === socket && this.welcomed) this.send({ type: "ack", offset: frame.offset });
      }, frame.kind === FrameKind.skipAhead ? "skip" : "resume");
      return;
    }
    // Replay may overlap what we already have: keep only the new bytes.
    const skip = this.received - frame.offset;
    if (skip >= frame.payload.byteLength) return;
    const payload = skip > 0 ? frame.payload.subarray(skip) : frame.payload;
    const end = frame.offset + frame.payload.byteLength;
    this.received = end;
    this.options.onOutput(payload, () => this.markProcessed(end));
  }

  private welcome(session: string, environment: string, offset: number, replay: WelcomeInfo["replay"]): void {
    if (replay === "new") this.received = this.processed = this.acked = offset;
    this.session = session;
    this.environment = environment;
    this.storage()?.setItem(this.storageKey, session);
    this.welcomed = true;
    this.attempt = 0;
    this.options.onStatus("connected");
    this.options.onWelcome({ session, environment, replay, offset });
    // The terminal may have been fitted while the hello was under way.
    this.sendSize();
    this.flushQueuedInput();
  }

  private markProcessed(end: number): void {
    this.processed = Math.max(this.processed, end);
    if (this.processed - this.acked >= FlowDefaults.ackIntervalBytes && this.welcomed) {
      this.acked = this.processed;
      this.send({ type: "ack", offset: this.acked });
    }
  }

  /** The reader's Stop, after Ctrl+C did not help: the server kills the terminal's foreground job. */
  interrupt(): void {
    this.send({ type: "interrupt" });
  }

  private closed(code: number, reason: string): void {
    if (this.options.reconnect === false && !this.finished) {
      this.finished = true;
      this.options.onStatus("closed", reason || `closed (${code})`, code);
      return;
    }
    if (code === CloseCode.environmentReset && !this.finished) {
      // The shell went with its environment: a new one, in the reader's new environment for the lab.
      this.session = this.environment = undefined;
      this.storage()?.removeItem(this.storageKey);
      this.options.onEnvironmentReset?.(reason);
      this.attempt = 0;
      this.open("connecting");
      return;
    }
    if (this.finished) {
      this.options.onStatus("closed", reason || "session ended", code);
      return;
    }
    const unknownLab = this.lastError === "unknown-lab";
    if (code === CloseCode.notFound && this.session && !unknownLab) {
      // The server no longer has our shell (it restarted, or the grace period ran out).
      this.session = undefined;
      this.storage()?.removeItem(this.storageKey);
      this.options.onError("unknown-session", reason || "the previous shell has ended; starting a new one");
      this.attempt = 0;
      this.open("connecting");
      return;
    }
    // 4404 without a session to resume: the server does not have this lab. Retrying changes nothing.
    if (FINAL_CLOSE_CODES.has(code) || code === CloseCode.notFound) {
      this.finished = true;
      clearTimeout(this.retryTimer);
      this.options.onStatus("closed", reason || `closed (${code})`, code);
      return;
    }
    this.scheduleRetry(reason || (code === 1006 ? "connection lost" : `closed (${code})`));
  }

  private scheduleRetry(detail: string): void {
    const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)] ?? 8000;
    this.attempt += 1;
    this.options.onStatus("reconnecting", detail);
    const delay = base / 2 + Math.random() * base / 2;
    this.retryTimer = setTimeout(() => this.open("reconnecting"), delay);
  }

  private queueInput(chunk: Uint8Array<ArrayBuffer>): void {
    this.queuedInput.push(chunk.slice());
    this.queuedInputBytes += chunk.byteLength;
    while (this.queuedInputBytes > MAX_QUEUED_INPUT_BYTES && this.queuedInput.length > 1) {
      this.queuedInputBytes -= this.queuedInput.shift()!.byteLength;
    }
  }

  private flushQueuedInput(): void {
    const queued = this.queuedInput;
    this.queuedInput = [];
    this.queuedInputBytes = 0;
    for (const chunk of queued) this.socket?.send(chunk);
  }

  private send(message: ClientMessage): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(encodeMessage(message));
  }

  private detachSocket(): void {
    if (!this.socket) return;
    this.socket.onopen = this.socket.onmessage = this.socket.onclose = null;
    this.socket = undefined;
    this.welcomed = false;
  }

  private token(): string | undefined {
    const token = this.options.token;
    return typeof token === "function" ? token() : token;
  }

  private storage() {
    if (this.options.storage) return this.options.storage;
    try {
      return globalThis.sessionStorage;
    } catch {
      return undefined;
    }
  }
}
