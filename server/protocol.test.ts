import { describe, expect, it } from "vitest";
import { FrameKind, decodeFrame, encodeFrame, parseClientMessage, parseServerMessage } from "./protocol.ts";

describe("wire protocol", () => {
  it("round-trips output frames, with offsets past 4 GiB", () => {
    const payload = new TextEncoder().encode("héllo ✓");
    for (const offset of [0, 1, 2 ** 32 - 1, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER]) {
      const decoded = decodeFrame(encodeFrame(FrameKind.output, offset, payload));
      expect(decoded).toEqual({ kind: FrameKind.output, offset, payload });
    }
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
