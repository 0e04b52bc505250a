/**
 * The sessions and lab environments a server holds. A reader has one
 * environment per lab, whatever tab or terminal asks (keyed by reader and
 * lab), and its progress lives with it. An environment is disposed a while
 * after its last terminal ends, so a reload, another tab or a check can
 * find it again.
 */
import type { Reader } from "./access.ts";
import type { Limits } from "./config.ts";
import type { LabEnvironment } from "./drivers/driver.ts";
import { newId } from "./drivers/host.ts";
import { log } from "./log.ts";
import type { CheckpointRecord, EnvironmentState } from "./lab-api-protocol.ts";
import type { Activity, EnvironmentChanged, ErrorCode, Hello } from "./protocol.ts";
import { CloseCode } from "./protocol.ts";
import { SerialQueue } from "./serial-queue.ts";
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
  /** The reader who made it: nobody else's hello or check reaches it (the operator's excepted). */
  owner: string;
  sessions: Set<TerminalSession>;
  disposeTimer: ReturnType<typeof setTimeout> | undefined;
  /** When its last terminal ended (undefined while it has terminals). */
  idleSince: number | undefined;
  /** When the idle environment will be disposed (ms since the epoch), while its timer runs. */
  expiresAt: number | undefined;
  /** Checks of one environment run one after another: concurrent ones see each other's probes. */
  checks: SerialQueue;
  /** The latest check of each checkpoint here: progress is the environment's, so a new one starts with none. */
  progress: Map<string, CheckpointRecord>;
  createdAt: number;
  /** What the lab ran when it made the environment (a continued lab's solves): each new shell starts by showing it. */
  history: Activity[];
}

/** What the terminals of one environment hear: its state changed, or the lab ran a step in it. */
export type EnvironmentEvent = EnvironmentChanged | Activity;

/** At most one Stop (an `interrupt` frame) is acted on per this long, per reader. */
const INTERRUPT_INTERVAL_MS = 500;

const environmentKey = (owner: string, lab: string) => `${owner}\u0000${lab}`;

/** Whether a reader may use what `owner` made: their own, or anything for the operator. */
const mayUse = (reader: Reader, owner: string) => reader.operator || reader.id === owner;

export interface LabSessionsOptions {
  /** Makes a lab's environment (through the lab runtime, so its setup runs); what it ran for the reader is announced. */
  createEnvironment(lab: string, announce: (activity: Omit<Activity, "type">) => void): Promise<LabEnvironment>;
  limits: Limits;
  /** Whether a lab id names a lab this server has. */
  hasLab(lab: string): boolean;
}

export class LabSessions {
  private readonly createEnvironment: LabSessionsOptions["createEnvironment"];
  private readonly limits: Limits;
  private readonly hasLab: (lab: string) => boolean;
  private readonly sessions = new Map<string, TerminalSession>();
  private readonly sessionOwners = new Map<TerminalSession, string>();
  private readonly environments = new Map<string, EnvironmentEntry>();
  /** The environment of each reader and lab, by environmentKey. */
  private readonly byKey = new Map<string, EnvironmentEntry>();
  /** Environments being made, by environmentKey: a page's terminals and its checks asking at once get one. */
  private readonly creating = new Map<string, Promise<EnvironmentEntry>>();
  private readonly eventListeners = new Set<(environment: string, event: EnvironmentEvent) => void>();
  /** Environments being made, per reader, so a burst of hellos cannot pass the limit while they start. */
  private readonly pendingEnvironments = new Map<string, number>();
  private readonly connections = new Map<string, number>();
  /** When each reader's last Stop was acted on (a Stop reads the shell's process tree). */
  private readonly lastInterrupt = new Map<string, number>();
  /** Environment disposals under way, so close() can wait for every one. */
  private readonly disposals = new Set<Promise<void>>();
  /** Repaints serialize a whole screen: one at a time bounds their memory. */
  readonly repaints = new SerialQueue();
  private closing = false;

  constructor(options: LabSessionsOptions) {
    this.createEnvironment = options.createEnvironment;
    this.limits = options.limits;
    this.hasLab = options.hasLab;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  get environmentCount(): number {
    return this.environments.size;
  }

  /** A reader's environment by id; another reader's gets the same answer as an unknown one. */
  environment(id: string, reader: Reader): LabEnvironment | undefined {
    const entry = this.environments.get(id);
    return entry && mayUse(reader, entry.owner) ? entry.environment : undefined;
  }

  /** The reader's environment for a lab, if there is one. */
  environmentOf(lab: string, reader: Reader): LabEnvironment | undefined {
    return this.byKey.get(environmentKey(reader.id, lab))?.environment;
  }

  /** The reader's environment for a lab, made (with the lab's setup) when there is none. */
  async ensureEnvironment(lab: string, reader: Reader): Promise<LabEnvironment> {
    if (this.closing) throw new SessionError("server-error", "the lab server is shutting down", CloseCode.goingAway);
    if (!this.hasLab(lab)) throw new SessionError("unknown-lab", `no lab named "${lab}" on this server`, CloseCode.notFound);
    const entry = await this.environmentFor(lab, undefined, reader);
    this.touch(entry);
    return entry.environment;
  }

  /**
   * The lab's `reset: recreate`: the reader's environment for the lab is disposed with
   * everything in it (its terminals are told, and reconnect into the new one) and made anew.
   */
  async resetEnvironment(lab: string, reader: Reader): Promise<LabEnvironment> {
    const old = this.byKey.get(environmentKey(reader.id, lab));
    if (old) {
      for (const session of [...old.sessions]) session.end({ code: CloseCode.environmentReset, message: "your lab environment was reset: a new shell starts in the new one" });
      await this.dispose(old);
      log.info({ reader: reader.id, environment: old.environment.id, lab }, "lab environment reset by its reader");
    }
    return this.ensureEnvironment(lab, reader);
  }

  /** What a page shows of an environment: its progress, terminals and how long it is kept idle. */
  state(lab: string, environment: LabEnvironment | undefined): EnvironmentState {
    const entry = environment && this.environments.get(environment.id);
    return {
      lab,
      environment: entry ? entry.environment.id : null,
      createdAt: entry ? entry.createdAt : null,
      progress: entry ? Object.fromEntries(entry.progress) : {},
      terminals: entry ? entry.sessions.size : 0,
      keptForMs: this.limits.environmentGraceMs,
      expiresAt: entry?.expiresAt ?? null,
    };
  }

  /** Records a check's result in the environment's progress, and tells its terminals. */
  recordCheck(environment: LabEnvironment, checkpoint: string, passed: boolean): void {
    const entry = this.environments.get(environment.id);
    if (!entry) return;
    entry.progress.set(checkpoint, { passed, at: Date.now() });
    this.touch(entry);
    this.emit(entry, { type: "environment", state: this.state(entry.environment.lab, entry.environment) });
  }

  /** What the lab ran when it made the environment, for a new shell in it to show. */
  historyOf(environment: LabEnvironment): readonly Activity[] {
    return this.environments.get(environment.id)?.history ?? [];
  }

  /** Shows what the lab ran in an environment (a solve) in its terminals. */
  announce(environment: LabEnvironment, activity: Omit<Activity, "type">): void {
    const entry = this.environments.get(environment.id);
    if (entry) this.emit(entry, { type: "activity", ...activity });
  }

  /** Subscribes to every environment's events (the terminal sockets pass on their own environment's); returns an unsubscribe. */
  onEnvironmentEvent(listener: (environment: string, event: EnvironmentEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  private emit(entry: EnvironmentEntry, event: EnvironmentEvent): void {
    for (const listener of this.eventListeners) listener(entry.environment.id, event);
  }

  /** API use keeps an idle environment: its disposal waits the full grace period again. */
  private touch(entry: EnvironmentEntry): void {
    if (entry.sessions.size === 0 && !this.closing && this.environments.get(entry.environment.id) === entry) this.startIdleTimer(entry);
  }

  /** Runs a check in an environment after the checks queued before it; throws QueueFullError past the limit. */
  queueCheck<T>(environment: LabEnvironment, task: () => Promise<T>): Promise<T> {
    const entry = this.environments.get(environment.id);
    if (!entry) return Promise.reject(new Error(`environment ${environment.id} has ended`));
    return entry.checks.run(task);
  }

  /** Whether a reader's Stop may run now: one per INTERRUPT_INTERVAL_MS per reader, whatever terminal sends it. */
  allowInterrupt(reader: Reader): boolean {
    const now = performance.now();
    if (now - (this.lastInterrupt.get(reader.id) ?? -Infinity) < INTERRUPT_INTERVAL_MS) return false;
    this.lastInterrupt.set(reader.id, now);
    return true;
  }

  /** Counts an open terminal connection of a reader; the returned function releases it. */
  connect(reader: Reader): () => void {
    const open = this.connections.get(reader.id) ?? 0;
    if (open >= this.limits.maxConnectionsPerReader) {
      throw new SessionError("limit-reached", `you have ${open} terminal connections open, the most this server allows (${this.limits.maxConnectionsPerReader}); close some tabs`, CloseCode.limitReached);
    }
    this.connections.set(reader.id, open + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.connections.get(reader.id) ?? 1) - 1;
      if (left > 0) this.connections.set(reader.id, left);
      else this.connections.delete(reader.id);
    };
  }

  /** The session a hello asks for: the one it resumes, or a new one. */
  async open(hello: Hello, reader: Reader): Promise<TerminalSession> {
    if (this.closing) throw new SessionError("server-error", "the lab server is shutting down", CloseCode.goingAway);
    if (!this.hasLab(hello.lab)) {
      throw new SessionError("unknown-lab", `no lab named "${hello.lab}" on this server`, CloseCode.notFound);
    }
    if (hello.session) {
      const existing = this.sessions.get(hello.session);
      const owner = existing && this.sessionOwners.get(existing);
      if (existing && owner !== undefined && mayUse(reader, owner) && existing.environment.lab === hello.lab) return existing;
      throw new SessionError("unknown-session", "that shell has ended; starting a new one", CloseCode.notFound);
    }
    this.assertSessionRoom(reader);
    const entry = await this.environmentFor(hello.lab, hello.environment, reader);
    let session: TerminalSession;
    try {
      // Again after the wait: hellos that joined one environment being made all waited here, uncounted.
      this.assertSessionRoom(reader);
      session = new TerminalSession({
        id: newId(),
        environment: entry.environment,
        cols: Math.min(hello.cols, this.limits.maxCols),
        rows: Math.min(hello.rows, this.limits.maxRows),
        limits: this.limits,
        repaints: this.repaints,
        onEnd: (ended) => this.ended(ended),
      });
    } catch (error) {
      // An environment this hello made (or found idle) and then got no terminal in must still age out.
      this.touch(entry);
      throw error;
    }
    this.sessions.set(session.id, session);
    this.sessionOwners.set(session, reader.id);
    entry.sessions.add(session);
    entry.idleSince = entry.expiresAt = undefined;
    clearTimeout(entry.disposeTimer);
    return session;
  }

  /** Throws when the server, or this reader, holds as many terminals as allowed. */
  private assertSessionRoom(reader: Reader): void {
    if (this.sessions.size >= this.limits.maxSessions) {
      throw new SessionError("limit-reached", `this server holds its limit of ${this.limits.maxSessions} terminals`, CloseCode.limitReached);
    }
    const own = [...this.sessionOwners.values()].filter((owner) => owner === reader.id).length;
    if (own >= this.limits.maxSessionsPerReader) {
      throw new SessionError("limit-reached", `you have ${own} terminals open, the most this server allows one reader (${this.limits.maxSessionsPerReader}); close one first`, CloseCode.limitReached);
    }
  }

  /** Ends every session and disposes every environment. */
  async close(): Promise<void> {
    this.closing = true;
    for (const session of this.sessions.values()) session.end();
    await Promise.all([...this.environments.values()].map((entry) => this.dispose(entry)));
    // Disposals already under way (an idle environment's timer fired) finish before the driver goes.
    await Promise.all(this.disposals);
  }

  private async environmentFor(lab: string, id: string | undefined, reader: Reader): Promise<EnvironmentEntry> {
    const existing = id ? this.environments.get(id) : undefined;
    // Another reader's environment id gets what an unknown one gets: their own (the operator may join anyone's).
    if (existing && existing.environment.lab === lab && mayUse(reader, existing.owner)) return existing;
    const key = environmentKey(reader.id, lab);
    const own = this.byKey.get(key);
    if (own) return own;
    let creating = this.creating.get(key);
    if (!creating) {
      creating = this.createFor(lab, reader).finally(() => this.creating.delete(key));
      this.creating.set(key, creating);
    }
    return creating;
  }

  private async createFor(lab: string, reader: Reader): Promise<EnvironmentEntry> {
    const pending = this.pendingEnvironments.get(reader.id) ?? 0;
    const mine = () => [...this.environments.values()].filter((entry) => entry.owner === reader.id);
    // At the limit, the reader's longest-idle environment (no terminal left, waiting to be disposed) makes room:
    // a new tab replaces a closed one, and a burst of hellos never holds more than the limit.
    while (mine().length + pending >= this.limits.maxEnvironmentsPerReader) {
      const idle = mine()
        .filter((entry) => entry.sessions.size === 0 && entry.checks.size === 0 && entry.idleSince !== undefined)
        .sort((a, b) => a.idleSince! - b.idleSince!)[0];
      if (!idle) break;
      log.info({ reader: reader.id, environment: idle.environment.id }, "idle lab environment disposed to make room for a new one");
      await this.dispose(idle);
    }
    const own = mine().length + pending;
    if (own >= this.limits.maxEnvironmentsPerReader) {
      throw new SessionError(
        "limit-reached",
        `you have ${own} lab environments with terminals open, the most this server allows one reader (${this.limits.maxEnvironmentsPerReader}); close the terminals of another lab page first`,
        CloseCode.limitReached,
      );
    }
    const total = [...this.pendingEnvironments.values()].reduce((sum, count) => sum + count, 0) + this.environments.size;
    if (total >= this.limits.maxEnvironments) {
      throw new SessionError("limit-reached", `this server holds its limit of ${this.limits.maxEnvironments} lab environments; try again later`, CloseCode.limitReached);
    }
    this.pendingEnvironments.set(reader.id, pending + 1);
    let environment: LabEnvironment;
    const history: Activity[] = [];
    try {
      environment = await this.createEnvironment(lab, (activity) => history.push({ type: "activity", ...activity }));
    } catch (error) {
      log.error({ reader: reader.id, lab, err: error }, "lab environment could not be made");
      throw new SessionError("environment-failed", `the lab environment could not be made: ${(error as Error).message}`, CloseCode.serverError);
    } finally {
      const left = (this.pendingEnvironments.get(reader.id) ?? 1) - 1;
      if (left > 0) this.pendingEnvironments.set(reader.id, left);
      else this.pendingEnvironments.delete(reader.id);
    }
    const entry: EnvironmentEntry = {
      environment,
      owner: reader.id,
      sessions: new Set(),
      disposeTimer: undefined,
      idleSince: undefined,
      expiresAt: undefined,
      checks: new SerialQueue(this.limits.maxQueuedChecksPerEnvironment),
      progress: new Map(),
      createdAt: Date.now(),
      history,
    };
    this.environments.set(environment.id, entry);
    this.byKey.set(environmentKey(reader.id, lab), entry);
    log.info({ reader: reader.id, environment: environment.id, lab }, "lab environment started");
    if (this.closing) await this.dispose(entry);
    return entry;
  }

  private ended(session: TerminalSession): void {
    this.sessions.delete(session.id);
    this.sessionOwners.delete(session);
    const entry = this.environments.get(session.environment.id);
    if (!entry) return;
    entry.sessions.delete(session);
    if (entry.sessions.size > 0 || this.closing) return;
    this.startIdleTimer(entry);
  }

  private startIdleTimer(entry: EnvironmentEntry): void {
    clearTimeout(entry.disposeTimer);
    entry.idleSince = performance.now();
    entry.expiresAt = Date.now() + this.limits.environmentGraceMs;
    entry.disposeTimer = setTimeout(() => {
      if (entry.sessions.size > 0) return;
      // A check, solve or catch-up still running (an API-only environment has no terminal) keeps it.
      if (entry.checks.size > 0) this.startIdleTimer(entry);
      else void this.dispose(entry);
    }, this.limits.environmentGraceMs);
    entry.disposeTimer.unref();
  }

  /** Disposes an environment; a failure is logged, never thrown: one broken environment must not take the server down. */
  private dispose(entry: EnvironmentEntry): Promise<void> {
    clearTimeout(entry.disposeTimer);
    this.environments.delete(entry.environment.id);
    const key = environmentKey(entry.owner, entry.environment.lab);
    if (this.byKey.get(key) === entry) this.byKey.delete(key);
    const disposal = (async () => {
      try {
        await entry.environment.dispose();
        log.info({ reader: entry.owner, environment: entry.environment.id }, "lab environment disposed");
      } catch (error) {
        log.error({ reader: entry.owner, environment: entry.environment.id, err: error }, "lab environment could not be disposed");
      }
    })();
    this.disposals.add(disposal);
    void disposal.finally(() => this.disposals.delete(disposal));
    return disposal;
  }
}
