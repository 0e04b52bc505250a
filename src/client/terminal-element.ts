/**
 * <nwl-terminal>: the light half of a terminal. Its placeholder markup comes
 * from Terminal.astro; this element wires the buttons, shows the connection
 * state, registers itself by name, and loads xterm (xterm-view.ts) only when
 * the reader starts it, or when the tab already had a session (a reload).
 */
import type { ConnectionStatus, WelcomeInfo } from "./terminal-connection.ts";
import type { TerminalView } from "./xterm-view.ts";
import { labEnvironment } from "./environments.ts";
import { registerTerminal, type LabTerminal } from "./registry.ts";
import { probeServer } from "./server-probe.ts";
import { SERVER_CHANGED, serverUrl } from "./settings.ts";
import { tabStore } from "./storage.ts";

type State = "idle" | "loading" | ConnectionStatus | "exited" | "failed";

const STATUS_TEXT: Record<State, string> = {
  idle: "Not started",
  loading: "Loading terminal…",
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  closed: "Closed",
  exited: "Shell exited",
  failed: "Could not start",
};

/** Failed attempts before the terminal says how to get a lab server. */
const ATTEMPTS_BEFORE_HELP = 2;

export class NwlTerminal extends HTMLElement implements LabTerminal {
  private view: TerminalView | undefined;
  private starting: Promise<void> | undefined;
  private state: State = "idle";
  private failedAttempts = 0;
  private everConnected = false;
  private waiters: ((environment: string) => void)[] = [];
  private environmentId: string | undefined;
  private unregister: (() => void) | undefined;
  private readonly onServerChanged = () => this.serverChanged();

  get name(): string {
    return this.dataset.name || "main";
  }

  get lab(): string {
    return this.dataset.lab || this.closest<HTMLElement>("[data-lab]")?.dataset.lab || "";
  }

  connectedCallback(): void {
    this.unregister = registerTerminal(this);
    this.addEventListener("click", this.onClick);
    window.addEventListener(SERVER_CHANGED, this.onServerChanged);
    this.el("server-url", (el) => (el.textContent = serverUrl()));
    if (!this.lab) {
      this.setState("failed", "this page names no lab (frontmatter `lab`)");
      return;
    }
    // A reload of a tab that had this terminal running: resume it straight away.
    if (tabStore.getItem(`nwl:session:${this.lab}:${this.name}`)) void this.start();
    else void this.checkServer();
  }

  disconnectedCallback(): void {
    this.unregister?.();
    this.removeEventListener("click", this.onClick);
    window.removeEventListener(SERVER_CHANGED, this.onServerChanged);
  }

  /** Starts the terminal once; later calls wait for the same start. */
  start(): Promise<void> {
    this.starting ??= this.load().catch((error: Error) => {
      this.starting = undefined;
      this.setState("failed", error.message);
      throw error;
    });
    return this.starting;
  }

  async run(command: string): Promise<void> {
    await this.start();
    this.reveal(false);
    await this.view!.run(command);
  }

  environment(): Promise<string> {
    if (this.environmentId && this.view?.isConnected) return Promise.resolve(this.environmentId);
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      void this.start();
    });
  }

  /** What the terminal shows, as text: for tests and for readers' tools (the WebGL renderer draws on a canvas). */
  bufferText(): string {
    return this.view?.text() ?? "";
  }

  /** The terminal's size in cells, as the fit addon made it (0 × 0 before a start). */
  size(): { cols: number; rows: number } {
    return { cols: this.view?.term.cols ?? 0, rows: this.view?.term.rows ?? 0 };
  }

  reveal(focus = true): void {
    const rect = this.getBoundingClientRect();
    if (rect.top < 0 || rect.bottom > innerHeight) this.scrollIntoView({ block: "nearest", behavior: "smooth" });
    if (focus) this.view?.focus();
  }

  private async load(): Promise<void> {
    this.setState("loading");
    const environment = labEnvironment(this.lab);
    const [{ TerminalView }, environmentHint] = await Promise.all([import("./xterm-view.ts"), environment.claim()]);
    const screen = this.el("screen")!;
    this.dataset.started = "";
    this.view = await TerminalView.create({
      host: screen,
      serverUrl: serverUrl(),
      lab: this.lab,
      name: this.name,
      environment: environmentHint,
      onStatus: (status, detail) => this.onStatus(status, detail),
      onWelcome: (info) => this.onWelcome(info),
      onExit: (code) => this.setState("exited", `code ${code}`),
      onError: (code, message) => this.onError(code, message),
    });
  }

  private onStatus(status: ConnectionStatus, detail?: string): void {
    if (status === "connected") {
      this.failedAttempts = 0;
      this.everConnected = true;
      this.showHelp(false);
    }
    if (status === "reconnecting" || (status === "closed" && !this.everConnected)) {
      this.failedAttempts += 1;
      if (!this.everConnected) {
        labEnvironment(this.lab).abandon();
        if (this.failedAttempts >= ATTEMPTS_BEFORE_HELP) void this.checkServer(true);
      }
    }
    // An exit is the more useful last word than the close that follows it.
    if (status === "closed" && this.state === "exited") return;
    this.setState(status, detail);
  }

  private onWelcome(info: WelcomeInfo): void {
    this.environmentId = info.environment;
    labEnvironment(this.lab).confirm(info.environment);
    this.dataset.environment = info.environment;
    this.dataset.session = info.session;
    this.dataset.replay = info.replay;
    // Tell the reader what a reconnect gave back: every byte, or a redrawn screen.
    const notice = {
      new: "",
      exact: "Reconnected to the same shell: nothing was lost.",
      repaint: "Reconnected to the same shell: the screen was restored; older output is not in the scrollback.",
    }[info.replay];
    if (notice) this.el("detail", (el) => (el.textContent = notice));
    for (const resolve of this.waiters.splice(0)) resolve(info.environment);
  }

  private onError(code: string, message: string): void {
    // The transport recovers from these by itself; show them, but don't alarm.
    this.el("detail", (el) => (el.textContent = message));
    if (code === "unknown-lab" || code === "environment-failed") this.setState("failed", message);
  }

  private onClick = (event: Event): void => {
    const button = (event.target as Element).closest<HTMLButtonElement>("button[data-action]");
    if (!button || !this.contains(button)) return;
    const action = button.dataset.action;
    if (action === "start") void this.start().then(() => this.view?.focus(), () => {});
    else if (action === "reconnect") this.reconnect();
    else if (action === "copy") void this.view?.copySelection().then((ok) => this.flash(button, ok ? "Copied" : "Select text first"));
    else if (action === "paste")
      void this.view?.pasteFromClipboard().then((ok) => ok || this.flash(button, "Use Ctrl+Shift+V"));
  };

  private reconnect(): void {
    if (!this.view) {
      void this.start();
      return;
    }
    this.failedAttempts = 0;
    // After an exit or a final close the old session is gone: a fresh shell in the same environment.
    if (this.state === "exited" || this.state === "closed" || this.state === "failed") this.view.restart(labEnvironment(this.lab).id);
    else this.view.reconnect();
    this.view.focus();
  }

  private serverChanged(): void {
    this.el("server-url", (el) => (el.textContent = serverUrl()));
    labEnvironment(this.lab).reset();
    this.everConnected = false;
    this.failedAttempts = 0;
    if (this.view) {
      // The running shell belongs to the old server: start over on the new one.
      this.view.dispose();
      this.view = undefined;
      this.starting = undefined;
      this.el("screen", (el) => el.replaceChildren());
      void this.start();
    } else void this.checkServer(true);
  }

  /** Before a start (or after failures): is there a lab server? If not, say how to get one. */
  private async checkServer(fresh = false): Promise<void> {
    const url = serverUrl();
    const result = await probeServer(url, fresh);
    if (url !== serverUrl()) return;
    this.dataset.server = result.ok ? "reachable" : "unreachable";
    if (!result.ok) this.el("help-reason", (el) => (el.textContent = result.reason));
    this.showHelp(!result.ok && !this.everConnected);
  }

  private showHelp(show: boolean): void {
    this.el("help", (el) => (el.hidden = !show));
  }

  private setState(state: State, detail?: string): void {
    this.state = state;
    this.dataset.state = state;
    this.el("status", (el) => (el.textContent = STATUS_TEXT[state]));
    this.el("detail", (el) => (el.textContent = detail && state !== "connected" ? detail : ""));
    const reconnectable = state === "reconnecting" || state === "closed" || state === "exited" || state === "failed";
    this.el("reconnect", (el) => {
      el.hidden = !reconnectable;
      el.textContent = state === "exited" || state === "closed" ? "New shell" : "Reconnect";
    });
  }

  private flash(button: HTMLButtonElement, text: string): void {
    const label = button.textContent;
    button.textContent = text;
    setTimeout(() => (button.textContent = label), 1200);
  }

  private el(name: string): HTMLElement | null;
  private el(name: string, update: (el: HTMLElement) => void): void;
  private el(name: string, update?: (el: HTMLElement) => void): HTMLElement | null | void {
    const el = this.querySelector<HTMLElement>(`[data-part="${name}"]`);
    if (!update) return el;
    if (el) update(el);
  }
}
