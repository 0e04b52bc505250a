/**
 * <nwl-terminal>: the light half of a terminal. Its placeholder markup comes
 * from Terminal.astro; this element wires the buttons, shows the connection
 * state, registers itself by name, and loads xterm (xterm-view.ts) only when
 * the reader starts it, or when the tab already had a session (a reload).
 */
import type { ConnectionStatus, WelcomeInfo } from "./terminal-connection.ts";
import type { Terminal } from "@xterm/xterm";
import type { TerminalView } from "./xterm-view.ts";
import { ACCESS_CHANGED, ACCESS_REFUSED, NEEDS_ACCESS, rejectToken, tokenFor } from "./access.ts";
import { labStore } from "./page-store.ts";
import { unknownLabAdvice } from "./lab-api-client.ts";
import { registerTerminal, TerminalBusyError, TerminalUnavailable, type LabTerminal } from "./registry.ts";
import { probeServer, unreachableAdvice } from "./server-probe.ts";
import { SERVER_CHANGED, serverUrl } from "./settings.ts";
import { sessionKey, tabStore } from "./storage.ts";
import { TERMINAL_REVEAL } from "./pane-tabs.ts";
import { labPane } from "./lab-pane.ts";
import "./terminal-busy.css";
import type { CloseCode } from "../../server/protocol.ts";

// The close codes this element acts on, typed against protocol.ts (a type import: the
// module itself would bring zod into the page's first script, before any terminal starts).
const UNAUTHORIZED: (typeof CloseCode)["unauthorized"] = 4401;
const NOT_FOUND: (typeof CloseCode)["notFound"] = 4404;

type State = "idle" | "loading" | ConnectionStatus | "exited" | "failed" | "unauthorized";

const STATUS_TEXT: Record<State, string> = {
  idle: "Not started",
  loading: "Loading terminal…",
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  closed: "Closed",
  exited: "Shell exited",
  failed: "Could not start",
  unauthorized: "Needs your access link",
};

/** States the connection stays in until the reader acts (Reconnect, a new link, Check). */
const STOPPED: ReadonlySet<State> = new Set(["closed", "exited", "failed", "unauthorized"]);

/** How long a Run waits for the terminal's shell (a first start makes the lab environment). */
const RUN_CONNECT_TIMEOUT_MS = 90_000;

/** A program holding the terminal this long gets a Stop button in the terminal's bar. */
const STOP_BUTTON_DELAY_MS = 2000;

/** Failed attempts before the terminal says how to get a lab server. */
const ATTEMPTS_BEFORE_HELP = 2;
/** The bar's "showing the latest" note stays this long after the last skip-ahead repaint (they come every 50 ms while a flood lasts). */
const SKIPPING_SHOWN_MS = 1000;

export class NwlTerminal extends HTMLElement implements LabTerminal {
  private view: TerminalView | undefined;
  private starting: Promise<void> | undefined;
  private state: State = "idle";
  private failedAttempts = 0;
  private everConnected = false;
  private waiters: { resolve: (environment: string) => void; reject: (error: Error) => void }[] = [];
  private environmentId: string | undefined;
  /** The token the latest hello carried (to forget it if the server refuses it). */
  private sentToken: string | undefined;
  private unregister: (() => void) | undefined;
  /** A Run that found the terminal busy, waiting for Stop and run (or a new terminal). */
  private pendingRun: string | undefined;
  private busyTimer: ReturnType<typeof setTimeout> | undefined;
  private skippingTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly onServerChanged = () => this.serverChanged();
  private readonly onAccessChanged = (event: Event) => this.accessChanged((event as CustomEvent<string>).detail);

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
    window.addEventListener(ACCESS_CHANGED, this.onAccessChanged);
    this.el("server-url", (el) => (el.textContent = serverUrl()));
    if (!this.lab) {
      this.setState("failed", "this page names no lab (frontmatter `lab`)");
      return;
    }
    // A reload of a tab that had this terminal running: resume it straight away.
    if (tabStore.getItem(sessionKey(this.lab, this.name))) void this.start();
    else void this.checkServer();
  }

  disconnectedCallback(): void {
    this.unregister?.();
    this.removeEventListener("click", this.onClick);
    window.removeEventListener(SERVER_CHANGED, this.onServerChanged);
    window.removeEventListener(ACCESS_CHANGED, this.onAccessChanged);
  }

  /** Starts the terminal once; later calls wait for the same start. */
  start(): Promise<void> {
    this.starting ??= this.load().catch((error: Error) => {
      this.starting = undefined;
      this.setState("failed", error.message);
      this.rejectWaiters("failed", `The terminal could not start: ${error.message}`);
      throw error;
    });
    return this.starting;
  }

  /**
   * Types a command at the prompt and presses Enter, once the terminal is
   * connected. Bounded: with no lab server answering, or no shell within
   * RUN_CONNECT_TIMEOUT_MS, it fails with words for the reader. A program
   * holding the terminal refuses it (TerminalBusyError): the busy bar says
   * what runs and offers Stop.
   */
  async run(command: string): Promise<void> {
    // Shown first (its tab, the drawer), so it starts at the size it will have.
    this.reveal(false);
    await this.start();
    if (!this.view!.isConnected) await this.connectedWithin(RUN_CONNECT_TIMEOUT_MS);
    try {
      await this.view!.run(command);
    } catch (error) {
      if (error instanceof TerminalBusyError) this.showBusy(error.command, command);
      throw error;
    }
  }

  /** Resolves once the shell is connected; rejects with words when the server is not there or takes too long. */
  private async connectedWithin(timeoutMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new TerminalUnavailable("timeout", `The terminal has no shell after ${timeoutMs / 1000} s: see what it says, then try again.`)),
        timeoutMs,
      );
    });
    const probe = probeServer(serverUrl(), true, 3000).then((result) => {
      if (!result.ok) throw new TerminalUnavailable("unreachable", unreachableAdvice(serverUrl(), result.reason));
      return new Promise<never>(() => {});
    });
    try {
      await Promise.race([this.environment(), timeout, probe]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** What holds the terminal (from the shell's marks), or undefined at the prompt. */
  get busy(): string | undefined {
    return this.view?.busy;
  }

  /** The reader's Stop: Ctrl+C, then (if the program shrugs it off) the server kills it. */
  async stop(): Promise<void> {
    await this.view?.stop();
  }

  /**
   * While a program holds the terminal (longer than STOP_BUTTON_DELAY_MS, so a
   * quick command does not flicker), the terminal's bar offers Stop: the way
   * out of an attached task that ignores Ctrl+C, without covering the screen
   * of a program the reader means to watch (watch, less, an editor). A Run
   * that finds the terminal busy gets the busy bar: what runs, and the ways on
   * (Stop; Stop and run; run in a new terminal).
   */
  private showBusy(command: string | undefined, pending?: string): void {
    clearTimeout(this.busyTimer);
    this.dataset.busy = command === undefined ? "" : "true";
    if (command === undefined) {
      this.pendingRun = undefined;
      this.stopButton().hidden = true;
      if (this.querySelector("[data-part=busy]")) this.busyBar().hidden = true;
      return;
    }
    const stop = this.stopButton();
    stop.title = `Stop ${command}: Ctrl+C, then, if it ignores that, the lab server kills it (never your shell)`;
    if (pending === undefined && this.pendingRun === undefined) {
      this.busyTimer = setTimeout(() => (stop.hidden = false), STOP_BUTTON_DELAY_MS);
      return;
    }
    stop.hidden = false;
    if (pending !== undefined) this.pendingRun = pending;
    this.showBusyBar(command);
  }

  /** The Stop button in the terminal's bar, made on first need. */
  private stopButton(): HTMLButtonElement {
    let button = this.querySelector<HTMLButtonElement>("button[data-part=stop]");
    if (button) return button;
    button = document.createElement("button");
    button.type = "button";
    button.dataset.part = "stop";
    button.dataset.action = "stop";
    button.dataset.testid = "terminal-stop-running";
    button.className = "nwl-stop";
    button.textContent = "■ Stop";
    button.hidden = true;
    const actions = this.querySelector(".bar .actions");
    if (actions) actions.prepend(button);
    else this.prepend(button);
    return button;
  }

  private showBusyBar(command: string): void {
    const bar = this.busyBar();
    bar.hidden = false;
    bar.querySelector<HTMLElement>("[data-part=busy-command]")!.textContent = command;
    const hasPending = this.pendingRun !== undefined;
    bar.querySelector<HTMLElement>("[data-part=busy-pending]")!.hidden = !hasPending;
    bar.querySelector<HTMLButtonElement>("[data-action=stop-and-run]")!.hidden = !hasPending;
    bar.querySelector<HTMLButtonElement>("[data-action=run-elsewhere]")!.hidden = !hasPending;
  }

  private busyBar(): HTMLElement {
    let bar = this.querySelector<HTMLElement>("[data-part=busy]");
    if (bar) return bar;
    bar = document.createElement("div");
    bar.className = "nwl-busy";
    bar.dataset.part = "busy";
    bar.dataset.testid = "terminal-busy";
    bar.setAttribute("role", "alert");
    bar.hidden = true;
    bar.innerHTML = `<span>Busy: <code data-part="busy-command"></code> is running.</span>
      <span data-part="busy-pending">Run waits: typing now would go to that program, not to the shell.</span>
      <span class="nwl-busy-actions">
        <button type="button" data-action="stop" data-testid="terminal-stop" title="Ctrl+C, then, if the program ignores it, the lab server kills it (never your shell)">Stop it</button>
        <button type="button" data-action="stop-and-run" data-testid="terminal-stop-and-run">Stop it and run</button>
        <button type="button" data-action="run-elsewhere" data-testid="terminal-run-elsewhere">Run in a new terminal</button>
      </span>`;
    // Over the screen's top edge, so the terminal keeps its size (a resize would redraw the program's screen).
    (this.querySelector(".body") ?? this).prepend(bar);
    return bar;
  }

  /**
   * The lab environment, once this terminal is welcomed. Rejects (with words
   * for the reader) when the terminal stops without one: no access, no such
   * lab, no lab server answering. A stopped terminal is tried once more.
   */
  environment(): Promise<string> {
    if (this.environmentId && this.view?.isConnected) return Promise.resolve(this.environmentId);
    // (Restarted first: the old connection's close must not answer the new waiter.)
    if (this.view && STOPPED.has(this.state)) this.reconnect();
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.start().catch(() => {});
    });
  }

  /** What the terminal shows, as text: for tests and for readers' tools (the WebGL renderer draws on a canvas). */
  bufferText(): string {
    return this.view?.text() ?? "";
  }

  /** The xterm.js terminal once started, for tools that watch it (the bench's reader view); not for writing to. */
  get xterm(): Terminal | undefined {
    return this.view?.term;
  }

  /** The terminal's size in cells, as the fit addon made it (0 × 0 before a start). */
  size(): { cols: number; rows: number } {
    return { cols: this.view?.term.cols ?? 0, rows: this.view?.term.rows ?? 0 };
  }

  /** Asks the lab pane to show this terminal (its tab; the drawer opens). Never scrolls the page: the reader keeps their place. */
  reveal(focus = true): void {
    this.dispatchEvent(new CustomEvent(TERMINAL_REVEAL, { bubbles: true }));
    if (focus) this.view?.focus();
  }

  /** Input for the shell as if typed (the phone key bar's Esc, Tab, arrows and Ctrl+key). */
  sendKeys(data: string): void {
    this.view?.term.input(data, true);
  }

  /** Ends this terminal's shell for good (the reader closed its tab). */
  end(): void {
    this.view?.dispose();
    this.view = undefined;
    this.starting = undefined;
  }

  private async load(): Promise<void> {
    this.setState("loading");
    const store = labStore(this.lab);
    const { TerminalView } = await import("./xterm-view.ts");
    // A hint only: the server keeps one environment per reader and lab, whatever a hello names.
    const environmentHint = store.state.environment?.environment ?? undefined;
    const screen = this.el("screen")!;
    // Made now, hidden: it keeps its place in the bar, so the bar's height never changes when it shows.
    this.stopButton();
    this.dataset.started = "";
    this.view = await TerminalView.create({
      host: screen,
      serverUrl: serverUrl(),
      lab: this.lab,
      name: this.name,
      environment: environmentHint,
      token: () => (this.sentToken = tokenFor(serverUrl())),
      onStatus: (status, detail, closeCode) => this.onStatus(status, detail, closeCode),
      onWelcome: (info) => this.onWelcome(info),
      onExit: (code) => this.setState("exited", `code ${code}`),
      onError: (code, message) => this.onError(code, message),
      onEnvironment: (state) => labStore(this.lab).applyState(state),
      onBusy: (command) => this.showBusy(command),
      onSkipAhead: () => this.showSkipping(),
    });
  }

  /** While the server skips this terminal ahead of a flood, the bar says so; it goes once the repaints stop. */
  private showSkipping(): void {
    clearTimeout(this.skippingTimer);
    this.el("skipping", (el) => (el.hidden = false));
    this.skippingTimer = setTimeout(() => this.el("skipping", (el) => (el.hidden = true)), SKIPPING_SHOWN_MS);
  }

  private onStatus(status: ConnectionStatus, detail?: string, closeCode?: number): void {
    if (status === "connected") {
      this.failedAttempts = 0;
      this.everConnected = true;
      this.showHelp(false);
      this.showAccessHelp(undefined);
    }
    if (status === "closed" && closeCode === UNAUTHORIZED) {
      this.unauthorized();
      return;
    }
    if (status === "closed" && closeCode === NOT_FOUND) {
      this.unknownLab();
      return;
    }
    if (status === "reconnecting" || (status === "closed" && !this.everConnected)) {
      this.failedAttempts += 1;
      if (!this.everConnected && this.failedAttempts >= ATTEMPTS_BEFORE_HELP) void this.checkServer(true);
    }
    // (A close without a code is this page's own doing: a restart or a change of server.)
    if (status === "closed" && closeCode !== undefined) this.rejectWaiters("closed", `The terminal closed (${detail ?? "no reason given"}): press its New shell button, then check again.`);
    // An exit is the more useful last word than the close that follows it.
    if (status === "closed" && this.state === "exited") return;
    this.setState(status, detail);
  }

  /** Refused for want of a valid token (4401): say what to do, and stop until the reader has the link. */
  private unauthorized(): void {
    const server = serverUrl();
    const message = this.sentToken ? ACCESS_REFUSED : NEEDS_ACCESS;
    rejectToken(server, this.sentToken);
    this.showHelp(false);
    this.showAccessHelp(message);
    this.setState("unauthorized", message);
    this.view?.notice(message, "error");
    this.rejectWaiters("unauthorized", message);
  }

  /** 4404 with no shell to resume: the server has no such lab. Retrying would change nothing. */
  private unknownLab(): void {
    const message = unknownLabAdvice(this.lab);
    this.showHelp(false);
    this.setState("failed", message);
    this.view?.notice(message, "error");
    this.rejectWaiters("unknown-lab", message);
  }

  private rejectWaiters(code: string, message: string): void {
    for (const waiter of this.waiters.splice(0)) waiter.reject(new TerminalUnavailable(code, message));
  }

  private onWelcome(info: WelcomeInfo): void {
    this.environmentId = info.environment;
    labStore(this.lab).environmentSeen(info.environment);
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
    for (const waiter of this.waiters.splice(0)) waiter.resolve(info.environment);
  }

  private onError(code: string, message: string): void {
    // The transport recovers from these by itself; show them, but don't alarm.
    this.el("detail", (el) => (el.textContent = message));
    if (code === "environment-failed") this.setState("failed", message);
    // Why the terminal has no shell (the lab's containerd is down, the server is full): in the terminal too.
    if (code === "service-degraded" || code === "limit-reached" || code === "environment-failed") this.view?.notice(message, "warning");
  }

  private onClick = (event: Event): void => {
    const button = (event.target as Element).closest<HTMLButtonElement>("button[data-action]");
    if (!button || !this.contains(button)) return;
    const action = button.dataset.action;
    if (action === "start") void this.start().then(() => this.view?.focus(), () => {});
    else if (action === "reconnect") this.reconnect();
    else if (action === "stop") void this.stop();
    else if (action === "stop-and-run") void this.stopAndRun();
    else if (action === "run-elsewhere") void this.runElsewhere();
    else if (action === "copy") void this.view?.copySelection().then((ok) => this.flash(button, ok ? "Copied" : "Select text first"));
    else if (action === "paste")
      void this.view?.pasteFromClipboard().then((ok) => ok || this.flash(button, "Use Ctrl+Shift+V"));
  };

  private async stopAndRun(): Promise<void> {
    const command = this.pendingRun;
    await this.stop();
    if (command !== undefined && this.busy === undefined) await this.run(command).catch(() => {});
  }

  /** The pending Run in a new terminal of the same environment, leaving this one to its program. */
  private async runElsewhere(): Promise<void> {
    const command = this.pendingRun;
    this.showBusy(this.busy);
    this.pendingRun = undefined;
    if (command === undefined) return;
    // The pane's "+": another shell in the same environment, as a closable tab.
    const terminal = labPane()?.newTerminal() as NwlTerminal | undefined;
    await terminal?.run(command).catch(() => {});
  }

  private reconnect(): void {
    if (!this.view) {
      void this.start();
      return;
    }
    this.failedAttempts = 0;
    // After an exit or a final close the old session is gone: a fresh shell in the same environment.
    if (STOPPED.has(this.state)) this.view.restart(labStore(this.lab).state.environment?.environment ?? undefined);
    else this.view.reconnect();
    this.view.focus();
  }

  /** A token arrived for our server (a pasted link, another tab): a terminal that waited for it tries again. */
  private accessChanged(server: string): void {
    this.showAccessHelp(undefined);
    if (server === serverUrl() && this.view && this.state === "unauthorized") this.reconnect();
  }

  private serverChanged(): void {
    this.el("server-url", (el) => (el.textContent = serverUrl()));
    this.showAccessHelp(undefined);
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
    this.dataset.server = result.ok ? (result.degraded ? "degraded" : "reachable") : "unreachable";
    if (!result.ok) this.el("help-reason", (el) => (el.textContent = result.reason));
    const help = !result.ok && !this.everConnected;
    this.showHelp(help && this.state !== "unauthorized");
    // A Check waiting for this terminal answers now rather than after every retry.
    if (help && fresh) this.rejectWaiters("unreachable", unreachableAdvice(url, result.reason));
  }

  private showHelp(show: boolean): void {
    this.el("help", (el) => (el.hidden = !show));
  }

  /** The access help, with its message; undefined hides it. */
  private showAccessHelp(message: string | undefined): void {
    this.el("access-help", (el) => (el.hidden = message === undefined));
    if (message !== undefined) this.el("access-reason", (el) => (el.textContent = message));
  }

  private setState(state: State, detail?: string): void {
    this.state = state;
    this.dataset.state = state;
    this.el("status", (el) => (el.textContent = STATUS_TEXT[state]));
    this.el("detail", (el) => (el.textContent = detail && state !== "connected" ? detail : ""));
    // Also while connected: a connection can stall without closing, and the reader is the first to notice.
    const reconnectable = state === "connected" || state === "reconnecting" || STOPPED.has(state);
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
