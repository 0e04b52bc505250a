/**
 * node-pty, and every workaround it needs, in one class behind ShellProcess
 * (as VS Code's pty host keeps its quirks in one place). Local drivers (host,
 * host-namespaces, sandbox) open their shells through it.
 */
import { writeSync } from "node:fs";
import * as pty from "node-pty";
import type { InputResult, ShellCommand, ShellProcess, TerminalSize } from "../drivers/driver.ts";
import { foregroundJob, killProcessGroup, killSessionProcesses } from "../processes.ts";

/** After exit, how long a paused stream may take to drain before it is cut. */
const EXIT_DRAIN_MS = 2000;
/** How soon a write the pty refused (EAGAIN: the program is not reading) is tried again. */
const INPUT_RETRY_MS = 5;

export interface LocalPtyOptions {
  /** Input written but not yet taken by the program, beyond which writes are refused. */
  maxPendingInputBytes: number;
}

export class LocalPtyShell implements ShellProcess {
  readonly pid: number;
  private readonly pty: pty.IPty;
  private readonly maxPendingInputBytes: number;
  private paused = false;
  private exited = false;
  private killed = false;
  private inputQueue: Buffer[] = [];
  private inputQueueBytes = 0;
  private inputTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(command: ShellCommand, size: TerminalSize, options: LocalPtyOptions) {
    this.maxPendingInputBytes = options.maxPendingInputBytes;
    this.pty = pty.spawn(command.file, command.args, {
      name: "xterm-256color",
      cols: size.cols,
      rows: size.rows,
      cwd: command.cwd,
      env: command.env,
      // Buffers, not strings: bytes stay exact and counts are bytes.
      encoding: null,
    });
    this.pid = this.pty.pid;
    this.guardExitTail();
    this.pty.onExit(() => {
      this.exited = true;
      clearTimeout(this.inputTimer);
      // Its jobs leave with the shell (`sleep 600 & exit`): now, while the session id can only be theirs.
      killSessionProcesses(this.pid);
    });
  }

  onData(listener: (data: Buffer) => void): void {
    this.pty.onData((data) => listener(data as unknown as Buffer));
  }

  onExit(listener: (code: number, signal: number | undefined) => void): void {
    this.pty.onExit(({ exitCode, signal }) => listener(exitCode, signal || undefined));
  }

  write(data: Buffer): InputResult {
    if (this.exited || this.killed) return { ok: false, message: "the shell has exited" };
    if (this.inputQueueBytes + data.byteLength > this.maxPendingInputBytes) {
      return {
        ok: false,
        message: `input refused: ${this.inputQueueBytes} bytes are still waiting for the program to read them (limit ${this.maxPendingInputBytes})`,
      };
    }
    this.inputQueue.push(data);
    this.inputQueueBytes += data.byteLength;
    if (!this.inputTimer) this.drainInput();
    return { ok: true };
  }

  resize(size: TerminalSize): void {
    if (this.exited || this.killed) return;
    try {
      this.pty.resize(size.cols, size.rows);
    } catch (error) {
      // node-pty closes the pty's fd when the shell's side hangs up, before it reports the exit:
      // a resize in between fails with EBADF (or EIO). The shell is gone; its exit follows.
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      if (!/EBADF|EIO/.test(String(code))) throw error;
    }
  }

  pause(): void {
    if (this.paused || this.exited) return;
    this.paused = true;
    this.pty.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.pty.resume();
  }

  stopForeground(): string | undefined {
    if (this.exited || this.killed) return undefined;
    const job = foregroundJob(this.pid);
    if (!job) return undefined;
    return killProcessGroup(job) ? job.command : undefined;
  }

  kill(): void {
    if (this.killed) return;
    this.killed = true;
    clearTimeout(this.inputTimer);
    if (this.exited) return;
    // The shell's jobs and what they started in the background go too, not only the shell.
    killSessionProcesses(this.pid);
    try {
      this.pty.kill("SIGHUP");
    } catch {
      // already gone
    }
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
      this.resume();
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
    while (this.inputQueue.length > 0 && !this.killed && !this.exited) {
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
