/**
 * Sandboxes are drivers behind this one interface: host namespaces now,
 * a VM or a Kubernetes pod per reader later. The terminal server only ever
 * sees a LabEnvironment: where to start a shell, and how to run a lab's own
 * check scripts in the same place the reader's shell runs.
 */

/** A program to run on this machine under a local pty (what node-pty needs): how local drivers open shells. */
export interface ShellCommand {
  file: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
}

export interface TerminalSize {
  cols: number;
  rows: number;
}

/** What a terminal asks of a shell: its size, and how much input may wait for the program. */
export interface ShellRequest extends TerminalSize {
  maxPendingInputBytes: number;
}

export type InputResult = { ok: true } | { ok: false; message: string };

/**
 * A shell running in an environment, behind a terminal: a local pty today
 * (server/pty/local-pty-shell.ts), an exec stream of a Kubernetes pod or an
 * ssh channel tomorrow. Bytes in, bytes out; the session above it keeps the
 * stream, the clients and the flow control.
 */
export interface ShellProcess {
  /** A process id for diagnostics and logs (the host's pid for a local pty). */
  readonly pid: number;
  onData(listener: (data: Buffer) => void): void;
  onExit(listener: (code: number, signal: number | undefined) => void): void;
  /** Queues input for the shell; refused (not thrown) beyond the driver's pending-input bound. */
  write(data: Buffer): InputResult;
  resize(size: TerminalSize): void;
  /** Stops reading output (flow control): the shell blocks once its terminal buffer is full. */
  pause(): void;
  resume(): void;
  /** Ends the shell and every process of its terminal. */
  kill(): void;
  /**
   * Kills the job in the foreground of the shell's terminal (not the shell): the
   * reader's Stop when Ctrl+C does not help. Returns its command line, or
   * undefined when the shell itself is in the foreground. Optional: a driver
   * that cannot see its shell's processes leaves it out.
   */
  stopForeground?(): string | undefined;
}

export interface ScriptResult {
  exitCode: number;
  /** stdout and stderr interleaved, truncated to a bounded size. */
  output: string;
  timedOut: boolean;
  durationMs: number;
}

/** Why a file could not be read or written in an environment (server/drivers/environment-files.ts). */
export type FileProblem = "not-found" | "folder-not-found" | "is-a-folder" | "not-a-file" | "no-access" | "ended" | "failed";

export type FileReadResult =
  | {
      ok: true;
      /** At most the maxBytes asked for. */
      content: Buffer;
      /** The file has more than maxBytes. */
      truncated: boolean;
      size: number;
      mtimeMs?: number;
    }
  | { ok: false; problem: FileProblem; reason: string };

export type FileWriteResult = { ok: true; size: number; mtimeMs?: number; created: boolean } | { ok: false; problem: FileProblem; reason: string };

/** One reader's workspace for one lab; several terminals of a page share it. */
export interface LabEnvironment {
  readonly id: string;
  readonly lab: string;
  /** Opens a login shell in the environment, behind a terminal of this size. */
  openShell(request: ShellRequest): ShellProcess;
  /** Runs a script from a lab definition (never text from a browser) inside the environment. */
  runScript(script: string, options: { timeoutMs: number }): Promise<ScriptResult>;
  /**
   * Reads a file as the reader's shell would, where it runs (its file system
   * and permissions, never the host's); `~` is the environment's HOME.
   */
  readFile(path: string, options: { maxBytes: number }): Promise<FileReadResult>;
  /** Replaces a file's content (or creates it in an existing folder), as the reader's shell would. */
  writeFile(path: string, content: Buffer): Promise<FileWriteResult>;
  /** Removes everything the environment created (processes, mounts, containers, images, files). */
  dispose(): Promise<void>;
}

/**
 * Whether the driver's shared services (containerd, each environment's
 * registry) are up. "degraded" carries reasons written for an operator and
 * a reader alike, e.g. "the lab's containerd stopped; restarting it (attempt 3)".
 */
export interface DriverHealth {
  status: "ok" | "degraded";
  reasons: string[];
}

export interface SessionDriver {
  readonly kind: string;
  /** Current health; cheap enough to call on every /healthz and before every check. */
  health(): DriverHealth;
  /** Called whenever health() changes (so terminals can tell their readers); returns an unsubscribe. */
  onHealthChange(listener: (health: DriverHealth) => void): () => void;
  /** Brings up what every environment of these labs shares (daemons, images); idempotent. */
  prepare(labs: readonly string[]): Promise<void>;
  createEnvironment(lab: string): Promise<LabEnvironment>;
  /** Disposes every environment and stops what prepare started. */
  close(): Promise<void>;
}
