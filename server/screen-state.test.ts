/**
 * The server's headless screen (screen-state.ts) when its session ends
 * while a repaint is being made: xterm still finishes the parse and calls
 * back after dispose, which must not throw (an uncaught exception in a
 * timer ends the server). CI met it once, in flow-and-resume.test.ts.
 */
import { describe, expect, it } from "vitest";
import { TerminalStream } from "./terminal-stream.ts";

describe("a repaint asked for as the session ends", () => {
  it("resolves, empty, instead of throwing from xterm's callback", async () => {
    const stream = new TerminalStream({ cols: 80, rows: 24 }, 64 * 1024);
    stream.follow(true);
    // Enough output that xterm parses it over several timer slices, so the callback comes after dispose.
    for (let i = 0; i < 40; i++) stream.append(Buffer.from(`\x1b[3${i % 8}m${"x".repeat(100)}\r\n`.repeat(500)));
    const repaint = stream.repaint(stream.end);
    stream.dispose();
    await expect(repaint).resolves.toMatchObject({ data: "" });
  });

  it("makes no terminal again for output that comes after the end", async () => {
    const stream = new TerminalStream({ cols: 80, rows: 24 }, 4096);
    stream.append(Buffer.from("before\r\n".repeat(2000)));
    stream.dispose();
    // A pty drains after its shell is killed: that output must not bring a headless terminal back to life.
    stream.follow(true);
    stream.append(Buffer.from("after\r\n".repeat(2000)));
    await expect(stream.repaint(stream.end)).resolves.toMatchObject({ data: "" });
  });
});
