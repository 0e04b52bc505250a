/**
 * The lab server: the built site, the terminal WebSocket and the lab API on
 * one origin. createLabServer is what main.ts and the tests start.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import path from "node:path";
import sirv from "sirv";
import { WebSocketServer } from "ws";
import { Access, isLoopbackHostname, newToken, readTokenFile, validateReadersFile, type Reader } from "./access.ts";
import type { ServerConfig } from "./config.ts";
import type { DriverHealth, SessionDriver } from "./drivers/driver.ts";
import { HostDriver } from "./drivers/host.ts";
import { filesApiRoutes } from "./files-api.ts";
import { labApiRoutes } from "./lab-api.ts";
import { LabRuntime } from "./lab-runtime.ts";
import type { LabCatalog } from "./labs.ts";
import { LabSessions } from "./lab-sessions.ts";
import { log } from "./log.ts";
import { createMetrics } from "./metrics.ts";
import { SUBPROTOCOL, type Notice } from "./protocol.ts";
import { BASE_HEADERS, NON_PAGE_CSP, cspForPage, htmlFileFor } from "./security-headers.ts";
import { handleTerminalSocket } from "./terminal-socket.ts";

export interface LabServer {
  /** Base URL of the server, e.g. http://127.0.0.1:4321/ */
  readonly url: string;
  /** The link to hand the operator (or a single reader): the URL with the token in its fragment. */
  readonly link: string;
  /** The operator's token. */
  readonly token: string;
  readonly sessions: LabSessions;
  /** Things the operator must hear at start (e.g. listening beyond loopback needs TLS in front). */
  readonly warnings: readonly string[];
  close(): Promise<void>;
}

export interface LabServerParts {
  /** Lab definitions: their requirements, setup and checks run through the lab runtime (the check API comes with them). */
  catalog?: LabCatalog;
  /** Further lab ids offered as bare shells, without a definition (terminal tests); any lab is accepted when neither is given. */
  labs?: readonly string[];
  /** How environments are made; the host driver when omitted. */
  driver?: SessionDriver;
}

export const SERVER_VERSION = "0.1.0";

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  response.end(JSON.stringify(body));
}

/** A refusal before the upgrade: a plain HTTP answer on the raw socket, and nothing else happens. */
function refuseUpgrade(socket: Duplex, status: number, reason: string, message: string): void {
  const body = JSON.stringify({ error: reason, message });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** Upgrades per client address in the current minute (before any token is read). */
class UpgradeRate {
  private window = 0;
  private counts = new Map<string, number>();
  private readonly perMinute: number;
  constructor(perMinute: number) {
    this.perMinute = perMinute;
  }
  allow(address: string): boolean {
    const minute = Math.floor(Date.now() / 60_000);
    if (minute !== this.window) {
      this.window = minute;
      this.counts.clear();
    }
    const count = (this.counts.get(address) ?? 0) + 1;
    this.counts.set(address, count);
    return count <= this.perMinute;
  }
}

/** The operator's token, and the checks that keep a server beyond loopback from opening without one. */
function resolveAccess(config: ServerConfig): { access: Access; token: string; warnings: string[] } {
  const token = config.token ?? (config.tokenFile ? readTokenFile(config.tokenFile) : newToken());
  const readersFile = config.readersFile ?? path.join(config.dataDir, "readers");
  const problems = validateReadersFile(readersFile);
  if (problems.length) throw new Error(`the readers file has problems:\n  ${problems.join("\n  ")}`);
  const publicHost = config.publicUrl ? new URL(config.publicUrl).hostname : undefined;
  const access = new Access({
    token,
    readersFile,
    allowOrigins: config.allowOrigins,
    allowHosts: [...config.allowHosts, ...(publicHost ? [publicHost] : [])],
  });
  const warnings: string[] = [];
  if (!isLoopbackHostname(config.host)) {
    if (!config.tokenFile && !config.token && access.readerNames.length === 0) {
      throw new Error(
        `listening on ${config.host} (beyond this machine) needs a stable token file (--token-file) or invited readers (node server/main.ts invite NAME): a token made at start and lost at the next one is no way to run a shared server`,
      );
    }
    warnings.push(
      `listening on ${config.host}: the link carries a root shell's key, so it must only travel over TLS. Put a reverse proxy with TLS in front (see the self-hosting page) and give its address with --public-url.`,
    );
  }
  return { access, token, warnings };
}

function bearerReader(access: Access, request: IncomingMessage): Reader | undefined {
  return access.authenticateRequest(request);
}

export async function createLabServer(config: ServerConfig, parts: LabServerParts = {}): Promise<LabServer> {
  const driver =
    parts.driver ?? new HostDriver({ dataDir: config.dataDir, shell: config.shell, maxScriptOutputBytes: config.limits.maxCheckOutputBytes });
  const runtime = parts.catalog ? new LabRuntime(driver, parts.catalog) : undefined;
  const bareLabs = parts.labs ? new Set(parts.labs) : undefined;
  const { access, token, warnings } = resolveAccess(config);
  if (runtime) await runtime.prepare();
  else await driver.prepare(parts.labs ?? []);
  const labIds = [...(runtime ? runtime.labs.keys() : []), ...(parts.labs ?? [])];
  const sessions = new LabSessions({
    limits: config.limits,
    hasLab: (lab) => (!runtime && !bareLabs) || runtime?.hasLab(lab) === true || bareLabs?.has(lab) === true,
    // A defined lab's environment gets its setup; a bare one is the driver's as it is.
    createEnvironment: (lab, announce) => (runtime?.hasLab(lab) ? runtime.createEnvironment(lab, announce) : driver.createEnvironment(lab)),
  });
  const routes = runtime ? labApiRoutes(runtime) : undefined;
  const fileRoutes = filesApiRoutes();
  const health = (): DriverHealth => driver.health();
  const metrics = createMetrics({
    sessions: () => sessions.sessionCount,
    environments: () => sessions.environmentCount,
    containerdRestarts: () => (driver as { containerdRestarts?: number }).containerdRestarts ?? 0,
    degraded: () => health().status !== "ok",
  });
  const noticeListeners = new Set<(notice: Notice) => void>();
  let lastHealth = health().status;
  const stopHealthWatch = driver.onHealthChange((now) => {
    if (now.status === lastHealth) return;
    lastHealth = now.status;
    const notice: Notice =
      now.status === "ok"
        ? { type: "notice", level: "info", message: "The lab's services are back: carry on." }
        : { type: "notice", level: "warning", message: `The lab is degraded: ${now.reasons.join("; ")}. Commands that need it will fail until it is back.` };
    log.warn({ health: now }, "lab services changed state");
    for (const listener of noticeListeners) listener(notice);
  });
  const site = config.siteDir
    ? sirv(config.siteDir, { etag: true, dev: false })
    : undefined;

  const server = createServer(async (request, response) => {
    for (const [name, value] of Object.entries(BASE_HEADERS)) response.setHeader(name, value);
    response.setHeader("content-security-policy", NON_PAGE_CSP);
    const admission = access.admitRequest(request);
    if (!admission.ok) {
      metrics.refused.inc({ reason: admission.code });
      sendJson(response, admission.status, { error: admission.code, message: admission.message });
      return;
    }
    const cors = access.corsHeaders(request);
    for (const [name, value] of Object.entries(cors)) response.setHeader(name, value);
    if (request.method === "OPTIONS") {
      response.writeHead(Object.keys(cors).length ? 204 : 403).end();
      return;
    }
    const url = new URL(request.url ?? "/", "http://localhost");
    try {
      if (url.pathname === "/healthz") {
        const now = health();
        const reader = bearerReader(access, request);
        sendJson(response, 200, {
          status: now.status,
          reasons: now.reasons,
          version: SERVER_VERSION,
          driver: driver.kind,
          // Counts are the operator's business; the reader's page only needs to know the server is there.
          ...(reader?.operator ? { sessions: sessions.sessionCount, environments: sessions.environmentCount, labs: labIds.length ? labIds : null } : {}),
        });
        return;
      }
      if (url.pathname === "/metrics" || url.pathname.startsWith("/api/")) {
        const reader = bearerReader(access, request);
        if (!reader) {
          metrics.refused.inc({ reason: "unauthorized" });
          sendJson(response, 401, { error: "unauthorized", message: "this lab server needs your access link: open the link it printed when it started (it ends in #token=…)" });
          return;
        }
        if (url.pathname === "/metrics") {
          if (!reader.operator) {
            sendJson(response, 403, { error: "forbidden", message: "metrics are for the operator's token" });
            return;
          }
          response.writeHead(200, { "content-type": metrics.registry.contentType, "cache-control": "no-store" });
          response.end(await metrics.registry.metrics());
          return;
        }
        const type = (request.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
        if (request.method !== "GET" && request.method !== "HEAD" && type !== "application/json") {
          metrics.refused.inc({ reason: "unsupported-media-type" });
          sendJson(response, 415, { error: "unsupported-media-type", message: "the lab API takes application/json bodies only" });
          return;
        }
        if (routes && (await routes(request, response, { sessions, reader, health, metrics }))) return;
        if (await fileRoutes(request, response, { sessions, reader })) return;
        sendJson(response, 404, { error: "not-found", message: `no API route ${request.method} ${url.pathname}` });
        return;
      }
      if (site) {
        // Before sirv answers, so its 304 (a reload) carries the page's policy too, not the non-page one.
        const page = htmlFileFor(config.siteDir!, url.pathname);
        if (page) response.setHeader("content-security-policy", cspForPage(page));
        site(request, response, () => {
          response.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
          response.end(`not found: ${url.pathname}\n`);
        });
        return;
      }
      sendJson(response, 404, { error: "not-found", message: "this lab server serves no site (start it with --site dist)" });
    } catch (error) {
      log.error({ err: error, path: url.pathname }, "request failed");
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
  const upgrades = new UpgradeRate(config.limits.upgradesPerMinutePerAddress);
  server.on("upgrade", (request, socket, head) => {
    socket.on("error", () => socket.destroy());
    const url = new URL(request.url ?? "/", "http://localhost");
    if (url.pathname !== "/ws") {
      refuseUpgrade(socket, 404, "not-found", "the terminal WebSocket is at /ws");
      return;
    }
    // Admission before the upgrade (ws' verifyClient): a refused page never gets a WebSocket.
    const admission = access.admitRequest(request);
    if (!admission.ok) {
      metrics.refused.inc({ reason: admission.code });
      log.warn({ origin: request.headers.origin, host: request.headers.host }, `upgrade refused: ${admission.code}`);
      refuseUpgrade(socket, admission.status, admission.code, admission.message);
      return;
    }
    if (!upgrades.allow(request.socket.remoteAddress ?? "")) {
      metrics.refused.inc({ reason: "rate" });
      refuseUpgrade(socket, 429, "too-many-connections", `more than ${config.limits.upgradesPerMinutePerAddress} terminal connections a minute from one address`);
      return;
    }
    webSockets.handleUpgrade(request, socket, head, (webSocket) => {
      if (webSocket.protocol !== SUBPROTOCOL) {
        webSocket.close(4409, `this server speaks ${SUBPROTOCOL}`);
        return;
      }
      handleTerminalSocket(webSocket, {
        sessions,
        limits: config.limits,
        access,
        metrics,
        onNotice: (listener) => {
          noticeListeners.add(listener);
          return () => noticeListeners.delete(listener);
        },
      });
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}/`;
  const link = `${config.publicUrl ?? url}#token=${token}`;

  return {
    url,
    link,
    token,
    sessions,
    warnings,
    async close() {
      stopHealthWatch();
      for (const client of webSockets.clients) client.close(1001, "server shutting down");
      await sessions.close();
      await driver.close();
      webSockets.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
