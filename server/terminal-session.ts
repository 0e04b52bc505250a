/**
 * One terminal session: a pty running a login shell in a lab environment.
 * It outlives its WebSocket: output goes into a numbered stream kept in a
 * replay buffer, so a client that reconnects resumes where it left off.
 * Flow control pauses the pty while too much output is unacknowledged.
 */
import { writeSync } from "node:fs";
import * as pty from "node-pty";
import type { Limits } from "./config.ts";
import type { LabEnvironment } from "./drivers/driver.ts";
import type { SerialQueue } from "./serial-queue.ts";
import { killSessionProcesses } from "./processes.ts";
import { ReplayBuffer } from "./replay-buffer.ts";
import { ScreenState } from "./screen-state.ts";

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
  repaint(offset: number, data: Buffer): void;
  exit(code: number, signal: number | undefined): void;
  /** Another client took the session over. */
  replaced(): void;
}

export interface AttachResult {
  /** Offset the stream continues at for this client. */
  offset: number;
  replay: "new" | "exact" | "repaint";
}

export type InputResult = { ok: true } | { ok: false; message: string };

/**
 * Output bigger than this is sent at once instead of waiting to coalesce.
 * Large, so a flood goes out in few frames (each is a send here and a
 * wake-up of the client); half the default high watermark, so a frame in
 * flight and the next one gathering fit under it while the ack comes back.
 */
const FLUSH_BYTES = 256 * 1024;
/** Output within this long after input is flushed at once, so echo stays fast. */
const ECHO_WINDOW_MS = 10;
/** After exit, how long a paused stream may take to drain before it is cut. */
const EXIT_DRAIN_MS = 2000;
const INPUT_RETRY_MS = 5;

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
  private readonly pty: pty.IPty;
  private readonly replay: ReplayBuffer;
  private readonly screen: ScreenState;
  private readonly repaints: SerialQueue | undefined;
  private client: SessionClient | undefined;
  /**
   * Flow control, as stream offsets: `sent` is what went to the client's
   * socket, `written` what the socket has handed to the network, `claimedAck`
   * what the client says it processed (never beyond `sent`). Only
   * min(claimedAck, written) counts as acknowledged: invariant
   * acked ≤ written ≤ sent ≤ replay.end.
   */
  private sent = 0;
  private written = 0;
  private claimedAck = 0;
  private acked = 0;
  private paused = false;
  private pendingOutput: Buffer[] = [];
  private pendingOutputBytes = 0;
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private lastInputAt = 0;
  private inputQueue: Buffer[] = [];
  private inputQueueBytes = 0;
  private inputTimer: ReturnType<typeof setTimeout> | undefined;
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
    this.screen = new ScreenState(options.cols, options.rows);
    this.replay = new ReplayBuffer(this.limits.replayBufferBytes, (evicted) => this.screen.feed(evicted));
    const shell = this.environment.shellCommand();
    this.pty = pty.spawn(shell.file, shell.args, {
      name: "xterm-256color",
      cols: options.cols,
      rows: options.rows,
      cwd: shell.cwd,
      env: shell.env,
      // Buffers, not strings: bytes stay exact and counts are bytes.
      encoding: null,
    });
    this.pid = this.pty.pid;
    this.guardExitTail();
    this.pty.onData((data) => this.onOutput(data as unknown as Buffer));
    this.pty.onExit(({ exitCode, signal }) => this.onExit(exitCode, signal || undefined));
  }

  get attached(): boolean {
    return this.client !== undefined;
  }

  get outputOffset(): number {
    return this.replay.end;
  }

  /**
   * Attaches a client (replacing any other: the newest tab wins). `announce`
   * is called before any frame goes out, then the client gets what it lacks:
   * the stream from `offset` when the buffer still holds it, else a repaint
   * of the screen followed by the whole buffer.
   */
  async attach(client: SessionClient, offset: number | undefined, announce: (result: AttachResult) => void): Promise<void> {
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
    if (!this.exitStatus) this.pty.pause();
    let from = offset ?? 0;
    let replay: AttachResult["replay"] = offset === undefined ? "new" : "exact";
    let screen: string | undefined;
    if (!this.replay.since(from)) {
      replay = "repaint";
      from = this.replay.start;
      screen = this.repaints ? await this.repaints.run(() => this.screen.serialize()) : await this.screen.serialize();
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
    this.sent = this.written = this.claimedAck = this.acked = from;
    if (screen !== undefined) client.repaint(from, Buffer.from(screen, "utf8"));
    if (this.replay.end > from) this.send(from, this.replay.since(from)!);
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
    this.pty.resume();
    this.updateFlow();
  }

  /** Hands output to the client, and counts it written only when its socket says so. */
  private send(offset: number, chunks: readonly Buffer[]): void {
    const client = this.client;
    if (!client) return;
    let end = offset;
    for (const chunk of chunks) end += chunk.byteLength;
    this.sent = Math.max(this.sent, end);
    const generation = this.attachGeneration;
    client.output(offset, chunks, () => {
      if (generation !== this.attachGeneration || this.client !== client || end <= this.written) return;
      this.written = end;
      this.settleAck();
    });
  }

  private settleAck(): void {
    const acked = Math.min(this.claimedAck, this.written);
    if (acked <= this.acked) return;
    this.acked = acked;
    this.updateFlow();
  }

  /** The client went away without ending the session: keep it for the grace period. */
  detach(client: SessionClient, graceMs = this.limits.graceMs): void {
    if (this.client !== client) return;
    this.flushOutput();
    this.client = undefined;
    this.startGrace(graceMs);
  }

  write(input: Buffer): InputResult {
    if (this.ended || this.exitStatus) return { ok: false, message: "the shell has exited" };
    if (this.inputQueueBytes + input.byteLength > this.limits.maxPendingInputBytes) {
      return {
        ok: false,
        message: `input refused: ${this.inputQueueBytes} bytes are still waiting for the program to read them (limit ${this.limits.maxPendingInputBytes})`,
      };
    }
    this.lastInputAt = performance.now();
    this.inputQueue.push(input);
    this.inputQueueBytes += input.byteLength;
    if (!this.inputTimer) this.drainInput();
    return { ok: true };
  }

  resize(cols: number, rows: number): void {
    if (this.ended || this.exitStatus) return;
    this.pty.resize(cols, rows);
    this.screen.resize(cols, rows);
  }

  /** The client processed output up to `offset`; beyond what it was sent, the claim is cut to that. */
  ack(offset: number): void {
    if (!this.client) return;
    this.claimedAck = Math.max(this.claimedAck, Math.min(offset, this.sent));
    this.settleAck();
  }

  /** Ends the session: the shell and every process of its terminal session go. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.graceTimer);
    clearTimeout(this.flushTimer);
    clearTimeout(this.inputTimer);
    if (!this.exitStatus) {
      killSessionProcesses(this.pid);
      try {
        this.pty.kill("SIGHUP");
      } catch {
        // already gone
      }
    }
    this.screen.dispose();
    this.client = undefined;
    this.onEnd(this);
  }

  private onOutput(data: Buffer): void {
    this.replay.append(data);
    if (!this.client) {
      this.updateFlow();
      return;
    }
    this.pendingOutput.push(data);
    this.pendingOutputBytes += data.byteLength;
    if (this.pendingOutputBytes >= FLUSH_BYTES || performance.now() - this.lastInputAt < ECHO_WINDOW_MS) {
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
    this.send(this.replay.end - bytes, chunks);
  }

  private updateFlow(): void {
    const unacked = this.replay.end - this.acked;
    if (!this.paused && unacked > this.limits.highWatermarkBytes && !this.exitStatus) {
      this.paused = true;
      this.pty.pause();
    } else if (this.paused && unacked < this.limits.lowWatermarkBytes) {
      this.paused = false;
      this.pty.resume();
    }
  }

  private onExit(code: number, signal: number | undefined): void {
    this.exitStatus = { code, signal };
    this.flushOutput();
    this.client?.exit(code, signal);
    // Without a client the exit is reported on the next attach; the session
    // ends once that client has it, or when the grace period runs out.
    if (this.client) this.end();
    else if (!this.graceTimer) this.startGrace(this.limits.graceMs);
  }

  private startGrace(graceMs: number): void {
    clearTimeout(this.graceTimer);
    this.graceTimer = setTimeout(() => this.end(), graceMs);
    this.graceTimer.unref();
  }

  /**
   * node-pty destroys the pty's read stream 200 ms after the child exits
   * (node-pty#72, #726); if flow control had paused it, output still in the
   * kernel would be lost. Resume and let the stream drain to its end first.
   */
  private guardExitTail(): void {
    const socket = (this.pty as unknown as { _socket?: { destroy: (...args: unknown[]) => unknown; once: (event: string, listener: () => void) => void } })._socket;
    if (!socket) return;
    const destroy = socket.destroy.bind(socket);
    let draining = false;
    socket.destroy = (...args: unknown[]) => {
      if (!this.paused || draining) return destroy(...args);
      draining = true;
      this.paused = false;
      this.pty.resume();
      const cut = setTimeout(() => destroy(...args), EXIT_DRAIN_MS);
      socket.once("close", () => clearTimeout(cut));
      return socket;
    };
  }

  /**
   * Writes queued input without blocking the event loop: a program that stops
   * reading fills the pty, and a bounded queue with a timer replaces
   * node-pty's setImmediate retry loop that spins the whole process (node-pty#956).
   */
  private drainInput(): void {
    this.inputTimer = undefined;
    const fd = (this.pty as unknown as { fd: number }).fd;
    while (this.inputQueue.length > 0 && !this.ended) {
      const chunk = this.inputQueue[0]!;
      let written: number;
      try {
        written = writeSync(fd, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "EAGAIN") {
          this.inputTimer = setTimeout(() => this.drainInput(), INPUT_RETRY_MS);
          return;
        }
        this.inputQueue = [];
        this.inputQueueBytes = 0;
        return;
      }
      this.inputQueueBytes -= written;
      if (written === chunk.byteLength) this.inputQueue.shift();
      else this.inputQueue[0] = chunk.subarray(written);
    }
  }
}
