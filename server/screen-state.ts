/**
 * The session's screen as a headless xterm sees it, for a client that is
 * behind: a reload or a long absence (its gap left the replay buffer), or a
 * terminal that cannot draw a flood as fast as the program prints it (the
 * server skips it ahead, terminal-session.ts). Such a client gets a repaint
 * of this screen and the stream from where the screen stands.
 *
 * Parsing every byte through a headless xterm would cost a flood nearly half
 * its throughput, so by default only evicted output is queued (bounded) and
 * parsed when output pauses or a repaint is asked for. When a flood overruns
 * the queue, the oldest part is dropped and the screen is rebuilt from the
 * tail kept, which still holds far more than the screen and its scrollback.
 * While a client is being skipped ahead, `follow` parses every byte as it
 * comes instead, so the screen is whole whatever the flood's length.
 * Created lazily: a session whose output fits in the buffer never pays for it.
 */
import { createRequire } from "node:module";
import { ReplayBuffer } from "./replay-buffer.ts";
import { mayEndInsideEscape, skippablePrefix } from "./plain-output.ts";

const require = createRequire(import.meta.url);
type HeadlessModule = typeof import("@xterm/headless");
type SerializeModule = typeof import("@xterm/addon-serialize");

/** Lines of scrollback a repaint carries (serializing 1,000 takes ~6 ms here; 5,000, ~80 ms). */
export const REPAINT_SCROLLBACK_LINES = 1000;
/** Evicted output waiting to be parsed; beyond it the oldest is dropped. */
const MAX_QUEUED_BYTES = 1024 * 1024;
/** Parse queued output once the session has been quiet this long. */
const IDLE_PARSE_MS = 300;
/**
 * While following, output goes to the terminal in batches this large (below
 * the replay buffer's 2 MiB, so a batch is still there when it goes): a batch
 * of plain text is parsed from its last lines only (plain-output.ts).
 */
const FOLLOW_BATCH_BYTES = 1024 * 1024;
/** What is kept of the output last handed to the terminal, to tell whether it ended inside an escape sequence. */
const HANDED_TAIL_BYTES = 64;

/** Where the stream's bytes after the evicted ones are: the replay buffer. */
export interface StreamTail {
  readonly end: number;
  since(offset: number): readonly Buffer[] | undefined;
}

export interface Repaint {
  /** The stream offset this screen stands at: the stream goes on from here. */
  offset: number;
  /** Escape sequences that redraw the screen and its scrollback. */
  data: string;
}

export class ScreenState {
  private terminal: InstanceType<HeadlessModule["Terminal"]> | undefined;
  private serializer: InstanceType<SerializeModule["SerializeAddon"]> | undefined;
  /**
   * Evicted output not handed to the terminal yet: the last MAX_QUEUED_BYTES
   * of it, copied into a ring, so a flood's chunks are not kept alive into
   * V8's old space.
   */
  private queued = this.newQueue();
  /** Output was dropped from the queue: the screen restarts from the tail kept. */
  private overrun = false;
  /** Bytes evicted from the replay buffer so far (they are the stream's first bytes). */
  private evictedTo = 0;
  /** Stream offset up to which bytes have been handed to the terminal (parsed, or queued in xterm's own write buffer). */
  private handedTo = 0;
  /** Parse every byte as it comes (a client is being skipped ahead), not only evicted ones. */
  private following = false;
  /** Plain output left unparsed since the start (plain-output.ts). */
  unparsedBytes = 0;
  /** The last bytes handed to the terminal (see mayEndInsideEscape). */
  private handedTail: Buffer = Buffer.alloc(0);
  /** The shell's last prompt mark (OSC 133 A, C or D): a repaint says whether the prompt is back. */
  private lastMark: string | undefined;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  /** The session ended: output that still comes (a pty drains after its shell is killed) makes no terminal again. */
  private disposed = false;
  private lastFeedAt = 0;
  private cols: number;
  private rows: number;

  constructor(cols: number, rows: number) {
    this.cols = cols;
    this.rows = rows;
  }

  /** Bytes the replay buffer evicted, in stream order. */
  feed(bytes: Buffer): void {
    if (this.disposed) return;
    const from = this.evictedTo;
    this.evictedTo += bytes.byteLength;
    // Already parsed while following: nothing to keep.
    if (this.evictedTo <= this.handedTo) return;
    this.queued.append(from < this.handedTo ? bytes.subarray(this.handedTo - from) : bytes);
    // One timer per quiet spell, not one per chunk: it re-arms itself until output has paused.
    this.lastFeedAt = performance.now();
    if (!this.idleTimer) this.armIdleParse(IDLE_PARSE_MS);
  }

  /** While following, bytes appended to the stream go to the terminal in batches (call after each append). */
  appended(tail: StreamTail): void {
    if (this.following && tail.end - this.handedTo >= FOLLOW_BATCH_BYTES) this.handOver(tail, tail.end);
  }

  /** Starts (or stops) parsing every byte as it comes, from where the stream ends now. */
  follow(on: boolean, tail: StreamTail): void {
    if (this.disposed) return;
    if (on && !this.following) this.handOver(tail, tail.end);
    this.following = on;
  }

  private armIdleParse(ms: number): void {
    this.idleTimer = setTimeout(() => {
      const quiet = performance.now() - this.lastFeedAt;
      if (quiet < IDLE_PARSE_MS) this.armIdleParse(IDLE_PARSE_MS - quiet);
      else this.handOver(undefined, this.evictedTo);
    }, ms);
    this.idleTimer.unref();
  }

  resize(cols: number, rows: number): void {
    this.cols = cols;
    this.rows = rows;
    this.terminal?.resize(cols, rows);
  }

  /**
   * The screen at `offset` or later (never earlier than what was parsed
   * already), with `scrollback` lines above it, once xterm has parsed up to
   * there. `offset` must be at most the stream's end; bytes from the replay
   * buffer's start are read from `tail`.
   */
  repaint(tail: StreamTail, offset: number, scrollback = REPAINT_SCROLLBACK_LINES): Promise<Repaint> {
    if (this.disposed) return Promise.resolve({ offset: this.handedTo, data: "" });
    this.handOver(tail, offset);
    const terminal = this.ensureTerminal();
    const at = this.handedTo;
    // xterm calls back once everything written before has been parsed, and before anything written after: the screen is the one at `at`.
    return new Promise((resolve) =>
      terminal.write("", () => {
        // The session may have ended while xterm parsed (dispose): its callers see that and use nothing of this.
        if (this.terminal !== terminal || !this.serializer) return resolve({ offset: at, data: "" });
        const mark = this.lastMark === "A" || this.lastMark === "D" ? `\x1b]133;${this.lastMark}\x07` : "";
        resolve({ offset: at, data: this.serializer.serialize({ scrollback }) + mark });
      }),
    );
  }

  dispose(): void {
    this.disposed = true;
    this.following = false;
    clearTimeout(this.idleTimer);
    this.terminal?.dispose();
    this.terminal = undefined;
    this.serializer = undefined;
    this.queued = this.newQueue();
  }

  /** Hands the terminal every byte up to `offset`: the queued evicted ones, then the replay buffer's. */
  private handOver(tail: StreamTail | undefined, offset: number): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.disposed) return;
    if (this.queued.size > 0) {
      const terminal = this.ensureTerminal();
      if (this.overrun) {
        terminal.reset();
        this.handedTail = Buffer.alloc(0);
      }
      this.overrun = false;
      // xterm parses later: give it a copy, the ring is overwritten by the next output.
      this.write(terminal, Buffer.concat(this.queued.since(this.queued.start)!));
      this.queued = this.newQueue();
      this.handedTo = this.evictedTo;
    }
    if (!tail || offset <= this.handedTo) return;
    const views = tail.since(Math.max(this.handedTo, this.evictedTo));
    if (!views) return;
    const terminal = this.ensureTerminal();
    const wanted = offset - Math.max(this.handedTo, this.evictedTo);
    const bytes = Buffer.concat(views as Buffer[]).subarray(0, wanted);
    // Lines of plain text that would scroll out of everything a repaint shows need no parsing.
    const skip = mayEndInsideEscape(this.handedTail) ? 0 : skippablePrefix(bytes, REPAINT_SCROLLBACK_LINES + this.rows + 2);
    this.write(terminal, skip > 0 ? bytes.subarray(skip) : bytes);
    this.unparsedBytes += skip;
    this.handedTo = Math.max(this.handedTo, this.evictedTo) + bytes.byteLength;
  }

  private write(terminal: NonNullable<ScreenState["terminal"]>, bytes: Buffer): void {
    terminal.write(bytes);
    this.handedTail = Buffer.from(Buffer.concat([this.handedTail, bytes.subarray(-HANDED_TAIL_BYTES)]).subarray(-HANDED_TAIL_BYTES));
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
    this.terminal = new Terminal({ cols: this.cols, rows: this.rows, scrollback: REPAINT_SCROLLBACK_LINES, allowProposedApi: true });
    this.serializer = new SerializeAddon();
    this.terminal.loadAddon(this.serializer);
    this.terminal.parser.registerOscHandler(133, (data) => {
      this.lastMark = data.split(";")[0];
      return false;
    });
    return this.terminal;
  }
}
