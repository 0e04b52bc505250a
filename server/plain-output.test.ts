/**
 * Skipping plain text must not change what a repaint shows: the server's
 * screen (TerminalStream, following, as while a client is skipped ahead)
 * against a headless xterm that parsed every byte, on random output that
 * mixes plain floods with colours, cursor moves, the alternate screen,
 * titles and wide characters, cut into chunks at random places (inside
 * escape sequences too).
 */
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { TerminalStream } from "./terminal-stream.ts";
import { REPAINT_SCROLLBACK_LINES } from "./screen-state.ts";
import { isPlainText, mayEndInsideEscape, skippablePrefix } from "./plain-output.ts";

const require = createRequire(import.meta.url);
const { Terminal } = require("@xterm/headless") as typeof import("@xterm/headless");
const { SerializeAddon } = require("@xterm/addon-serialize") as typeof import("@xterm/addon-serialize");

/** A small deterministic generator, so a failure can be run again. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function plainLines(next: () => number, count: number, cols: number): string {
  let text = "";
  for (let i = 0; i < count; i++) {
    const length = Math.floor(next() * (next() < 0.1 ? cols * 3 : cols));
    let line = "";
    for (let j = 0; j < length; j++) line += next() < 0.03 ? "\t" : next() < 0.02 ? "é" : next() < 0.01 ? "漢" : String.fromCharCode(0x21 + Math.floor(next() * 90));
    if (next() < 0.05) line += "\b\bxy";
    if (next() < 0.05) line = `progress 10%\rprogress 99%\r${line}`;
    text += `${line}\r\n`;
  }
  return text;
}

const SEQUENCES = [
  "\x1b[31m", "\x1b[1;44m", "\x1b[0m", "\x1b[38;5;208m", "\x1b[2J\x1b[H", "\x1b[5;10H", "\x1b[3A", "\x1b[K",
  "\x1b[?1049h", "\x1b[?1049l", "\x1b]0;a title\x07", "\x1b]2;another\x1b\\", "\x1b(0lqk\x1b(B", "\x1b[?2004h", "\x1b[4h", "\x1b[4l", "\x1b[3;20r", "\x1b[r", "\x07",
];

function stream(seed: number, cols: number): Buffer {
  const next = random(seed);
  let text = "";
  for (let part = 0; part < 40; part++) {
    const roll = next();
    if (roll < 0.35) text += plainLines(next, Math.floor(next() * 3000), cols);
    else if (roll < 0.8) text += SEQUENCES[Math.floor(next() * SEQUENCES.length)]! + plainLines(next, Math.floor(next() * 40), cols);
    else text += plainLines(next, 1, cols).slice(0, -2);
  }
  return Buffer.from(text, "utf8");
}

async function reference(bytes: Buffer, cols: number, rows: number): Promise<string> {
  const terminal = new Terminal({ cols, rows, scrollback: REPAINT_SCROLLBACK_LINES, allowProposedApi: true });
  const serializer = new SerializeAddon();
  terminal.loadAddon(serializer);
  await new Promise<void>((resolve) => terminal.write(bytes, resolve));
  const screen = serializer.serialize({ scrollback: REPAINT_SCROLLBACK_LINES });
  terminal.dispose();
  return screen;
}

describe("plain output the server's screen may leave unparsed", () => {
  it("tells plain text from text with controls", () => {
    expect(isPlainText(Buffer.from("abc\r\n\tdé漢\b\r\n"))).toBe(true);
    for (const text of ["a\x1b[31mb", "a\x07b", "a\x0eb", "a\x7fb", "a\u009bb", "a\x0bb"]) expect(isPlainText(Buffer.from(text)), JSON.stringify(text)).toBe(false);
    expect(mayEndInsideEscape(Buffer.from("text\x1b[3"))).toBe(true);
    expect(mayEndInsideEscape(Buffer.from("text\x1b[31m more"))).toBe(false);
    expect(mayEndInsideEscape(Buffer.from("text\x1b]0;title"))).toBe(true);
    expect(mayEndInsideEscape(Buffer.from("text\x1b]0;title\x07"))).toBe(false);
    expect(mayEndInsideEscape(Buffer.from("text\x1b"))).toBe(true);
    expect(mayEndInsideEscape(Buffer.from("text\x1b("))).toBe(true);
    expect(mayEndInsideEscape(Buffer.from("plain text"))).toBe(false);
    // Two lines to keep: the cut falls after the third CR LF from the end, and only when what precedes it is plain.
    expect(skippablePrefix(Buffer.from("a\r\nb\r\nc\r\nd\r\ne"), 2)).toBe("a\r\nb\r\n".length);
    expect(skippablePrefix(Buffer.from("a\r\nb\r\n"), 2)).toBe(0);
    expect(skippablePrefix(Buffer.from("\x1b[31ma\r\nb\r\nc\r\nd\r\n"), 2)).toBe(0);
    expect(skippablePrefix(Buffer.from("a\nb\nc\nd\n"), 2)).toBe(0);
  });

  it("gives the same repaint as a terminal that parsed every byte", async () => {
    let unparsed = 0;
    for (const [seed, cols, rows] of [[1, 80, 24], [2, 120, 40], [3, 57, 30], [4, 200, 50], [5, 80, 24], [6, 100, 30]] as const) {
      const bytes = stream(seed, cols);
      const next = random(seed * 7919);
      const screen = new TerminalStream({ cols, rows }, 2 * 1024 * 1024);
      screen.follow(true);
      for (let at = 0; at < bytes.byteLength; ) {
        const size = Math.max(1, Math.floor(next() * (next() < 0.5 ? 200 : 70_000)));
        screen.append(bytes.subarray(at, at + size));
        at += size;
      }
      const repaint = await screen.repaint(screen.end);
      expect(repaint.offset).toBe(bytes.byteLength);
      expect(repaint.data, `seed ${seed}: ${bytes.byteLength} bytes`).toBe(await reference(bytes, cols, rows));
      unparsed += screen.unparsedBytes;
      screen.dispose();
    }
    // The streams did have plain floods long enough to be left unparsed: the comparison covered that path.
    expect(unparsed).toBeGreaterThan(500_000);
  }, 120_000);
});
