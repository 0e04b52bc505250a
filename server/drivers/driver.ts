/**
 * Sandboxes are drivers behind this one interface: host namespaces now,
 * a VM or a Kubernetes pod per reader later. The terminal server only ever
 * sees a LabEnvironment: where to start a shell, and how to run a lab's own
 * check scripts in the same place the reader's shell runs.
 */

/** What node-pty needs to start a login shell inside an environment. */
export interface ShellCommand {
  file: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
}

export interface ScriptResult {
  exitCode: number;
  /** stdout and stderr interleaved, truncated to a bounded size. */
  output: string;
  timedOut: boolean;
  durationMs: number;
}

/** One reader's workspace for one lab; several terminals of a page share it. */
export interface LabEnvironment {
  readonly id: string;
  readonly lab: string;
  shellCommand(): ShellCommand;
  /** Runs a script from a lab definition (never text from a browser) inside the environment. */
  runScript(script: string, options: { timeoutMs: number }): Promise<ScriptResult>;
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
