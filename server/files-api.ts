/**
 * The file editor's API (shapes in server/files-protocol.ts): open and save
 * one file of the reader's lab environment. The environment reads and writes
 * it as the reader's shell would (LabEnvironment.readFile / writeFile run a
 * fixed program of the server's where the shell runs), so what the reader's
 * shell may not touch, the editor may not either. Ownership as in the check
 * API: another reader's environment answers like one that does not exist.
 */
import { BodyNotJsonError, BodyTooLargeError, readJsonBody } from "./request-body.ts";
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Reader } from "./access.ts";
import { sendJson } from "./app.ts";
import type { FileProblem, LabEnvironment } from "./drivers/driver.ts";
import { FileQuery, FileSave, MAX_FILE_BYTES, VERSION_ALGORITHM, formatBytes, type FileContent, type FileErrorCode, type FileSaved } from "./files-protocol.ts";
import { log } from "./log.ts";

/** What the server hands the route: the request's reader is authenticated already. */
export interface FilesContext {
  sessions: { environment(id: string, reader: Reader): LabEnvironment | undefined };
  reader: Reader;
}

const FILES_ROUTE = /^\/api\/labs\/([A-Za-z0-9_-]{1,64})\/files$/;
/** A JSON string of MAX_FILE_BYTES of text: escapes (\n, \", \u…) make it longer than the text. */
const MAX_BODY_BYTES = 2 * MAX_FILE_BYTES + 4096;
/** File operations of one environment at a time: each is a process in it, so a flood of requests is refused, not queued. */
const MAX_CONCURRENT_PER_ENVIRONMENT = 4;

const STATUS: Record<FileErrorCode, number> = {
  "bad-request": 400,
  "unknown-environment": 404,
  "not-found": 404,
  "folder-not-found": 404,
  "is-a-folder": 422,
  "not-a-file": 422,
  "no-access": 403,
  "too-large": 413,
  binary: 422,
  "not-utf8": 422,
  changed: 409,
  "environment-ended": 410,
  "server-error": 500,
};

class FileApiError extends Error {
  readonly code: FileErrorCode;
  constructor(code: FileErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** A path as the messages quote it: the reader's own words, kept short. */
const quoted = (path: string) => (path.length > 200 ? `${path.slice(0, 200)}…` : path);

function folderOf(path: string): string {
  const at = path.replace(/\/+$/, "").lastIndexOf("/");
  return at <= 0 ? (at === 0 ? "/" : "~") : path.slice(0, at);
}

/** Words for the reader for each way a read or write fails in the environment. */
function problemError(problem: FileProblem, reason: string, path: string, writing: boolean): FileApiError {
  const file = quoted(path);
  switch (problem) {
    case "not-found":
      return new FileApiError("not-found", `No such file in your lab environment: ${file}. Create it from the terminal, or type its content here and save: saving creates it (its folder must exist).`);
    case "folder-not-found":
      return new FileApiError("folder-not-found", `The folder ${quoted(folderOf(path))} does not exist in your lab environment, so ${file} cannot be saved there. Create it from the terminal first: mkdir -p ${quoted(folderOf(path))}`);
    case "is-a-folder":
      return new FileApiError("is-a-folder", `${file} is a folder in your lab environment, not a file: open a file in it (see ls ${file} in the terminal).`);
    case "not-a-file":
      return new FileApiError("not-a-file", `${file} is not a regular file (a device, a socket or a pipe): the editor opens regular files only.`);
    case "no-access":
      return new FileApiError("no-access", `Your lab environment does not let you ${writing ? "write" : "read"} ${file} (${reason.startsWith("exit") ? "permission denied" : reason}), as your shell there would find too.`);
    case "ended":
      return new FileApiError("environment-ended", "This lab environment has ended on the server: start the terminal again, then open the file again.");
    case "failed":
      return new FileApiError("server-error", `Could not ${writing ? "save" : "read"} ${file} in your lab environment: ${reason}.`);
  }
}

const BODY_TOO_LARGE = () => new FileApiError("too-large", `This text is larger than the editor saves (${formatBytes(MAX_FILE_BYTES)}): write it from the terminal instead.`);

/** The request's JSON body (server/request-body.ts), its refusals in the editor's words. */
async function readBody(request: IncomingMessage, response: ServerResponse): Promise<unknown> {
  try {
    return await readJsonBody(request, response, MAX_BODY_BYTES);
  } catch (error) {
    if (error instanceof BodyTooLargeError) throw BODY_TOO_LARGE();
    if (error instanceof BodyNotJsonError) throw new FileApiError("bad-request", error.message);
    throw error;
  }
}

/** Text the editor can show and save back unchanged: no NUL bytes, valid UTF-8 (a byte order mark is kept). */
function textOf(content: Buffer, path: string): string {
  if (content.includes(0)) {
    throw new FileApiError("binary", `${quoted(path)} is a binary file (it holds NUL bytes): the editor opens text files only. Look at it from the terminal (e.g. od -c ${quoted(path)} | head).`);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(content);
  } catch {
    throw new FileApiError("not-utf8", `${quoted(path)} is not UTF-8 text: the editor would change it on save, so it does not open it. Use the terminal for it.`);
  }
}

const versionOf = (content: Buffer) => createHash(VERSION_ALGORITHM).update(content).digest("hex");

async function openFile(environment: LabEnvironment, path: string): Promise<FileContent> {
  const result = await environment.readFile(path, { maxBytes: MAX_FILE_BYTES });
  if (!result.ok) throw problemError(result.problem, result.reason, path, false);
  if (result.truncated) {
    throw new FileApiError(
      "too-large",
      `${quoted(path)} is ${result.size > MAX_FILE_BYTES ? `${result.size.toLocaleString("en")} bytes` : `over ${formatBytes(MAX_FILE_BYTES)}`}; the editor opens files of up to ${formatBytes(MAX_FILE_BYTES)}. Use the terminal for it (less, head, vi).`,
    );
  }
  return { path, content: textOf(result.content, path), size: result.content.byteLength, version: versionOf(result.content), ...(result.mtimeMs !== undefined ? { mtimeMs: result.mtimeMs } : {}) };
}

/**
 * A save based on an older version than the environment's (the reader
 * changed the file from the terminal meanwhile) would undo that change
 * unseen: refused, with what to do. (Read then written: a change between
 * the two is not caught; a reader does not type that fast.)
 */
async function refuseIfChanged(environment: LabEnvironment, path: string, base: string | null): Promise<void> {
  const current = await environment.readFile(path, { maxBytes: MAX_FILE_BYTES });
  if (!current.ok && current.problem !== "not-found") throw problemError(current.problem, current.reason, path, false);
  const now = !current.ok ? null : current.truncated ? "over the limit" : versionOf(current.content);
  if (now === base) return;
  const what = now === null ? "was deleted" : base === null ? "was created" : "changed";
  throw new FileApiError(
    "changed",
    `${quoted(path)} ${what} in your lab environment since the editor opened it (from the terminal?). Reload to see it (your edits here are then lost), or Save again to overwrite it with your text.`,
  );
}

async function saveFile(environment: LabEnvironment, path: string, body: unknown): Promise<FileSaved> {
  const parsed = FileSave.safeParse(body);
  if (!parsed.success) throw new FileApiError("bad-request", 'the body must be {"content": "<the file\'s text>"} (text without NUL characters)');
  const content = Buffer.from(parsed.data.content, "utf8");
  if (content.byteLength > MAX_FILE_BYTES) {
    throw new FileApiError("too-large", `This text is ${formatBytes(content.byteLength)}; the editor saves files of up to ${formatBytes(MAX_FILE_BYTES)}. Write it from the terminal instead.`);
  }
  if (parsed.data.base !== undefined) await refuseIfChanged(environment, path, parsed.data.base);
  const result = await environment.writeFile(path, content);
  if (!result.ok) throw problemError(result.problem, result.reason, path, true);
  return { path, size: result.size, created: result.created, version: versionOf(content), ...(result.mtimeMs !== undefined ? { mtimeMs: result.mtimeMs } : {}) };
}

export function filesApiRoutes() {
  const inFlight = new Map<string, number>();
  return async (request: IncomingMessage, response: ServerResponse, { sessions, reader }: FilesContext): Promise<boolean> => {
    const url = new URL(request.url ?? "/", "http://localhost");
    const match = FILES_ROUTE.exec(url.pathname);
    if (!match) return false;
    if (request.method !== "GET" && request.method !== "PUT") {
      response.setHeader("allow", "GET, PUT");
      sendJson(response, 405, { error: "method-not-allowed", message: "GET to open a file, PUT to save it" });
      return true;
    }
    const lab = match[1]!;
    const query = FileQuery.safeParse({ environment: url.searchParams.get("environment"), path: url.searchParams.get("path") });
    if (!query.success) {
      sendJson(response, 400, { error: "bad-request", message: "name the file with ?environment=<id>&path=<a path in your lab environment> (no line breaks)" });
      return true;
    }
    const { environment: environmentId, path } = query.data;
    // Another reader's environment gets the same answer as one that does not exist.
    const environment = sessions.environment(environmentId, reader);
    if (!environment || environment.lab !== lab) {
      sendJson(response, 404, {
        error: "unknown-environment",
        message: "This lab environment has ended on the server: start the terminal again, then open the file again.",
      });
      return true;
    }
    const running = inFlight.get(environment.id) ?? 0;
    if (running >= MAX_CONCURRENT_PER_ENVIRONMENT) {
      sendJson(response, 429, { error: "busy", message: "Files of this lab environment are already being read or saved: try again in a moment." });
      return true;
    }
    inFlight.set(environment.id, running + 1);
    const logger = log.child({ reader: reader.id, environment: environment.id });
    try {
      if (request.method === "GET") {
        sendJson(response, 200, await openFile(environment, path));
      } else {
        const saved = await saveFile(environment, path, await readBody(request, response));
        logger.info({ size: saved.size, created: saved.created }, "file saved from the editor");
        sendJson(response, 200, saved);
      }
    } catch (error) {
      if (!(error instanceof FileApiError)) throw error;
      if (error.code === "server-error") logger.warn({ message: error.message }, "file operation failed");
      sendJson(response, STATUS[error.code], { error: error.code, message: error.message });
    } finally {
      const left = (inFlight.get(environment.id) ?? 1) - 1;
      if (left > 0) inFlight.set(environment.id, left);
      else inFlight.delete(environment.id);
    }
    return true;
  };
}
