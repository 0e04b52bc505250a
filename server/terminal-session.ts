/**
 * One terminal session: a login shell in a lab environment (a ShellProcess
 * of its driver), its output stream, and who is attached. It outlives its
 * WebSocket: a client that reconnects resumes where it left off. Flow control
 * pauses the shell while too much output is unacknowledged.
 */
import type { Limits } from "./config.ts";
import type { InputResult, LabEnvironment, ShellProcess } from "./drivers/driver.ts";
import type { SerialQueue } from "./serial-queue.ts";
import { TerminalStream } from "./terminal-stream.ts";

/** Where a session's output goes while a client is attached. */
export interface SessionClient {
  /** False once the client's connection has closed (checked after every wait). */
  readonly isOpen: boolean;
  /**
   * Output from `offset`: the chunks in order, for one frame (they may be views
   * of the replay ring: copy before returning). Call `written` once the frame
   * has left for the network: until then it counts as unacknowledged whatever
   * the client acks, so a client that stops reading cannot make us queue.
   */
  output(offset: number, chunks: readonly Buffer[], written: () => void): void;
  /**
   * The screen at `offset`, drawn instead of the `skippedBytes` of output
   * before it that the client did not get (a resume past the replay buffer,
   * or skip ahead). `written`, as for output: once the frame has left.
   */
  repaint(offset: number, data: Buffer, reason: "resume" | "skip", skippedBytes: number, written?: () => void): void;
  exit(code: number, signal: number | undefined): void;
  /** Another client took the session over. */
  replaced(): void;
  /** The server ended the session for a reason the client acts on (e.g. the environment was reset). */
  ended(reason: EndReason): void;
}

/** Why the server ended a session, with the close code that tells the client. */
export interface EndReason {
  code: number;
  message: string;
}

export interface AttachOptions {
  /** The client draws a terminal and takes a repaint when it falls behind a flood (Hello.skipAhead). */
  skipAhead?: boolean;
}

export interface AttachResult {
  /** Offset the stream continues at for this client. */
  offset: number;
  replay: "new" | "exact" | "repaint";
}

export type { InputResult };

/**
 * Output bigger than this is sent at once instead of waiting to coalesce.
 * Large, so a flood goes out in few frames (each is a send here and a
 * wake-up of the client); half the default high watermark, so a frame in
 * flight and the next one gathering fit under it while the ack comes back.
 */
const FLUSH_BYTES = 256 * 1024;
/** Output within this long after input is flushed at once, so echo stays fast. */
const ECHO_WINDOW_MS = 10;
/**
 * Skip-ahead (clients that show a terminal and said so in their hello): when
 * the program prints faster than the terminal draws, output beyond the
 * client's window (the high watermark) waits here, and once the client has
 * room again a backlog larger than this goes as one repaint of the screen
 * (screen-state.ts) instead of byte by byte. Below it, the backlog goes as
 * it is: a short burst is cheaper to send than to repaint.
 */
const SKIP_AHEAD_BYTES = 256 * 1024;
/**
 * Once skipping, the client stays on repaints until the backlog at its next
 * turn is below this (the flood is over, or slow enough to follow byte by
 * byte): otherwise every repaint would be followed by a window of raw output
 * the client cannot keep up with either.
 */
const SKIP_RESUME_BYTES = 64 * 1024;
/**
 * How far the program may run ahead of what a skip-ahead client processed
 * before its pty is paused after all: a client that stops acking (a closed
 * laptop) costs the server this much reading and parsing, not a flood's worth.
 * Resumed below half of it.
 */
const RUN_AHEAD_BYTES = 8 * 1024 * 1024;
/**
 * Repaints of a flood go at most this often (a screen's worth of frames,
 * not a repaint per ack): each costs the server a serialization (~6 ms for
 * the screen and REPAINT_SCROLLBACK_LINES) and the client a parse.
 */
const REPAINT_INTERVAL_MS = 50;

export interface TerminalSessionOptions {
  id: string;
  environment: LabEnvironment;
  cols: number;
  rows: number;
  limits: Limits;
  /** Where repaints wait their turn (one at a time on the server). */
  repaints?: SerialQueue;
  onEnd(session: TerminalSession): void;
}

export class TerminalSession {
  readonly id: string;
  readonly environment: LabEnvironment;
  readonly pid: number;
  private readonly limits: Limits;
  private readonly onEnd: (session: TerminalSession) => void;
  private readonly shell: ShellProcess;
  private readonly stream: TerminalStream;
  private readonly repaints: SerialQueue | undefined;
  private client: SessionClient | undefined;
  /**
   * Flow control, as stream offsets: `sent` is what went to the client's
   * socket, `written` what the socket has handed to the network, `claimedAck`
   * what the client says it processed (never beyond `sent`). Only
   * min(claimedAck, written) counts as acknowledged: invariant
   * acked ≤ written ≤ sent ≤ stream.end.
   */
  private sent = 0;
  private written = 0;
  private claimedAck = 0;
  private acked = 0;
  private paused = false;
  /** The attached client takes repaints when behind (AttachOptions.skipAhead). */
  private skipAhead = false;
  /** A skip-ahead repaint is being made or waits for its time: nothing else goes out meanwhile. */
  private catchingUp = false;
  private lastRepaintAt = 0;
  /** The client was skipped ahead and the flood goes on: it stays on repaints (SKIP_RESUME_BYTES). */
  private skipping = false;
  private pendingOutput: Buffer[] = [];
  private pendingOutputBytes = 0;
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private lastInputAt = 0;
  private graceTimer: ReturnType<typeof setTimeout> | undefined;
  private exitStatus: { code: number; signal: number | undefined } | undefined;
  private ended = false;
  private attachGeneration = 0;

  constructor(options: TerminalSessionOptions) {
    this.id = options.id;
    this.environment = options.environment;
    this.limits = options.limits;
    this.onEnd = options.onEnd;
    this.repaints = options.repaints;
    this.stream = new TerminalStream(options, this.limits.replayBufferBytes);
    this.shell = this.environment.openShell({ cols: options.cols, rows: options.rows, maxPendingInputBytes: this.limits.maxPendingInputBytes });
    this.pid = this.shell.pid;
    this.shell.onData((data) => this.onOutput(data));
    this.shell.onExit((code, signal) => this.onExit(code, signal));
  }

  get attached(): boolean {
    return this.client !== undefined;
  }

  get outputOffset(): number {
    return this.stream.end;
  }

  /**
   * Attaches a client (replacing any other: the newest tab wins). `announce`
   * is called before any frame goes out, then the client gets what it lacks:
   * the stream from `offset` when the buffer still holds it, else a repaint
   * of the screen followed by the whole buffer.
   */
  async attach(client: SessionClient, offset: number | undefined, announce: (result: AttachResult) => void, options: AttachOptions = {}): Promise<void> {
    const generation = ++this.attachGeneration;
    const previous = this.client;
    this.client = undefined;
    if (previous && previous !== client) previous.replaced();
    clearTimeout(this.graceTimer);
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.pendingOutput = [];
    this.pendingOutputBytes = 0;
    // Hold output still while the screen is serialized, so the repaint and the replay meet exactly.
    if (!this.exitStatus) this.shell.pause();
    let from = offset ?? 0;
    let replay: AttachResult["replay"] = offset === undefined ? "new" : "exact";
    let screen: string | undefined;
    if (!this.stream.since(from)) {
      replay = "repaint";
      const repaint = this.repaints ? await this.repaints.run(() => this.stream.repaint(this.stream.start)) : await this.stream.repaint(this.stream.start);
      from = repaint.offset;
      screen = repaint.data;
    }
    if (this.ended || generation !== this.attachGeneration) return;
    if (!client.isOpen) {
      // The socket closed while the repaint was made: nobody is attached, so the grace period runs.
      this.resumeAfterAttach();
      this.startGrace(this.limits.graceMs);
      return;
    }
    announce({ offset: from, replay });
    this.client = client;
    this.skipAhead = options.skipAhead ?? false;
    this.catchingUp = this.skipping = false;
    this.sent = this.written = this.claimedAck = this.acked = from;
    if (screen !== undefined) client.repaint(from, Buffer.from(screen, "utf8"), "resume", Math.max(0, from - (offset ?? 0)));
    if (this.stream.end > from) this.send(from, this.stream.since(from)!);
    if (this.exitStatus) {
      client.exit(this.exitStatus.code, this.exitStatus.signal);
      this.end();
      return;
    }
    this.resumeAfterAttach();
  }

  private resumeAfterAttach(): void {
    if (this.exitStatus || this.ended) return;
    this.paused = false;
    this.shell.resume();
    this.updateFlow();
  }

  /** Hands output to the client, and counts it written only when its socket says so. */
  private send(offset: number, chunks: readonly Buffer[]): void {
    const client = this.client;
    if (!client) return;
    let end = offset;
    for (const chunk of chunks) end += chunk.byteLength;
    this.sent = Math.max(this.sent, end);
    client.output(offset, chunks, this.writtenUpTo(client, end));
  }

  /** A frame's written-callback: the stream counts as written up to `end` once the socket has handed the frame to the network. */
  private writtenUpTo(client: SessionClient, end: number): () => void {
    const generation = this.attachGeneration;
    return () => {
      if (generation !== this.attachGeneration || this.client !== client || end <= this.written) return;
      this.written = end;
      this.settleAck();
    };
  }

  private settleAck(): void {
    const acked = Math.min(this.claimedAck, this.written);
    if (acked <= this.acked) return;
    this.acked = acked;
    if (this.skipAhead) this.pump();
    this.updateFlow();
  }

  /** The client went away without ending the session: keep it for the grace period. */
  detach(client: SessionClient, graceMs = this.limits.graceMs): void {
    if (this.client !== client) return;
    this.flushOutput();
    this.client = undefined;
    this.skipAhead = false;
    this.stream.follow(false);
    this.startGrace(graceMs);
  }

  write(input: Buffer): InputResult {
    if (this.ended || this.exitStatus) return { ok: false, message: "the shell has exited" };
    this.lastInputAt = performance.now();
    return this.shell.write(input);
  }

  resize(cols: number, rows: number): void {
    if (this.ended || this.exitStatus) return;
    this.shell.resize({ cols, rows });
    this.stream.resize(cols, rows);
  }

  /** The client processed output up to `offset`; beyond what it was sent, the claim is cut to that. */
  ack(offset: number): void {
    if (!this.client) return;
    this.claimedAck = Math.max(this.claimedAck, Math.min(offset, this.sent));
    this.settleAck();
  }

  /** Ends the session: the shell and every process of its terminal session go. An attached client hears the reason, if any. */
  end(reason?: EndReason): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.graceTimer);
    clearTimeout(this.flushTimer);
    if (!this.exitStatus) this.shell.kill();
    this.stream.dispose();
    if (reason) this.client?.ended(reason);
    this.client = undefined;
    this.onEnd(this);
  }

  /**
   * The reader's Stop: kills the process group in the foreground of the shell's
   * terminal, never the shell. Returns what was stopped, or undefined when the
   * shell itself was in the foreground (nothing to stop).
   */
  stopForeground(): string | undefined {
    if (this.ended || this.exitStatus) return undefined;
    return this.shell.stopForeground?.();
  }

  private onOutput(data: Buffer): void {
    this.stream.append(data);
    if (!this.client) {
      this.updateFlow();
      return;
    }
    if (this.skipAhead) {
      this.pump();
      this.updateFlow();
      return;
    }
    this.pendingOutput.push(data);
    this.pendingOutputBytes += data.byteLength;
    if (this.flushDue(this.pendingOutputBytes)) {
      this.flushOutput();
    } else if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => this.flushOutput(), this.limits.coalesceMs);
    }
    this.updateFlow();
  }

  private flushOutput(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pendingOutputBytes === 0) return;
    const chunks = this.pendingOutput;
    const bytes = this.pendingOutputBytes;
    this.pendingOutput = [];
    this.pendingOutputBytes = 0;
    // The pty reads go to the socket as they are: the frame is built with one copy.
    this.send(this.stream.end - bytes, chunks);
  }

  /**
   * A skip-ahead client's output: what the window of unacknowledged output
   * (the high watermark) has room for goes out, coalesced as for any client;
   * a backlog beyond SKIP_AHEAD_BYTES, or one the replay buffer no longer
   * holds, goes as a repaint. While the client is behind, the screen parses
   * every byte, so that repaint is exact.
   */
  private pump(coalesced = false): void {
    const client = this.client;
    if (!client || this.catchingUp) return;
    const backlog = this.stream.end - this.sent;
    if (backlog === 0 && !this.skipping) {
      this.stream.follow(false);
      return;
    }
    if (this.sent - this.acked >= this.limits.highWatermarkBytes) {
      this.stream.follow(true);
      return;
    }
    // Skipping: whether the flood goes on is judged over a whole interval after the last repaint, not at the client's quick ack of it.
    const wait = this.skipping ? this.lastRepaintAt + REPAINT_INTERVAL_MS - performance.now() : 0;
    if (wait > 0) {
      if (!this.flushTimer) {
        this.flushTimer = setTimeout(() => {
          this.flushTimer = undefined;
          this.pump();
        }, wait);
      }
      return;
    }
    // Past the replay buffer's start, the backlog can only go as a repaint.
    if (this.sent < this.stream.start || backlog > (this.skipping ? SKIP_RESUME_BYTES : SKIP_AHEAD_BYTES)) {
      void this.catchUp(client, "flood");
      return;
    }
    if (this.skipping) {
      // The flood is over: one last repaint, with the scrollback, and the client is live again.
      void this.catchUp(client, "settle");
      return;
    }
    if (coalesced || this.flushDue(backlog)) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
      this.send(this.sent, this.stream.since(this.sent)!);
    } else if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = undefined;
        this.pump(true);
      }, this.limits.coalesceMs);
    }
  }

  /** Output goes at once when a frame's worth has gathered, or when it answers input just typed (an echo); else after coalesceMs. */
  private flushDue(bytes: number): boolean {
    return bytes >= FLUSH_BYTES || performance.now() - this.lastInputAt < ECHO_WINDOW_MS;
  }

  /**
   * Skips a client that fell behind to the screen as it stands now: one
   * repaint, then the stream from there. The client acks the repaint's
   * offset once it has drawn it; until then the window counts everything
   * before it as outstanding, so repaints go no faster than the client
   * draws them (and no more often than REPAINT_INTERVAL_MS).
   */
  private async catchUp(client: SessionClient, kind: "flood" | "settle"): Promise<void> {
    this.catchingUp = true;
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const generation = this.attachGeneration;
    const wait = this.lastRepaintAt + REPAINT_INTERVAL_MS - performance.now();
    if (wait > 0 && !this.exitStatus) await new Promise((resolve) => setTimeout(resolve, wait));
    if (this.ended || generation !== this.attachGeneration || this.client !== client) return;
    // While the flood goes on, the screen alone (~5 KB, under a millisecond to make, cheap to draw at this rate); its scrollback comes with the settling one.
    const repaint = await this.stream.repaint(this.stream.end, kind === "flood" ? 0 : undefined);
    if (this.ended || generation !== this.attachGeneration || this.client !== client) return;
    this.catchingUp = false;
    if (!client.isOpen) return;
    this.lastRepaintAt = performance.now();
    this.skipping = kind === "flood";
    // Nothing before the repaint's offset will be sent any more. It counts as written only once the repaint has
    // left (a client that stops reading gets no more of them), and acknowledged once the client acks that offset.
    const skipped = Math.max(0, repaint.offset - this.sent);
    this.sent = Math.max(this.sent, repaint.offset);
    client.repaint(repaint.offset, Buffer.from(repaint.data, "utf8"), "skip", skipped, this.writtenUpTo(client, this.sent));
    if (this.exitStatus) {
      this.drainAndExit(client);
      return;
    }
    this.pump();
    this.updateFlow();
  }

  private updateFlow(): void {
    const unacked = this.stream.end - this.acked;
    const high = this.skipAhead ? RUN_AHEAD_BYTES : this.limits.highWatermarkBytes;
    const low = this.skipAhead ? RUN_AHEAD_BYTES / 2 : this.limits.lowWatermarkBytes;
    if (!this.paused && unacked > high && !this.exitStatus) {
      this.paused = true;
      this.shell.pause();
    } else if (this.paused && unacked < low) {
      this.paused = false;
      this.shell.resume();
    }
  }

  private onExit(code: number, signal: number | undefined): void {
    this.exitStatus = { code, signal };
    this.flushOutput();
    const client = this.client;
    // Without a client the exit is reported on the next attach; the session
    // ends once that client has it, or when the grace period runs out.
    if (!client) {
      if (!this.graceTimer) this.startGrace(this.limits.graceMs);
      return;
    }
    if (!this.skipAhead) this.finishExit(client);
    // catchUp finishes the exit when it is done.
    else if (!this.catchingUp) this.drainAndExit(client);
  }

  /** A skip-ahead client's last output before the exit: what the window held back goes now (nothing follows it), or a repaint. */
  private drainAndExit(client: SessionClient): void {
    const backlog = this.stream.end - this.sent;
    const chunks = this.stream.since(this.sent);
    if (backlog > SKIP_AHEAD_BYTES || !chunks || this.skipping) {
      void this.catchUp(client, "settle");
      return;
    }
    if (backlog > 0) this.send(this.sent, chunks);
    this.finishExit(client);
  }

  private finishExit(client: SessionClient): void {
    client.exit(this.exitStatus!.code, this.exitStatus!.signal);
    this.end();
  }

  private startGrace(graceMs: number): void {
    clearTimeout(this.graceTimer);
    this.graceTimer = setTimeout(() => this.end(), graceMs);
    this.graceTimer.unref();
  }
}
