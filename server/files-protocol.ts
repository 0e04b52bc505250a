/**
 * The file editor's HTTP API, defined once for the lab server
 * (server/files-api.ts) and the page (src/client/file-editor-*.ts). Imports
 * zod only, so the browser bundle can take it as it is.
 *
 *   GET /api/labs/LAB/files?environment=ID&path=P    → FileContent
 *   PUT /api/labs/LAB/files?environment=ID&path=P    FileSave → FileSaved
 *
 * Errors answer { error: FileErrorCode, message } with words for the reader.
 * The path names a file inside the reader's lab environment (`~` is its
 * HOME, a relative path starts there): the server reads and writes it as the
 * reader's shell would (inside the sandbox, its own files; with the host
 * driver, where the reader's shell is the host's, the host's).
 */
import { z } from "zod";

/** The largest file the editor opens or saves (UTF-8 bytes). */
export const MAX_FILE_BYTES = 1024 * 1024;
/** Longer is no path (Linux's PATH_MAX). */
export const MAX_PATH_LENGTH = 4096;

export const EnvironmentId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).describe("The reader's lab environment, from the terminal's welcome");

export const FilePath = z
  .string()
  .min(1)
  .max(MAX_PATH_LENGTH)
  // A NUL ends a path in every system call; a line break is never one a reader meant.
  .refine((path) => !/[\0\n\r]/.test(path), "a path has no NUL or line breaks")
  .describe("A file in the reader's lab environment: absolute, ~/…, or relative to its HOME");

export const FileQuery = z.object({ environment: EnvironmentId, path: FilePath });
export type FileQuery = z.infer<typeof FileQuery>;

export const FileContent = z.object({
  /** The path as asked for. */
  path: z.string(),
  content: z.string(),
  /** Bytes of the file. */
  size: z.number().int().nonnegative(),
  mtimeMs: z.number().optional(),
  /** Which content this is (a hash of its bytes): a save names it as its base. */
  version: z.string(),
});
export type FileContent = z.infer<typeof FileContent>;

export const FileSave = z.object({
  content: z.string().refine((text) => !text.includes("\0"), "a text file has no NUL characters"),
  /**
   * The version the edit started from (FileContent.version), or null when
   * the file did not exist then: a file changed meanwhile (from the
   * terminal) is not overwritten but answered 409 "changed". Left out, the
   * save overwrites whatever is there.
   */
  base: z.string().max(128).nullable().optional(),
});
export type FileSave = z.infer<typeof FileSave>;

export const FileSaved = z.object({
  path: z.string(),
  size: z.number().int().nonnegative(),
  mtimeMs: z.number().optional(),
  /** The file did not exist before this save. */
  created: z.boolean(),
  /** The saved content's version, the base of the next save. */
  version: z.string(),
});
export type FileSaved = z.infer<typeof FileSaved>;

export const FILE_ERROR_CODES = [
  "bad-request",
  "unknown-environment",
  "not-found",
  "folder-not-found",
  "is-a-folder",
  "not-a-file",
  "no-access",
  "too-large",
  "binary",
  "not-utf8",
  "changed",
  "environment-ended",
  "server-error",
] as const;
export const FileErrorCode = z.enum(FILE_ERROR_CODES);
export type FileErrorCode = z.infer<typeof FileErrorCode>;

export const FileError = z.object({ error: z.string(), message: z.string() });
export type FileError = z.infer<typeof FileError>;

/** What a FileContent.version is made from: the file's bytes (sha256, hex). */
export const VERSION_ALGORITHM = "sha256";

/** The route of a lab's files, relative to the server's URL (no leading slash). */
export function filesRoute(lab: string, query: FileQuery): string {
  const search = new URLSearchParams({ environment: query.environment, path: query.path });
  return `api/labs/${encodeURIComponent(lab)}/files?${search}`;
}

/** "1 MiB", "300 KiB": sizes as a reader reads them. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MiB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KiB`;
  return `${bytes} bytes`;
}
