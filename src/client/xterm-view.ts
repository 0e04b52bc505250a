/**
 * The heavy half of a terminal, loaded only when a reader starts one: xterm.js
 * with its addons, its stylesheet, and the connection to the lab server.
 * The custom element (terminal-element.ts) owns the surrounding UI.
 */
import { Terminal, type IDisposable } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import { WebLinksAddon } from "@xterm/addon-web-links";
import xtermCssUrl from "@xterm/xterm/css/xterm.css?url";
import containmentCssUrl from "./xterm-containment.css?url";
import { TerminalConnection, type ConnectionStatus, type WelcomeInfo } from "./terminal-connection.ts";
import { TerminalBusyError } from "./registry.ts";
import type { Activity } from "../../server/protocol.ts";
import type { EnvironmentState } from "../../server/lab-api-protocol.ts";
import { readClipboard, writeClipboard } from "./clipboard.ts";
import { pageTheme, themeFor } from "./themes.ts";
import { screenReaderMode } from "./lab-settings.ts";

export interface TerminalViewOptions {
  host: HTMLElement;
  serverUrl: string;
  lab: string;
  name: string;
  environment?: string;
  /** The access token for the server, read at every connection. */
  token(): string | undefined;
  onStatus(status: ConnectionStatus, detail?: string, closeCode?: number): void;
  onWelcome(info: WelcomeInfo): void;
  onExit(code: number): void;
  onError(code: string, message: string): void;
  /** The environment's state, pushed by the server (a check elsewhere, a reset). */
  onEnvironment?(state: EnvironmentState): void;
  /** Whether a program (not the shell) holds the terminal, from the shell's prompt marks. */
  onBusy?(command: string | undefined): void;
  /** The server skipped this terminal ahead of a flood: it shows the latest screen, not every line. */
  onSkipAhead?(): void;
}

/** Output quiet this long after a prompt came back: the command is done. */
const PROMPT_QUIET_MS = 250;
/** Output quiet this long without a prompt: assume it is done (or waits for the reader). */
const OUTPUT_QUIET_MS = 2000;
const RUN_MAX_WAIT_MS = 120_000;
/** RIS: what term.reset() does, as a sequence the parser applies in order with what follows it. */
const RESET_TERMINAL = "\x1bc";

let stylesheet: Promise<void> | undefined;

/** xterm.css (and the screen's containment, xterm-containment.css) as <link>s, added once, on the first start: pages ship none of it before. */
function loadStylesheet(): Promise<void> {
  stylesheet ??= Promise.all(
    [xtermCssUrl, containmentCssUrl].map(
      (href) =>
        new Promise<void>((resolve) => {
          const link = document.createElement("link");
          link.rel = "stylesheet";
          link.href = href;
          link.dataset.nwl = "xterm";
          // Measuring cells before the sheet applies gives a wrong fit; a failed sheet is not worth blocking on.
          link.onload = link.onerror = () => resolve();
          document.head.append(link);
        }),
    ),
  ).then(() => undefined);
  return stylesheet;
}

export class TerminalView {
  readonly term: Terminal;
  renderer: "webgl" | "dom" = "dom";
  private readonly options: TerminalViewOptions;
  private readonly fit = new FitAddon();
  private connection: TerminalConnection;
  private readonly disposables: IDisposable[] = [];
  private readonly cleanups: (() => void)[] = [];
  private connected = false;
  private lastOutputAt = 0;
  private promptMarkAt = 0;
  /** What runs in the foreground, from the marks: set at OSC 133;C, cleared when the prompt is back. */
  private busyWith: string | undefined;
  /** Where the reader's input began after the last prompt (the command starts there). */
  private inputStart: { row: number; col: number } | undefined;
  private welcomed: Promise<void>;
  private resolveWelcomed!: () => void;

  private constructor(options: TerminalViewOptions) {
    this.options = options;
    this.term = new Terminal({
      theme: themeFor(pageTheme()),
      fontFamily: 'ui-monospace, "JetBrains Mono", "DejaVu Sans Mono", Menlo, Consolas, monospace',
      fontSize: 14,
      // Blinks only once the WebGL renderer is in (see tryWebgl): the DOM renderer blinks with an
      // endless CSS animation, which makes the browser render a frame every 16 ms while the
      // terminal is focused; keys and echoes then wait behind frames (~28 ms key-to-screen, not ~9).
      cursorBlink: false,
      scrollback: 5000,
      // Lets Alt+click move the cursor and keeps macOS Option usable as Meta in shells.
      macOptionIsMeta: true,
      // The reader's right click selects a word for the browser's own Copy menu item.
      rightClickSelectsWord: true,
      // The reader's setting (lab pane menu); the pane switches running terminals too.
      screenReaderMode: screenReaderMode(),
    });
    this.welcomed = new Promise((resolve) => (this.resolveWelcomed = resolve));
    this.connection = this.newConnection(options.environment);
  }

  static async create(options: TerminalViewOptions): Promise<TerminalView> {
    await loadStylesheet();
    const view = new TerminalView(options);
    await view.mount();
    return view;
  }

  private async mount(): Promise<void> {
    const { term, options } = this;
    term.loadAddon(this.fit);
    // A link opens in a new tab with no opener. (The addon's default opens about:blank and then
    // navigates it, which a page under Cross-Origin-Opener-Policy: same-origin cannot do.)
    term.loadAddon(new WebLinksAddon((_event, uri) => void window.open(uri, "_blank", "noopener,noreferrer")));
    options.host.classList.add("nwl-xterm-host");
    term.open(options.host);
    await this.tryWebgl();
    this.fit.fit();

    this.disposables.push(
      term.onData((data) => {
        if (!this.inputStart && !this.busyWith) {
          const buffer = term.buffer.active;
          this.inputStart = { row: buffer.baseY + buffer.cursorY, col: buffer.cursorX };
        }
        this.connection.sendInput(data);
      }),
      term.onBinary((data) => this.connection.sendInput(Uint8Array.from(data, (c) => c.charCodeAt(0)))),
      term.onResize(({ cols, rows }) => this.connection.resize(cols, rows)),
      // Shell integration (OSC 133, from the lab's shell): A the prompt is back, C a command starts, D it ended.
      term.parser.registerOscHandler(133, (data) => {
        this.onPromptMark(data[0]);
        return false;
      }),
    );
    term.attachCustomKeyEventHandler((event) => this.handleKey(event));
    this.followSize();
    this.followTheme();
    this.handlePaste();
    // fit() ran before onResize was listened to: the hello must carry the fitted size.
    this.connection.resize(term.cols, term.rows);
    this.connection.connect();
  }

  /** WebGL draws faster; when it is unavailable or its context is lost, xterm's DOM renderer takes over. */
  private async tryWebgl(): Promise<void> {
    try {
      const { WebglAddon } = await import("@xterm/addon-webgl");
      const webgl = new WebglAddon();
      webgl.onContextLoss(() => {
        webgl.dispose();
        this.renderer = "dom";
        this.options.host.dataset.renderer = "dom";
        this.term.options.cursorBlink = false;
      });
      this.term.loadAddon(webgl);
      this.renderer = "webgl";
      // The WebGL renderer blinks with a timer that redraws the cursor cell: a frame every 600 ms.
      this.term.options.cursorBlink = true;
    } catch (error) {
      console.info("[nwl] WebGL renderer unavailable, using the DOM renderer:", (error as Error).message);
      this.renderer = "dom";
    }
    this.options.host.dataset.renderer = this.renderer;
  }

  private newConnection(environment: string | undefined): TerminalConnection {
    const { options, term } = this;
    return new TerminalConnection({
      serverUrl: options.serverUrl,
      lab: options.lab,
      name: options.name,
      environment,
      cols: term.cols,
      rows: term.rows,
      token: options.token,
      // A flood the screen cannot keep up with is skipped ahead to its latest screen (server/terminal-session.ts).
      skipAhead: true,
      onOutput: (data, processed) => {
        this.lastOutputAt = performance.now();
        term.write(data, processed);
      },
      onRepaint: (data, processed, reason) => {
        this.lastOutputAt = performance.now();
        // The reset (RIS) goes through the parser with the screen it makes way for: one render, never a blank frame between them.
        term.write(RESET_TERMINAL);
        term.write(data, processed);
        if (reason === "skip") options.onSkipAhead?.();
      },
      onStatus: (status, detail, closeCode) => {
        this.connected = status === "connected";
        options.onStatus(status, detail, closeCode);
      },
      onWelcome: (info) => {
        this.resolveWelcomed();
        options.onWelcome(info);
      },
      onExit: (code) => {
        term.write(`\r\n\x1b[2m[shell exited with code ${code}]\x1b[0m\r\n`);
        options.onExit(code);
      },
      onError: (code, message) => {
        // The server no longer had our shell (it restarted, or the shell's grace ran out): the old screen is not this shell's.
        if (code === "unknown-session") this.clearForNewShell("The lab server no longer had your previous shell (it restarted, or the shell ended while you were away): this is a new one.");
        options.onError(code, message);
      },
      onNotice: (level, message) => this.notice(message, level),
      onEnvironment: (state) => options.onEnvironment?.(state),
      onActivity: (activity) => this.activity(activity),
      onEnvironmentReset: (message) => this.clearForNewShell(message || "Your lab environment was reset: this is a new shell in the new one."),
    });
  }

  /**
   * A line from the lab, not from the shell: `[lab] …`, dim (info) or yellow
   * (warning), or red for why the terminal stopped. Not part of the shell's
   * output stream (a reload's repaint does not have it).
   */
  notice(message: string, level: "info" | "warning" | "error" = "info"): void {
    const style = { info: "2", warning: "33", error: "31" }[level];
    // On a line of its own, whatever the shell was printing; control characters from the message are dropped.
    const text = message.replace(/[\x00-\x1f\x7f]+/g, " ");
    this.term.write(`\r\n\x1b[${style}m[lab] ${text}\x1b[0m\r\n`);
  }

  /** What the lab ran in this environment (a Solve): its commands and their output, dim, between two lab lines. */
  activity(activity: Activity): void {
    if (!activity.script.trim()) {
      // Nothing ran (a step this lab server cannot run): only why.
      this.notice(`${activity.title}: ${activity.output}`, "warning");
      return;
    }
    const clean = (text: string) => text.replace(/\r?\n/g, "\r\n").replace(/[\x00-\x08\x0b-\x0c\x0e-\x1a\x1c-\x1f\x7f]/g, "");
    const commands = activity.script
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => `\x1b[2m  ${line.startsWith("#") ? line : `$ ${line}`}\x1b[0m`)
      .join("\r\n");
    this.notice(`${activity.title}; it ran:`);
    this.term.write(`${commands}\r\n`);
    if (activity.output.trim()) this.term.write(`\x1b[2m${clean(activity.output.trimEnd())}\x1b[0m\r\n`);
    this.notice(activity.passed ? "✓ its check passes now. (Press Enter for a fresh prompt.)" : "✗ its check still fails: see the checkpoint on the page.", activity.passed ? "info" : "warning");
  }

  /** The shell's own marks: whether a program holds the terminal, and what it is. */
  private onPromptMark(kind: string | undefined): void {
    if (kind === "A" || kind === "D") {
      this.promptMarkAt = performance.now();
      if (kind === "A") this.inputStart = undefined;
      if (this.busyWith !== undefined) {
        this.busyWith = undefined;
        this.options.onBusy?.(undefined);
      }
    } else if (kind === "C") {
      this.busyWith = this.typedCommand() || "a program";
      this.inputStart = undefined;
      this.options.onBusy?.(this.busyWith);
    }
  }

  /** The command line the reader entered: from where their input began to the line before the cursor. */
  private typedCommand(): string {
    const start = this.inputStart;
    if (!start) return "";
    const buffer = this.term.buffer.active;
    const end = buffer.baseY + buffer.cursorY;
    let text = "";
    for (let row = start.row; row < Math.max(end, start.row + 1); row++) {
      const line = buffer.getLine(row)?.translateToString(true) ?? "";
      text += row === start.row ? line.slice(start.col) : line;
    }
    return text.trim();
  }

  /** The program holding the terminal (from the shell's marks), or undefined at the prompt. */
  get busy(): string | undefined {
    return this.busyWith;
  }

  /** The reader's Stop: Ctrl+C first; when the program is still there after a moment, the server kills it. */
  async stop(graceMs = 1500): Promise<void> {
    if (this.busyWith === undefined) return;
    this.connection.sendInput("\x03");
    const deadline = performance.now() + graceMs;
    while (this.busyWith !== undefined && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    if (this.busyWith === undefined) return;
    this.connection.interrupt();
    const killDeadline = performance.now() + 5000;
    while (this.busyWith !== undefined && performance.now() < killDeadline) await new Promise((resolve) => setTimeout(resolve, 50));
  }

  /** Follows the container's size and tells the server (through term.onResize). */
  private followSize(): void {
    let frame = 0;
    const observer = new ResizeObserver(() => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => {
        // A hidden container (collapsed <details>, display:none) proposes nonsense.
        if (this.options.host.clientWidth > 0 && this.options.host.clientHeight > 0) this.fit.fit();
      });
    });
    observer.observe(this.options.host);
    this.cleanups.push(() => observer.disconnect());
  }

  /** Starlight switches themes with data-theme on <html>. */
  private followTheme(): void {
    const observer = new MutationObserver(() => (this.term.options.theme = themeFor(pageTheme())));
    observer.observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
    this.cleanups.push(() => observer.disconnect());
  }

  /**
   * Terminal conventions with the browser's clipboard:
   * Ctrl+Shift+C copies the selection; Ctrl+C copies it too when there is
   * one, and otherwise still sends ^C; Ctrl+Shift+V lets the browser paste
   * (its paste event lands in handlePaste). Ctrl+V stays ^V, as in a terminal.
   */
  private handleKey(event: KeyboardEvent): boolean {
    if (event.type !== "keydown" || !event.ctrlKey || event.altKey || event.metaKey) return true;
    const key = event.key.toLowerCase();
    if (key === "c" && (event.shiftKey || this.term.hasSelection())) {
      event.preventDefault();
      if (this.term.hasSelection()) {
        void writeClipboard(this.term.getSelection());
        if (!event.shiftKey) this.term.clearSelection();
      }
      return false;
    }
    if (key === "v" && event.shiftKey) return false;
    return true;
  }

  /** Every paste into this terminal (keys, context menu, middle click) goes through term.paste. */
  private handlePaste(): void {
    const host = this.options.host;
    const onPaste = (event: ClipboardEvent) => {
      const text = event.clipboardData?.getData("text/plain");
      // Capture phase, before xterm's own textarea handler: one paste, bracketed when the shell asks.
      event.preventDefault();
      event.stopImmediatePropagation();
      if (text) this.term.paste(text);
    };
    host.addEventListener("paste", onPaste, { capture: true });
    this.cleanups.push(() => host.removeEventListener("paste", onPaste, { capture: true }));
  }

  async copySelection(): Promise<boolean> {
    if (!this.term.hasSelection()) return false;
    return writeClipboard(this.term.getSelection());
  }

  async pasteFromClipboard(): Promise<boolean> {
    const text = await readClipboard();
    if (text === undefined) return false;
    this.term.paste(text);
    this.term.focus();
    return true;
  }

  /**
   * Types a command and presses Enter, as a reader would (each line ends with
   * Enter; no bracketed paste, so every line runs). Resolves when the output
   * has settled: the prompt is back (or an OSC 133 mark came), or nothing was
   * printed for a while (a long-running program that waits).
   */
  async run(command: string): Promise<void> {
    await this.welcomed;
    await this.settle(performance.now(), true);
    // Typing into a program that holds the terminal would feed it the command (or queue it for the shell later).
    if (this.busyWith !== undefined) throw new TerminalBusyError(this.busyWith);
    const prompt = this.promptLine();
    const sentAt = performance.now();
    this.term.scrollToBottom();
    // Whatever the reader left typed at the prompt goes first (Ctrl+E, Ctrl+U), or the command would run appended to it.
    if (this.inputStart) this.connection.sendInput("\x05\x15");
    // As a paste (bracketed, when the shell asked for it): a block of several
    // lines reaches bash as one edit, runs as one, and gives one prompt back.
    this.term.paste(command);
    this.connection.sendInput("\r");
    await this.settle(sentAt, false, prompt);
  }

  /** The prompt on the cursor's line, without what the reader typed after it. */
  private promptLine(): string {
    const line = this.cursorLine();
    const buffer = this.term.buffer.active;
    const start = this.inputStart;
    return start && start.row === buffer.baseY + buffer.cursorY ? line.slice(0, start.col) : line;
  }

  private cursorLine(): string {
    const buffer = this.term.buffer.active;
    const line = buffer.getLine(buffer.baseY + buffer.cursorY)?.translateToString(true) ?? "";
    return line.slice(0, buffer.cursorX);
  }

  /** Waits for output to settle after `since`. Before a run (`initial`), a fresh shell's prompt is awaited briefly. */
  private settle(since: number, initial: boolean, prompt?: string): Promise<void> {
    const started = performance.now();
    return new Promise((resolve) => {
      const tick = () => {
        const now = performance.now();
        const quiet = now - Math.max(this.lastOutputAt, since);
        const printed = this.lastOutputAt > since;
        const done = initial
          ? (this.lastOutputAt > 0 && now - this.lastOutputAt >= PROMPT_QUIET_MS) || now - started > OUTPUT_QUIET_MS
          : (this.promptMarkAt > since && quiet >= 50) ||
            (printed && prompt !== undefined && prompt.trim() !== "" && this.cursorLine() === prompt && quiet >= PROMPT_QUIET_MS) ||
            (printed && quiet >= OUTPUT_QUIET_MS) ||
            now - started > RUN_MAX_WAIT_MS;
        if (done) resolve();
        else setTimeout(tick, 50);
      };
      tick();
    });
  }

  focus(): void {
    this.term.focus();
  }

  /** Input for the shell as it is (a key bar's Esc or Ctrl+C), as if typed. */
  sendInput(data: string): void {
    this.connection.sendInput(data);
  }

  /** The terminal's text (scrollback and screen), trailing blanks trimmed. */
  text(): string {
    const buffer = this.term.buffer.active;
    const lines: string[] = [];
    for (let y = 0; y < buffer.length; y++) {
      const line = buffer.getLine(y);
      if (!line) continue;
      // A wrapped line continues the previous one: join them back.
      if (line.isWrapped && lines.length) lines[lines.length - 1] += line.translateToString(true);
      else lines.push(line.translateToString(true));
    }
    return lines.join("\n").replace(/\s+$/, "");
  }

  /** User-initiated: reconnect now (same session when the server still has it). */
  reconnect(): void {
    this.connection.reconnect();
  }

  /** The screen of a shell that is gone: cleared, with a lab line saying why (the next shell starts on a clean screen). */
  clearForNewShell(message: string): void {
    this.term.reset();
    this.lastOutputAt = this.promptMarkAt = 0;
    this.busyWith = this.inputStart = undefined;
    this.options.onBusy?.(undefined);
    this.notice(message);
  }

  /** A new shell after the old one ended; the screen is cleared. */
  restart(environment: string | undefined): void {
    this.connection.close();
    this.term.reset();
    this.lastOutputAt = this.promptMarkAt = 0;
    this.busyWith = this.inputStart = undefined;
    this.welcomed = new Promise((resolve) => (this.resolveWelcomed = resolve));
    this.connection = this.newConnection(environment);
    this.connection.connect();
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Ends the session for good and frees the terminal. */
  dispose(): void {
    this.connection.close();
    for (const cleanup of this.cleanups) cleanup();
    for (const disposable of this.disposables) disposable.dispose();
    this.term.dispose();
  }
}
