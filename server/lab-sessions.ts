/**
 * The sessions and lab environments a server holds. Terminals of one page
 * share a lab environment; an environment is disposed a while after its
 * last terminal ends, so a reload or a second terminal can join it again.
 */
import type { Limits } from "./config.ts";
import type { LabEnvironment, SessionDriver } from "./drivers/driver.ts";
import { newId } from "./drivers/host.ts";
import type { ErrorCode, Hello } from "./protocol.ts";
import { CloseCode } from "./protocol.ts";
import { TerminalSession } from "./terminal-session.ts";

/** A refusal a client is told about, with the close code that goes with it. */
export class SessionError extends Error {
  readonly code: ErrorCode;
  readonly closeCode: number;
  constructor(code: ErrorCode, message: string, closeCode: number) {
    super(message);
    this.code = code;
    this.closeCode = closeCode;
  }
}

interface EnvironmentEntry {
  environment: LabEnvironment;
  sessions: Set<TerminalSession>;
  disposeTimer: ReturnType<typeof setTimeout> | undefined;
}

export interface LabSessionsOptions {
  driver: SessionDriver;
  limits: Limits;
  /** Whether a lab id names a lab this server has. */
  hasLab(lab: string): boolean;
}

export class LabSessions {
  private readonly driver: SessionDriver;
  private readonly limits: Limits;
  private readonly hasLab: (lab: string) => boolean;
  private readonly sessions = new Map<string, TerminalSession>();
  private readonly environments = new Map<string, EnvironmentEntry>();
  private closing = false;

  constructor(options: LabSessionsOptions) {
    this.driver = options.driver;
    this.limits = options.limits;
    this.hasLab = options.hasLab;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  get environmentCount(): number {
    return this.environments.size;
  }

  environment(id: string): LabEnvironment | undefined {
    return this.environments.get(id)?.environment;
  }

  /** The session a hello asks for: the one it resumes, or a new one. */
  async open(hello: Hello): Promise<TerminalSession> {
    if (this.closing) throw new SessionError("server-error", "the lab server is shutting down", CloseCode.goingAway);
    if (!this.hasLab(hello.lab)) {
      throw new SessionError("unknown-lab", `no lab named "${hello.lab}" on this server`, CloseCode.notFound);
    }
    if (hello.session) {
      const existing = this.sessions.get(hello.session);
      if (existing && existing.environment.lab === hello.lab) return existing;
      throw new SessionError("unknown-session", "that shell has ended; starting a new one", CloseCode.notFound);
    }
    if (this.sessions.size >= this.limits.maxSessions) {
      throw new SessionError("limit-reached", `this server holds its limit of ${this.limits.maxSessions} terminals`, CloseCode.limitReached);
    }
    const entry = await this.environmentFor(hello.lab, hello.environment);
    const session = new TerminalSession({
      id: newId(),
      environment: entry.environment,
      cols: hello.cols,
      rows: hello.rows,
      limits: this.limits,
      onEnd: (ended) => this.ended(ended),
    });
    this.sessions.set(session.id, session);
    entry.sessions.add(session);
    clearTimeout(entry.disposeTimer);
    return session;
  }

  /** Ends every session and disposes every environment. */
  async close(): Promise<void> {
    this.closing = true;
    for (const session of this.sessions.values()) session.end();
    await Promise.all(
      [...this.environments.values()].map(async (entry) => {
        clearTimeout(entry.disposeTimer);
        await entry.environment.dispose();
      }),
    );
    this.environments.clear();
  }

  private async environmentFor(lab: string, id: string | undefined): Promise<EnvironmentEntry> {
    const existing = id ? this.environments.get(id) : undefined;
    if (existing && existing.environment.lab === lab) return existing;
    let environment: LabEnvironment;
    try {
      environment = await this.driver.createEnvironment(lab);
    } catch (error) {
      throw new SessionError("environment-failed", `the lab environment could not be made: ${(error as Error).message}`, CloseCode.serverError);
    }
    const entry: EnvironmentEntry = { environment, sessions: new Set(), disposeTimer: undefined };
    this.environments.set(environment.id, entry);
    return entry;
  }

  private ended(session: TerminalSession): void {
    this.sessions.delete(session.id);
    const entry = this.environments.get(session.environment.id);
    if (!entry) return;
    entry.sessions.delete(session);
    if (entry.sessions.size > 0 || this.closing) return;
    entry.disposeTimer = setTimeout(() => {
      if (entry.sessions.size > 0) return;
      this.environments.delete(entry.environment.id);
      void entry.environment.dispose();
    }, this.limits.environmentGraceMs);
    entry.disposeTimer.unref();
  }
}
