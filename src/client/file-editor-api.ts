/**
 * The page's side of the file editor's API (server/files-protocol.ts):
 * open and save a file of the reader's lab environment. Loaded with the
 * editor (it brings zod), never with the page's first script.
 *
 * No dead ends: every way it fails ends in words for the reader, in bounded
 * time: no lab server answering is known within seconds, and a refusal
 * (too big, binary, no such file, no access) is the server's own words.
 */
import { LabApiError, labServerRequest } from "./lab-api-client.ts";
import { labStore } from "./page-store.ts";
import { serverUrl } from "./settings.ts";
import { FileContent, FileError, FileSaved, MAX_FILE_BYTES, filesRoute, formatBytes } from "../../server/files-protocol.ts";

export class FileEditorError extends Error {
  /** The server's error code (not-found, too-large, binary, no-access, …) or the page's (unreachable, unauthorized, …). */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** Reading or saving runs one short program in the environment (the server gives it 10 s). */
const REQUEST_TIMEOUT_MS = 20_000;

/**
 * The reader's lab environment for the lab (the page store's: one per reader
 * and lab, made when there is none, as a Check does). Words for the reader
 * when there is no lab server or no access.
 */
export async function currentEnvironment(lab: string): Promise<string> {
  try {
    const state = await labStore(lab).ensureEnvironment();
    if (state.environment) return state.environment;
  } catch (error) {
    throw new FileEditorError((error as { code?: string }).code ?? "no-environment", (error as Error).message);
  }
  throw new FileEditorError("no-environment", "The lab server made no lab environment for this page: see what its terminal says, then reload the file.");
}

async function request(lab: string, path: string, init: { method: string; body?: string }): Promise<unknown> {
  const environment = await currentEnvironment(lab);
  const server = serverUrl();
  let answer: { response: Response; body: unknown };
  try {
    answer = await labServerRequest(server, filesRoute(lab, { environment, path }), init, REQUEST_TIMEOUT_MS);
  } catch (error) {
    // No server answering, a timeout, a refused token: the lab API's words, as the editor's error.
    if (error instanceof LabApiError) throw new FileEditorError(error.code, error.message);
    throw error;
  }
  const { response, body } = answer;
  if (response.ok) return body;
  const error = FileError.safeParse(body);
  // The page showed an environment that has ended: the store asks the server for the reader's current one.
  if (error.success && error.data.error === "unknown-environment") void labStore(lab).refresh();
  if (error.success) throw new FileEditorError(error.data.error, error.data.message);
  throw new FileEditorError(`http-${response.status}`, `The lab server answered ${response.status} ${response.statusText}`.trim() + ".");
}

export async function openFile(lab: string, path: string): Promise<FileContent> {
  const body = await request(lab, path, { method: "GET" });
  const parsed = FileContent.safeParse(body);
  if (!parsed.success) throw new FileEditorError("bad-answer", "The lab server's answer is not a file: is it a Nix Way Labs server of this version?");
  return parsed.data;
}

/**
 * Saves `content`. `base` is the version the edit started from (null: the
 * file did not exist); a file changed meanwhile answers FileEditorError
 * "changed". Without `base`, whatever is there is overwritten.
 */
export async function saveFile(lab: string, path: string, content: string, base?: string | null): Promise<FileSaved> {
  // Said here at once rather than after sending a megabyte for the server to refuse.
  const size = new TextEncoder().encode(content).byteLength;
  if (size > MAX_FILE_BYTES) {
    throw new FileEditorError("too-large", `This text is ${formatBytes(size)}; the editor saves files of up to ${formatBytes(MAX_FILE_BYTES)}. Write it from the terminal instead.`);
  }
  const body = await request(lab, path, { method: "PUT", body: JSON.stringify(base === undefined ? { content } : { content, base }) });
  const parsed = FileSaved.safeParse(body);
  if (!parsed.success) throw new FileEditorError("bad-answer", "The lab server's answer to the save is not one the editor knows: is it a Nix Way Labs server of this version?");
  return parsed.data;
}
