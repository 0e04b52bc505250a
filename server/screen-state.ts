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
import { ReplayBuffer } from "./replay-buffer.ts";

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
  /**
   * Evicted output not parsed yet: the last MAX_QUEUED_BYTES of it, copied
   * into a ring, so a flood's chunks are not kept alive into V8's old space.
   */
  private queued = this.newQueue();
  /** Output was dropped from the queue: the screen restarts from the tail kept. */
  private overrun = false;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private lastFeedAt = 0;
  private cols: number;
  private rows: number;

  constructor(cols: number, rows: number) {
    this.cols = cols;
    this.rows = rows;
  }

  feed(bytes: Buffer): void {
    this.queued.append(bytes);
    // One timer per quiet spell, not one per chunk: it re-arms itself until output has paused.
    this.lastFeedAt = performance.now();
    if (!this.idleTimer) this.armIdleParse(IDLE_PARSE_MS);
  }

  private armIdleParse(ms: number): void {
    this.idleTimer = setTimeout(() => {
      const quiet = performance.now() - this.lastFeedAt;
      if (quiet < IDLE_PARSE_MS) this.armIdleParse(IDLE_PARSE_MS - quiet);
      else void this.parseQueued();
    }, ms);
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
    this.queued = this.newQueue();
  }

  private parseQueued(): Promise<void> {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.queued.size === 0) return Promise.resolve();
    const terminal = this.ensureTerminal();
    if (this.overrun) terminal.reset();
    this.overrun = false;
    // xterm parses later: give it a copy, the ring is overwritten by the next output.
    const bytes = Buffer.concat(this.queued.since(this.queued.start)!);
    this.queued = this.newQueue();
    return new Promise((resolve) => terminal.write(bytes, resolve));
  }

  private newQueue(): ReplayBuffer {
    return new ReplayBuffer(MAX_QUEUED_BYTES, () => {
      this.overrun = true;
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
