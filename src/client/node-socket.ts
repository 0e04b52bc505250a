/**
 * The browser's WebSocket interface over the `ws` package, so that
 * TerminalConnection (terminal-connection.ts) runs in Node as it runs in the
 * page: for the server's tests, the bench and scripts/walk-lab.ts.
 *
 * It lives beside the client it serves, not under server/testing/: the
 * walker is an operator's tool as much as a test's. The page never imports
 * it (`ws` is Node's).
 *
 * Unlike a browser it can send the Origin and Host a page would (the access
 * tests play other sites with them), and it says why an upgrade was refused
 * (a browser only reports 1006): the close reason names the HTTP status.
 */
import WebSocket from "ws";
import type { WebSocketLike } from "./terminal-connection.ts";

export interface NodeWebSocketOptions {
  /** Origin header of the upgrade, as a page on that origin sends it. */
  origin?: string;
  /** Host header of the upgrade (a DNS-rebinding page sends its own name). */
  host?: string;
}

/** Why an upgrade did not become a WebSocket: the server's HTTP answer. */
export interface UpgradeRefusal {
  status: number;
  statusText: string;
  /** The server's words, from its JSON answer `{error, message}` (server/app.ts refuseUpgrade), when it gave some. */
  message?: string;
}

/** A refusal's body is a sentence: more is not read. */
const REFUSAL_BODY_BYTES = 4096;

/** 1006: the connection ended without a close frame (a browser's code for a refused upgrade too). */
const ABNORMAL_CLOSURE = 1006;

export class NodeWebSocket implements WebSocketLike {
  /** The `ws` socket underneath: for tests that play a client the page never is (raw frames, no close frame). */
  readonly raw: WebSocket;
  /** Set when the server answered the upgrade with an HTTP status instead of switching protocols. */
  refusal: UpgradeRefusal | undefined;
  /** The network error that ended the connection, if one did (e.g. ECONNREFUSED). */
  error: Error | undefined;
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;

  constructor(url: string, protocol: string, options: NodeWebSocketOptions = {}) {
    this.raw = new WebSocket(url, protocol, {
      // Browsers offer permessage-deflate; the lab server does not take it, so this is the same wire.
      perMessageDeflate: false,
      ...(options.origin ? { origin: options.origin } : {}),
      ...(options.host ? { headers: { host: options.host } } : {}),
    });
    this.raw.on("open", () => this.onopen?.(new Event("open")));
    this.raw.on("message", (data: Buffer, isBinary) => {
      // A browser hands text frames over as strings and binary ones as ArrayBuffers (binaryType "arraybuffer").
      const payload = isBinary ? arrayBufferOf(data) : data.toString("utf8");
      this.onmessage?.(new MessageEvent("message", { data: payload }));
    });
    this.raw.on("unexpected-response", (_request, response) => {
      const refusal: UpgradeRefusal = { status: response.statusCode ?? 0, statusText: response.statusMessage ?? "" };
      this.refusal = refusal;
      let body = "";
      let read = false;
      const done = () => {
        if (read) return;
        read = true;
        clearTimeout(timer);
        try {
          const message = (JSON.parse(body) as { message?: unknown }).message;
          if (typeof message === "string") refusal.message = message;
        } catch {
          // not the server's JSON: the status says enough
        }
        this.raw.terminate();
      };
      const timer = setTimeout(done, 1000);
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        body += chunk;
        if (body.length > REFUSAL_BODY_BYTES) response.destroy();
      });
      response.on("end", done);
      response.on("close", done);
      response.on("error", () => {});
    });
    // Without a listener, `ws` throws its errors; a browser reports them as the close that follows.
    this.raw.on("error", (error) => (this.error ??= error));
    this.raw.on("close", (code, reason) => {
      this.onclose?.(new CloseEvent("close", { code, reason: reason.toString("utf8") || this.why(code), wasClean: code !== ABNORMAL_CLOSURE }));
    });
  }

  get binaryType(): BinaryType {
    return "arraybuffer";
  }

  set binaryType(type: BinaryType) {
    if (type !== "arraybuffer") throw new Error(`NodeWebSocket delivers binary frames as ArrayBuffers only, not as ${type}`);
  }

  get readyState(): number {
    return this.raw.readyState;
  }

  send(data: string | Uint8Array<ArrayBuffer>): void {
    this.raw.send(data);
  }

  close(code?: number, reason?: string): void {
    this.raw.close(code, reason);
  }

  /** The words a close without a reason of its own gets: a refused upgrade, a network error. */
  private why(code: number): string {
    if (code !== ABNORMAL_CLOSURE) return "";
    if (this.refusal) {
      const { status, statusText, message } = this.refusal;
      return `the server refused the connection (HTTP ${status}${statusText ? ` ${statusText}` : ""})${message ? `: ${message}` : ""}`;
    }
    return this.error ? `connection failed: ${this.error.message}` : "connection lost";
  }
}

/** The bytes of a Buffer as an ArrayBuffer of their own: no copy when the Buffer is all of its memory. */
function arrayBufferOf(data: Buffer): ArrayBuffer {
  const buffer = data.buffer as ArrayBuffer;
  if (data.byteOffset === 0 && data.byteLength === buffer.byteLength) return buffer;
  return buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
}
