/**
 * The page's lab runtime state, apart from any element: the reader's
 * environment for the lab (the server's, shared by every tab), its progress,
 * what each checkpoint last said, and whether the environment is newer than
 * the progress this browser last saw (the server restarted, or it was idle
 * too long): then the page says so and offers to catch up.
 *
 * Elements subscribe and render; actions (check, solve, catch up, reset) go
 * through a backend (LabApiClient on a page, a fake in the store's tests).
 * Progress is never kept only in the browser: what this browser remembers is
 * the environment it last saw and what had passed there, to notice a new one.
 */
import type { CatchUpResult, CheckpointResult, EnvironmentState, LabList, SolveResult } from "../../server/lab-api-protocol.ts";
import type { KeyValueStore } from "./storage.ts";

/** What the store needs of the lab server: src/client/lab-api-client.ts on a page. */
export interface LabBackend {
  readonly server: string;
  /** The server's labs: which steps it cannot run (their `needs` are missing there). */
  labs?(): Promise<LabList>;
  state(): Promise<EnvironmentState>;
  ensureEnvironment(): Promise<EnvironmentState>;
  reset(): Promise<EnvironmentState>;
  check(checkpoint: string, environment?: string): Promise<CheckpointResult>;
  solve(checkpoint: string, environment?: string): Promise<SolveResult>;
  catchUp(checkpoint: string, environment?: string): Promise<CatchUpResult>;
}

export type CheckpointStatus = "unchecked" | "checking" | "solving" | "passed" | "failed" | "error" | "unavailable";

export interface CheckpointView {
  status: CheckpointStatus;
  /** The check's own words, or why it could not run. */
  output: string;
  /** Shown when it did not pass. */
  hint?: string;
  /** e.g. "1.2 s", "last check". */
  detail?: string;
}

export type EnvironmentStatus = "unknown" | "none" | "starting" | "ready" | "failed";

export interface LabSnapshot {
  readonly lab: string;
  /** The lab's checkpoint ids in order. */
  readonly order: readonly string[];
  readonly environment: EnvironmentState | undefined;
  readonly environmentStatus: EnvironmentStatus;
  /** Why the environment could not be had (words for the reader). */
  readonly environmentError?: string;
  readonly checkpoints: Readonly<Record<string, CheckpointView>>;
  /** What had passed in an environment of this browser's that has ended, until the reader catches up or dismisses it. */
  readonly previous?: { environment: string; passed: readonly string[] };
  /** A long action under way (catching up, resetting), in words. */
  readonly activity?: string;
  /** Steps this lab server cannot run (a command they need is missing there), with why. */
  readonly unavailable: Readonly<Record<string, string>>;
}

/** What this browser remembers per server and lab: the environment it last saw and what had passed there. */
interface Remembered {
  environment: string;
  passed: string[];
  previous?: { environment: string; passed: readonly string[] };
}

type Listener = (snapshot: LabSnapshot) => void;

/** Errors the store shows as words; anything with a message will do (LabApiError on a page). */
const words = (error: unknown) => (error instanceof Error ? error.message : String(error));
const codeOf = (error: unknown) => (error as { code?: string }).code;

export class LabStore {
  readonly lab: string;
  private readonly backend: LabBackend;
  private readonly memory: KeyValueStore;
  private snapshot: LabSnapshot;
  private readonly listeners = new Set<Listener>();
  private ensuring: Promise<EnvironmentState> | undefined;
  private labsAsked = false;
  /** Called after this store changed the environment (a check, a solve, a reset): other tabs of the browser ask again. */
  private readonly changed: (() => void) | undefined;

  constructor(options: { lab: string; order: readonly string[]; backend: LabBackend; memory: KeyValueStore; onChanged?: () => void }) {
    this.lab = options.lab;
    this.changed = options.onChanged;
    this.backend = options.backend;
    this.memory = options.memory;
    const remembered = this.remembered();
    this.snapshot = {
      lab: options.lab,
      order: options.order,
      environment: undefined,
      environmentStatus: "unknown",
      checkpoints: {},
      previous: remembered?.previous,
      unavailable: {},
    };
  }

  get state(): LabSnapshot {
    return this.snapshot;
  }

  get server(): string {
    return this.backend.server;
  }

  /** Calls back now and on every change; returns an unsubscribe. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    listener(this.snapshot);
    return () => this.listeners.delete(listener);
  }

  /** A checkpoint as the page should show it: its last result here, else the environment's progress. */
  checkpoint(id: string): CheckpointView {
    const shown = this.snapshot.checkpoints[id];
    if (shown) return shown;
    const unavailable = this.snapshot.unavailable[id];
    if (unavailable) return { status: "unavailable", output: unavailable };
    const record = this.snapshot.environment?.progress[id];
    if (!record) return { status: "unchecked", output: "" };
    return { status: record.passed ? "passed" : "failed", output: "", detail: "last check" };
  }

  passedCount(): number {
    const progress = this.snapshot.environment?.progress ?? {};
    return this.snapshot.order.filter((id) => progress[id]?.passed).length;
  }

  /** Asks the server what the reader's environment is (making none), and once which steps it cannot run. */
  async refresh(): Promise<void> {
    if (!this.labsAsked && this.backend.labs) {
      this.labsAsked = true;
      void this.backend.labs().then(
        (list) => {
          const lab = list.labs.find((entry) => entry.id === this.lab);
          const unavailable = Object.fromEntries((lab?.checkpoints ?? []).flatMap((checkpoint) => (checkpoint.unavailable ? [[checkpoint.id, checkpoint.unavailable]] : [])));
          this.update({ unavailable });
        },
        () => (this.labsAsked = false),
      );
    }
    try {
      this.applyState(await this.backend.state());
    } catch (error) {
      // Not fatal: the page works without a server until the reader acts; actions say what is wrong.
      if (this.snapshot.environmentStatus === "unknown") this.update({ environmentError: words(error) });
    }
  }

  /** The reader's environment, made when there is none (a Check, a Run, a terminal needs one). */
  ensureEnvironment(): Promise<EnvironmentState> {
    const current = this.snapshot.environment;
    if (current?.environment && this.snapshot.environmentStatus === "ready") return Promise.resolve(current);
    this.ensuring ??= (async () => {
      this.update({ environmentStatus: "starting", environmentError: undefined });
      try {
        const state = await this.backend.ensureEnvironment();
        this.applyState(state);
        return state;
      } catch (error) {
        this.update({ environmentStatus: "failed", environmentError: words(error) });
        throw error;
      } finally {
        this.ensuring = undefined;
      }
    })();
    return this.ensuring;
  }

  /** The server's word on the environment (an API answer, or a terminal's `environment` message). */
  applyState(state: EnvironmentState): void {
    if (state.lab !== this.lab) return;
    const before = this.snapshot.environment?.environment;
    const changed = !!before && before !== state.environment;
    const remembered = this.remembered();
    let previous = this.snapshot.previous;
    if (state.environment && remembered && remembered.environment !== state.environment && remembered.passed.length > 0) {
      // A new environment where this browser had progress in another one: say so, offer to catch up.
      const passedHere = Object.values(state.progress).filter((record) => record.passed).length;
      if (passedHere < remembered.passed.length) previous = { environment: remembered.environment, passed: remembered.passed };
    }
    if (previous && state.environment && this.furthestPassed(state) >= this.furthestIndex(previous.passed)) previous = undefined;
    const passed = this.snapshot.order.filter((id) => state.progress[id]?.passed);
    if (state.environment) this.remember({ environment: state.environment, passed, previous });
    // The same word as before (a refresh with nothing new) keeps the same object: listeners are not told.
    const environment = sameEnvironment(this.snapshot.environment, state) ? this.snapshot.environment : state;
    this.update({
      environment,
      environmentStatus: state.environment ? "ready" : "none",
      environmentError: undefined,
      previous,
      // Results shown from another environment say nothing of this one.
      checkpoints: changed ? {} : this.withProgress(state),
    });
  }

  /** A terminal was welcomed into an environment: when it is not the one shown, ask the server about it. */
  environmentSeen(id: string): void {
    if (this.snapshot.environment?.environment !== id) void this.refresh();
  }

  async check(id: string): Promise<CheckpointView> {
    if (this.checkpoint(id).status === "checking") return this.checkpoint(id);
    this.setCheckpoint(id, { status: "checking", output: "" });
    try {
      const environment = await this.ensureEnvironment();
      const result = await this.backend.check(id, environment.environment ?? undefined);
      return this.showResult(id, result);
    } catch (error) {
      return this.failed(id, error);
    }
  }

  async solve(id: string): Promise<CheckpointView> {
    this.setCheckpoint(id, { status: "solving", output: "" });
    try {
      const environment = await this.ensureEnvironment();
      const result = await this.backend.solve(id, environment.environment ?? undefined);
      const view = this.showResult(id, result.check);
      if (result.solve.exitCode !== 0 && !result.check.passed) {
        return this.setCheckpoint(id, { ...view, output: `The lab's solve for this step failed (exit ${result.solve.exitCode}):\n${result.solve.output}\n${view.output}`.trim() });
      }
      return view;
    } catch (error) {
      return this.failed(id, error);
    }
  }

  /** Solves and checks every earlier checkpoint not passed yet, in order; stops at the first that fails. */
  async catchUp(id: string): Promise<CatchUpResult | undefined> {
    this.update({ activity: "Catching up: the lab is doing the earlier steps in your environment (watch the terminal)…" });
    this.setCheckpoint(id, { ...this.checkpoint(id), detail: "catching up…" });
    try {
      const environment = await this.ensureEnvironment();
      const result = await this.backend.catchUp(id, environment.environment ?? undefined);
      for (const step of result.steps) if (step.check) this.showResult(step.checkpoint, step.check);
      const failed = result.steps.find((step) => step.outcome === "failed");
      this.setCheckpoint(id, {
        ...this.checkpoint(id),
        detail: undefined,
        output: failed ? `Catching up stopped at “${failed.checkpoint}”: its check did not pass after the lab's solve.\n${failed.check?.output ?? ""}`.trim() : "",
      });
      await this.refresh();
      return result;
    } catch (error) {
      this.failed(id, error);
      return undefined;
    } finally {
      this.update({ activity: undefined });
    }
  }

  /** Catches up to where this browser was in an environment that ended: the step after the furthest one passed. */
  async catchUpToPrevious(): Promise<void> {
    const previous = this.snapshot.previous;
    if (!previous) return;
    const furthest = this.furthestIndex(previous.passed);
    const next = this.snapshot.order[furthest + 1];
    if (next) await this.catchUp(next);
    else {
      // Everything had passed: catch up to the last step, then solve it too.
      const last = this.snapshot.order.at(-1)!;
      await this.catchUp(last);
      await this.solve(last);
    }
  }

  /** Forgets an ended environment's progress (the reader starts over). */
  dismissPrevious(): void {
    const remembered = this.remembered();
    if (remembered) this.remember({ ...remembered, previous: undefined });
    this.update({ previous: undefined });
  }

  /** The lab's reset: a new, empty environment; its terminals start over in it. */
  async reset(): Promise<void> {
    this.update({ activity: "Resetting your lab environment…", environmentStatus: "starting" });
    try {
      const state = await this.backend.reset();
      const remembered = this.remembered();
      if (remembered) this.remember({ ...remembered, passed: [], previous: undefined });
      this.update({ previous: undefined });
      this.applyState(state);
      this.changed?.();
    } catch (error) {
      this.update({ environmentStatus: "failed", environmentError: words(error) });
    } finally {
      this.update({ activity: undefined });
    }
  }

  private showResult(id: string, result: CheckpointResult): CheckpointView {
    if (result.unavailable) return this.setCheckpoint(id, { status: "unavailable", output: result.unavailable });
    // The environment's progress has this check now (the server recorded it): count it at once, and tell other tabs.
    const state = this.snapshot.environment;
    if (state?.environment) {
      this.applyState({ ...state, progress: { ...state.progress, [id]: { passed: result.passed, at: Date.now() } } });
      this.changed?.();
    }
    return this.setCheckpoint(id, {
      status: result.passed ? "passed" : "failed",
      output: result.output,
      hint: result.passed ? undefined : result.hint,
      detail: `${(result.durationMs / 1000).toFixed(1)} s`,
    });
  }

  private failed(id: string, error: unknown): CheckpointView {
    // The page showed an environment that has ended: show the reader's current one (it says it is new).
    if (codeOf(error) === "unknown-environment") void this.refresh();
    return this.setCheckpoint(id, { status: "error", output: words(error) });
  }

  private setCheckpoint(id: string, view: CheckpointView): CheckpointView {
    this.update({ checkpoints: { ...this.snapshot.checkpoints, [id]: view } });
    return view;
  }

  /** Shown results stay unless the environment's progress has a newer word on them (a check in another tab). */
  private withProgress(state: EnvironmentState): Record<string, CheckpointView> {
    const shown: Record<string, CheckpointView> = {};
    for (const [id, view] of Object.entries(this.snapshot.checkpoints)) {
      const record = state.progress[id];
      const agrees = !record || (view.status === "passed") === record.passed || view.status === "checking" || view.status === "solving" || view.status === "error";
      if (agrees) shown[id] = view;
    }
    return shown;
  }

  private furthestPassed(state: EnvironmentState): number {
    return this.furthestIndex(this.snapshot.order.filter((id) => state.progress[id]?.passed));
  }

  private furthestIndex(passed: readonly string[]): number {
    return Math.max(-1, ...passed.map((id) => this.snapshot.order.indexOf(id)));
  }

  private get memoryKey(): string {
    return `nwl:lab:${this.backend.server}:${this.lab}`;
  }

  private remembered(): Remembered | undefined {
    try {
      const value = JSON.parse(this.memory.getItem(this.memoryKey) ?? "null") as Remembered | null;
      return value && typeof value.environment === "string" && Array.isArray(value.passed) ? value : undefined;
    } catch {
      return undefined;
    }
  }

  private remember(value: Remembered): void {
    this.memory.setItem(this.memoryKey, JSON.stringify(value));
  }

  private update(change: Partial<LabSnapshot>): void {
    // Nothing new: listeners (each re-rendering) are not called.
    if ((Object.keys(change) as (keyof LabSnapshot)[]).every((key) => sameValue(this.snapshot[key], change[key]))) return;
    this.snapshot = { ...this.snapshot, ...change };
    for (const listener of this.listeners) listener(this.snapshot);
  }
}

/** The same environment as far as the page shows it: its id, what passed when, its terminals and expiry. */
function sameEnvironment(before: EnvironmentState | undefined, after: EnvironmentState): boolean {
  if (!before || before.environment !== after.environment || before.terminals !== after.terminals || before.expiresAt !== after.expiresAt) return false;
  if (before.createdAt !== after.createdAt || before.keptForMs !== after.keptForMs) return false;
  const ids = Object.keys(after.progress);
  if (Object.keys(before.progress).length !== ids.length) return false;
  return ids.every((id) => before.progress[id]?.passed === after.progress[id]!.passed && before.progress[id]?.at === after.progress[id]!.at);
}

/** Identical, or plain records whose entries are identical (the checkpoints shown, the steps unavailable). */
function sameValue(before: unknown, after: unknown): boolean {
  if (before === after) return true;
  if (typeof before !== "object" || typeof after !== "object" || !before || !after || Array.isArray(before) || Array.isArray(after)) return false;
  const keys = Object.keys(after);
  if (Object.keys(before).length !== keys.length) return false;
  return keys.every((key) => (before as Record<string, unknown>)[key] === (after as Record<string, unknown>)[key]);
}
