/**
 * The lab server: the built site, the terminal WebSocket and the lab API on
 * one origin. createLabServer is what main.ts and the tests start.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import sirv from "sirv";
import { WebSocketServer } from "ws";
import type { ServerConfig } from "./config.ts";
import type { SessionDriver } from "./drivers/driver.ts";
import { HostDriver } from "./drivers/host.ts";
import { LabSessions } from "./lab-sessions.ts";
import { SUBPROTOCOL } from "./protocol.ts";
import { handleTerminalSocket } from "./terminal-socket.ts";

export interface LabServer {
  /** Base URL a reader opens, e.g. http://127.0.0.1:4321/ */
  readonly url: string;
  readonly sessions: LabSessions;
  close(): Promise<void>;
}

export interface LabServerParts {
  /** Lab ids this server offers; any lab is accepted when omitted. */
  labs?: readonly string[];
  driver?: SessionDriver;
  /** Extra API routes (the checkpoint runner): return true when handled. */
  routes?: (request: IncomingMessage, response: ServerResponse, sessions: LabSessions) => Promise<boolean>;
}

export const SERVER_VERSION = "0.1.0";

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  response.end(JSON.stringify(body));
}

/** Static pages may live on another host than the lab server: allow them to call the API. */
function allowCrossOrigin(request: IncomingMessage, response: ServerResponse): void {
  const origin = request.headers.origin;
  if (!origin) return;
  response.setHeader("access-control-allow-origin", origin);
  response.setHeader("vary", "origin");
  response.setHeader("access-control-allow-methods", "GET, POST, OPTIONS");
  response.setHeader("access-control-allow-headers", "content-type");
}

export async function createLabServer(config: ServerConfig, parts: LabServerParts = {}): Promise<LabServer> {
  const driver =
    parts.driver ?? new HostDriver({ dataDir: config.dataDir, shell: config.shell, maxScriptOutputBytes: config.limits.maxCheckOutputBytes });
  const labs = parts.labs ? new Set(parts.labs) : undefined;
  await driver.prepare(parts.labs ?? []);
  const sessions = new LabSessions({ driver, limits: config.limits, hasLab: (lab) => !labs || labs.has(lab) });
  const site = config.siteDir ? sirv(config.siteDir, { etag: true, dev: false }) : undefined;

  const server = createServer(async (request, response) => {
    allowCrossOrigin(request, response);
    if (request.method === "OPTIONS") {
      response.writeHead(204).end();
      return;
    }
    const url = new URL(request.url ?? "/", "http://localhost");
    try {
      if (url.pathname === "/healthz") {
        sendJson(response, 200, {
          status: "ok",
          version: SERVER_VERSION,
          driver: driver.kind,
          sessions: sessions.sessionCount,
          environments: sessions.environmentCount,
          labs: parts.labs ?? null,
        });
        return;
      }
      if (parts.routes && (await parts.routes(request, response, sessions))) return;
      if (url.pathname.startsWith("/api/")) {
        sendJson(response, 404, { error: "not-found", message: `no API route ${request.method} ${url.pathname}` });
        return;
      }
      if (site) {
        site(request, response, () => {
          response.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
          response.end(`not found: ${url.pathname}\n`);
        });
        return;
      }
      sendJson(response, 404, { error: "not-found", message: "this lab server serves no site (start it with --site dist)" });
    } catch (error) {
      if (!response.headersSent) sendJson(response, 500, { error: "server-error", message: (error as Error).message });
      else response.destroy();
    }
  });

  const webSockets = new WebSocketServer({
    noServer: true,
    maxPayload: config.limits.maxPayloadBytes,
    // Frames are mostly incompressible or tiny keystrokes: compression costs latency.
    perMessageDeflate: false,
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });
  server.on("upgrade", (request, socket, head) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    if (url.pathname !== "/ws") {
      socket.end("HTTP/1.1 404 Not Found\r\n\r\n");
      return;
    }
    webSockets.handleUpgrade(request, socket, head, (webSocket) => {
      if (webSocket.protocol !== SUBPROTOCOL) {
        webSocket.close(4409, `this server speaks ${SUBPROTOCOL}`);
        return;
      }
      handleTerminalSocket(webSocket, sessions, config.limits);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}/`;

  return {
    url,
    sessions,
    async close() {
      for (const client of webSockets.clients) client.close(1001, "server shutting down");
      await sessions.close();
      await driver.close();
      webSockets.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
