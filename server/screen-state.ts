/**
 * The screen as it stood at the replay buffer's start: output that leaves the
 * replay buffer is fed to a headless xterm, so a client whose gap is larger
 * than the buffer gets this screen repainted, then the buffer replayed.
 * Created lazily: a session whose output fits in the buffer never pays for it.
 */
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
type HeadlessModule = typeof import("@xterm/headless");
type SerializeModule = typeof import("@xterm/addon-serialize");

const SCROLLBACK_LINES = 1000;

export class ScreenState {
  private terminal: InstanceType<HeadlessModule["Terminal"]> | undefined;
  private serializer: InstanceType<SerializeModule["SerializeAddon"]> | undefined;
  private pending: Promise<void> = Promise.resolve();
  private cols: number;
  private rows: number;

  constructor(cols: number, rows: number) {
    this.cols = cols;
    this.rows = rows;
  }

  get active(): boolean {
    return this.terminal !== undefined;
  }

  feed(bytes: Uint8Array): void {
    const terminal = this.ensureTerminal();
    this.pending = new Promise((resolve) => terminal.write(bytes, resolve));
  }

  resize(cols: number, rows: number): void {
    this.cols = cols;
    this.rows = rows;
    this.terminal?.resize(cols, rows);
  }

  /** Escape sequences that redraw the screen and scrollback; empty when nothing was evicted. */
  async serialize(): Promise<string> {
    if (!this.terminal || !this.serializer) return "";
    await this.pending;
    return this.serializer.serialize({ scrollback: SCROLLBACK_LINES });
  }

  dispose(): void {
    this.terminal?.dispose();
    this.terminal = undefined;
    this.serializer = undefined;
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
