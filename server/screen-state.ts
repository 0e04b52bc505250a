/**
 * The screen as it stood at the replay buffer's start, for a client whose gap
 * is larger than the buffer (a reload, a long absence): it gets this screen
 * repainted, then the buffer replayed.
 *
 * Parsing every evicted byte through a headless xterm would cost a flood
 * nearly half its throughput, so evicted output is only queued (bounded) and
 * parsed when output pauses or a repaint is asked for. When a flood overruns
 * the queue, the oldest part is dropped and the screen is rebuilt from the
 * tail kept, which still holds far more than the screen and its scrollback.
 * Created lazily: a session whose output fits in the buffer never pays for it.
 */
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
type HeadlessModule = typeof import("@xterm/headless");
type SerializeModule = typeof import("@xterm/addon-serialize");

const SCROLLBACK_LINES = 1000;
/** Evicted output waiting to be parsed; beyond it the oldest is dropped. */
const MAX_QUEUED_BYTES = 1024 * 1024;
/** Parse queued output once the session has been quiet this long. */
const IDLE_PARSE_MS = 300;

export class ScreenState {
  private terminal: InstanceType<HeadlessModule["Terminal"]> | undefined;
  private serializer: InstanceType<SerializeModule["SerializeAddon"]> | undefined;
  private queued: Uint8Array[] = [];
  private queuedBytes = 0;
  /** Output was dropped from the queue: the screen restarts from the tail kept. */
  private overrun = false;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private cols: number;
  private rows: number;

  constructor(cols: number, rows: number) {
    this.cols = cols;
    this.rows = rows;
  }

  feed(bytes: Uint8Array): void {
    this.queued.push(bytes);
    this.queuedBytes += bytes.byteLength;
    while (this.queuedBytes > MAX_QUEUED_BYTES && this.queued.length > 1) {
      this.queuedBytes -= this.queued.shift()!.byteLength;
      this.overrun = true;
    }
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => void this.parseQueued(), IDLE_PARSE_MS);
    this.idleTimer.unref();
  }

  resize(cols: number, rows: number): void {
    this.cols = cols;
    this.rows = rows;
    this.terminal?.resize(cols, rows);
  }

  /** Escape sequences that redraw the screen and scrollback; empty when nothing was evicted. */
  async serialize(): Promise<string> {
    await this.parseQueued();
    return this.serializer?.serialize({ scrollback: SCROLLBACK_LINES }) ?? "";
  }

  dispose(): void {
    clearTimeout(this.idleTimer);
    this.terminal?.dispose();
    this.terminal = undefined;
    this.serializer = undefined;
    this.queued = [];
    this.queuedBytes = 0;
  }

  private parseQueued(): Promise<void> {
    clearTimeout(this.idleTimer);
    if (this.queuedBytes === 0) return Promise.resolve();
    const terminal = this.ensureTerminal();
    if (this.overrun) terminal.reset();
    this.overrun = false;
    const chunks = this.queued;
    this.queued = [];
    this.queuedBytes = 0;
    return new Promise((resolve) => {
      chunks.forEach((chunk, index) => terminal.write(chunk, index === chunks.length - 1 ? resolve : undefined));
    });
  }

  private ensureTerminal() {
    if (this.terminal) return this.terminal;
    const { Terminal } = require("@xterm/headless") as HeadlessModule;
    const { SerializeAddon } = require("@xterm/addon-serialize") as SerializeModule;
    this.terminal = new Terminal({ cols: this.cols, rows: this.rows, scrollback: SCROLLBACK_LINES, allowProposedApi: true });
    this.serializer = new SerializeAddon();
    this.terminal.loadAddon(this.serializer);
    return this.terminal;
  }
}
