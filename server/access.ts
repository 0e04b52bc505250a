/**
 * The one door of the lab server. Every HTTP request and every WebSocket
 * upgrade passes `admitRequest` (Host and Origin) before anything else runs,
 * the way ws' verifyClient runs before the upgrade; every API call and every
 * terminal hello then passes `authenticate` (the token) before anything is
 * spawned, as ttyd checks its credential before forking a shell.
 *
 *   Host     must name this server: a loopback name or address, the listen
 *            address, the public URL's host, or an allowed host. A page on
 *            evil.example whose DNS rebinds to 127.0.0.1 sends Host: evil.example.
 *   Origin   when present (browsers always send it on upgrades and cross-site
 *            requests) it must be this same host, or one of the allowed
 *            origins (a static deploy of the site elsewhere).
 *   Token    the operator's (printed at start, or from --token-file) or one
 *            reader's (a line of the readers file, `invite NAME`). Compared in
 *            constant time; never logged.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync, appendFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";

/** Who a request or a terminal belongs to. */
export interface Reader {
  /** "operator", or the name given to `invite`. */
  readonly id: string;
  /** The operator's token sees every reader's sessions and environments, and /metrics. */
  readonly operator: boolean;
}

export const OPERATOR: Reader = Object.freeze({ id: "operator", operator: true });

export type Admission = { ok: true } | { ok: false; status: 403; code: "forbidden-host" | "forbidden-origin"; message: string };

export interface AccessOptions {
  /** The operator's token. */
  token: string;
  /** Reader tokens, one `NAME TOKEN` per line; read again whenever it changes. */
  readersFile?: string;
  /** Origins (scheme://host[:port]) whose pages may use this server besides its own. */
  allowOrigins?: readonly string[];
  /** Host names (without port) requests may name besides loopback ones and the listen address. */
  allowHosts?: readonly string[];
}

/** Tokens shorter than this are refused when read from a file: a guessable link is no door. */
export const MIN_TOKEN_LENGTH = 16;

export function newToken(): string {
  return randomBytes(24).toString("base64url");
}

const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();

/** Constant time whatever the lengths: both sides are hashed to 32 bytes first. */
function sameToken(given: Buffer, expected: Buffer): boolean {
  return timingSafeEqual(given, expected);
}

const READER_NAME = /^[A-Za-z0-9_.@-]{1,64}$/;

interface ReaderEntry {
  reader: Reader;
  hash: Buffer;
}

/** Parses a readers file: `NAME TOKEN` a line, `#` comments; problems name the line. */
export function parseReadersFile(text: string, file = "readers file"): { readers: { name: string; token: string }[]; problems: string[] } {
  const readers: { name: string; token: string }[] = [];
  const problems: string[] = [];
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const [name, token, ...rest] = line.split(/\s+/);
    const where = `${file}:${index + 1}`;
    if (!name || !token || rest.length) problems.push(`${where}: expected "NAME TOKEN"`);
    else if (!READER_NAME.test(name) || name === OPERATOR.id) problems.push(`${where}: "${name}" is not a usable reader name`);
    else if (token.length < MIN_TOKEN_LENGTH) problems.push(`${where}: the token of "${name}" is shorter than ${MIN_TOKEN_LENGTH} characters`);
    else if (readers.some((reader) => reader.name === name)) problems.push(`${where}: "${name}" is listed twice`);
    else readers.push({ name, token });
  });
  return { readers, problems };
}

/** Reads a token file (`--token-file`), making one with a new token when it does not exist yet. */
export function readTokenFile(file: string): string {
  if (!existsSync(file)) {
    writeFileSync(file, `${newToken()}\n`, { mode: 0o600 });
  }
  const token = readFileSync(file, "utf8").trim();
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    throw new Error(`token file ${file}: the token must be one word of at least ${MIN_TOKEN_LENGTH} characters`);
  }
  return token;
}

/** Adds a reader to the readers file and returns their new token. */
export function inviteReader(file: string, name: string): string {
  if (!READER_NAME.test(name) || name === OPERATOR.id) throw new Error(`"${name}" is not a usable reader name (letters, digits, _ . @ -; not "operator")`);
  const existing = existsSync(file) ? parseReadersFile(readFileSync(file, "utf8"), file).readers : [];
  if (existing.some((reader) => reader.name === name)) throw new Error(`${file}: "${name}" is invited already (remove their line to invite them anew)`);
  const token = newToken();
  if (!existsSync(file)) writeFileSync(file, "# Nix Way Labs readers: NAME TOKEN, one a line\n", { mode: 0o600 });
  appendFileSync(file, `${name} ${token}\n`);
  chmodSync(file, 0o600);
  return token;
}

export function isLoopbackHostname(hostname: string): boolean {
  const bare = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (bare === "localhost" || bare.endsWith(".localhost")) return true;
  if (isIP(bare) === 4) return bare.startsWith("127.");
  return bare === "::1";
}

export function isLoopbackAddress(address: string): boolean {
  return isIP(address.replace(/^\[|\]$/g, "")) !== 0 && isLoopbackHostname(address);
}

/** The hostname of a Host header value ("a.b:80" → "a.b", "[::1]:80" → "::1"), lower case. */
function hostnameOf(host: string): string | undefined {
  try {
    return new URL(`http://${host}`).hostname.replace(/^\[|\]$/g, "").toLowerCase();
  } catch {
    return undefined;
  }
}

export class Access {
  private readonly operatorHash: Buffer;
  private readonly readersFile: string | undefined;
  private readonly allowOrigins: Set<string>;
  private readonly allowHosts: Set<string>;
  private readers: ReaderEntry[] = [];
  private readersStamp = "";

  constructor(options: AccessOptions) {
    if (options.token.length < MIN_TOKEN_LENGTH) throw new Error(`the access token must have at least ${MIN_TOKEN_LENGTH} characters`);
    this.operatorHash = digest(options.token);
    this.readersFile = options.readersFile;
    this.allowOrigins = new Set((options.allowOrigins ?? []).map((origin) => new URL(origin).origin));
    this.allowHosts = new Set((options.allowHosts ?? []).map((host) => host.replace(/^\[|\]$/g, "").toLowerCase()));
    this.reloadReaders();
  }

  /** Readers listed in the readers file now (names only). */
  get readerNames(): string[] {
    this.reloadReaders();
    return this.readers.map((entry) => entry.reader.id);
  }

  /** The reader a token belongs to, or undefined. Every candidate is compared, in constant time. */
  authenticate(token: string | undefined): Reader | undefined {
    if (!token) return undefined;
    this.reloadReaders();
    const given = digest(token);
    let found: Reader | undefined;
    if (sameToken(given, this.operatorHash)) found = OPERATOR;
    for (const entry of this.readers) if (sameToken(given, entry.hash) && !found) found = entry.reader;
    return found;
  }

  /** `Authorization: Bearer TOKEN` of a request, authenticated. */
  authenticateRequest(request: IncomingMessage): Reader | undefined {
    const header = request.headers.authorization ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    return this.authenticate(match?.[1]);
  }

  /** Host and Origin of any request or upgrade: decided before routing, spawning or upgrading. */
  admitRequest(request: IncomingMessage): Admission {
    const host = request.headers.host ?? "";
    const hostname = hostnameOf(host);
    if (!hostname || !this.hostAllowed(hostname, request)) {
      return { ok: false, status: 403, code: "forbidden-host", message: `this lab server does not answer to the host "${host.slice(0, 100)}" (start it with --public-url for the name readers use)` };
    }
    const origin = request.headers.origin;
    if (origin !== undefined && !this.originAllowed(origin, host)) {
      return { ok: false, status: 403, code: "forbidden-origin", message: `pages from ${origin.slice(0, 100)} may not use this lab server (an operator can allow them with --allow-origin)` };
    }
    return { ok: true };
  }

  /** CORS headers for an allowed cross-origin caller (a static deploy), else none. */
  corsHeaders(request: IncomingMessage): Record<string, string> {
    const origin = request.headers.origin;
    if (!origin || !this.allowOrigins.has(origin)) return {};
    return {
      "access-control-allow-origin": origin,
      "access-control-allow-methods": "GET, POST, PUT, OPTIONS",
      "access-control-allow-headers": "authorization, content-type",
      "access-control-max-age": "600",
      vary: "origin",
    };
  }

  private hostAllowed(hostname: string, request: IncomingMessage): boolean {
    if (isLoopbackHostname(hostname) || this.allowHosts.has(hostname)) return true;
    // The address the request came in on, e.g. http://192.0.2.7:4321/ on a LAN.
    const local = request.socket.localAddress?.replace(/^::ffff:/, "");
    return local !== undefined && local === hostname;
  }

  private originAllowed(origin: string, host: string): boolean {
    if (this.allowOrigins.has(origin)) return true;
    try {
      return new URL(origin).host === host.toLowerCase();
    } catch {
      // "null" (sandboxed frames, file://) and garbage
      return false;
    }
  }

  private reloadReaders(): void {
    if (!this.readersFile) return;
    let stamp = "";
    try {
      const stats = statSync(this.readersFile);
      stamp = `${stats.mtimeMs}:${stats.size}:${stats.ino}`;
    } catch {
      stamp = "missing";
    }
    if (stamp === this.readersStamp) return;
    this.readersStamp = stamp;
    if (stamp === "missing") {
      this.readers = [];
      return;
    }
    const { readers } = parseReadersFile(readFileSync(this.readersFile, "utf8"), this.readersFile);
    // Lines with problems are left out (and reported by `validateReadersFile` at start).
    this.readers = readers.map(({ name, token }) => ({ reader: Object.freeze({ id: name, operator: false }), hash: digest(token) }));
  }
}

/** Problems of a readers file, for the server to refuse a broken one at start. */
export function validateReadersFile(file: string): string[] {
  if (!existsSync(file)) return [];
  return parseReadersFile(readFileSync(file, "utf8"), file).problems;
}
