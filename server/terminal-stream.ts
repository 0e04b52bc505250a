/**
 * A terminal's output as a numbered byte stream: every byte a program writes
 * has an offset. The replay buffer keeps the latest bytes to resume a
 * dropped client exactly; bytes it evicts are parsed into a headless screen
 * (lazily), so a client too far behind gets a repaint instead.
 */
import { ReplayBuffer } from "./replay-buffer.ts";
import { ScreenState, type Repaint } from "./screen-state.ts";

export class TerminalStream {
  private readonly replay: ReplayBuffer;
  private readonly screen: ScreenState;

  constructor(size: { cols: number; rows: number }, replayBufferBytes: number) {
    this.screen = new ScreenState(size.cols, size.rows);
    this.replay = new ReplayBuffer(replayBufferBytes, (evicted) => this.screen.feed(evicted));
  }

  /** Offset just past the last byte written. */
  get end(): number {
    return this.replay.end;
  }

  /** Oldest offset the replay buffer still holds. */
  get start(): number {
    return this.replay.start;
  }

  append(data: Buffer): void {
    this.replay.append(data);
    this.screen.appended(this.replay);
  }

  /** The bytes from `offset` to the end (views of the ring: copy before keeping), or undefined once evicted. */
  since(offset: number): readonly Buffer[] | undefined {
    return this.replay.since(offset);
  }

  /**
   * The screen at `offset` (from `start` to `end`) or later, as escape
   * sequences that redraw it (with the default scrollback, or `scrollback`
   * lines), and the offset the stream goes on from.
   */
  repaint(offset: number, scrollback?: number): Promise<Repaint> {
    return this.screen.repaint(this.replay, offset, scrollback);
  }

  /** Parses every byte as it comes while a client is skipped ahead (see ScreenState). */
  follow(on: boolean): void {
    this.screen.follow(on, this.replay);
  }

  /** Plain output the screen left unparsed, as it scrolled out of what a repaint shows. */
  get unparsedBytes(): number {
    return this.screen.unparsedBytes;
  }

  resize(cols: number, rows: number): void {
    this.screen.resize(cols, rows);
  }

  dispose(): void {
    this.screen.dispose();
  }
}
