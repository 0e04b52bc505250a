import { describe, expect, it } from "vitest";
import { FlowDefaults, FrameKind, decodeFrame, encodeFrame, parseClientMessage, parseServerMessage } from "./protocol.ts";

describe("wire protocol", () => {
  it("round-trips output frames, with offsets past 4 GiB", () => {
    const payload = new TextEncoder().encode("héllo ✓");
    for (const offset of [0, 1, 2 ** 32 - 1, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER]) {
      const decoded = decodeFrame(encodeFrame(FrameKind.output, offset, payload));
      expect(decoded).toEqual({ kind: FrameKind.output, offset, payload });
    }
  });

  it("builds a frame from chunks with the same bytes as from one payload, in the allocator's buffer", () => {
    const text = new TextEncoder().encode("héllo ✓, in three pieces");
    const chunks = [text.subarray(0, 2), text.subarray(2, 2), text.subarray(2, 9), text.subarray(9)];
    for (const offset of [0, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER]) {
      const expected = encodeFrame(FrameKind.output, offset, text);
      expect(encodeFrame(FrameKind.output, offset, chunks)).toEqual(expected);
      // An allocator that hands out dirty memory at an offset into a larger buffer (Buffer.allocUnsafe's pool).
      const dirty = (size: number) => new Uint8Array(size + 16).fill(0xee).subarray(7, 7 + size);
      const frame = encodeFrame(FrameKind.output, offset, chunks, dirty);
      expect(frame.byteOffset).toBe(7);
      expect(Array.from(frame)).toEqual(Array.from(expected));
      expect(decodeFrame(frame)).toEqual({ kind: FrameKind.output, offset, payload: text });
    }
    expect(decodeFrame(encodeFrame(FrameKind.repaint, 3, []))).toEqual({ kind: FrameKind.repaint, offset: 3, payload: new Uint8Array(0) });
  });

  it("keeps the low watermark above the ack interval, or a paused stream would never be acked back to life", () => {
    expect(FlowDefaults.lowWatermarkBytes).toBeGreaterThan(FlowDefaults.ackIntervalBytes);
    expect(FlowDefaults.highWatermarkBytes).toBeGreaterThan(FlowDefaults.lowWatermarkBytes);
  });

  it("refuses short and unknown binary frames", () => {
    expect(decodeFrame(new Uint8Array(3))).toBeUndefined();
    expect(decodeFrame(encodeFrame(9, 0, new Uint8Array(1)))).toBeUndefined();
  });

  it("parses control messages and names what is wrong with a bad one", () => {
    expect(parseClientMessage('{"type":"resize","cols":80,"rows":24}')).toEqual({ ok: true, message: { type: "resize", cols: 80, rows: 24 } });
    expect(parseClientMessage("{")).toEqual({ ok: false, error: "control frame is not JSON" });
    const bad = parseClientMessage('{"type":"hello","version":1,"lab":"a/b","cols":80,"rows":24}');
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.error).toMatch(/at lab/);
    expect(parseClientMessage('{"type":"hello","version":2,"lab":"x","cols":80,"rows":24}').ok).toBe(false);
    expect(parseClientMessage('{"type":"shell","command":"rm -rf /"}').ok).toBe(false);
    expect(parseServerMessage('{"type":"exit","code":3}')).toEqual({ ok: true, message: { type: "exit", code: 3 } });
  });
});
