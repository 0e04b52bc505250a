/** The key bar's Ctrl: which byte a Ctrl+key sends, as a terminal sends it. */
import { describe, expect, it } from "vitest";
import { controlCharacter } from "./key-bar.ts";

describe("controlCharacter", () => {
  it("maps letters either case to ^A–^Z, and @[\\]^_ ? and space as terminals do", () => {
    expect(controlCharacter("c")).toBe("\x03");
    expect(controlCharacter("C")).toBe("\x03");
    expect(controlCharacter("a")).toBe("\x01");
    expect(controlCharacter("z")).toBe("\x1a");
    expect(controlCharacter("d")).toBe("\x04");
    expect(controlCharacter("\\")).toBe("\x1c");
    expect(controlCharacter("[")).toBe("\x1b");
    expect(controlCharacter("_")).toBe("\x1f");
    expect(controlCharacter("@")).toBe("\x00");
    expect(controlCharacter(" ")).toBe("\x00");
    expect(controlCharacter("?")).toBe("\x7f");
  });

  it("has nothing for keys without a control code", () => {
    for (const key of ["1", "=", "Enter", "ArrowUp", "é", ""]) expect(controlCharacter(key)).toBeUndefined();
  });

  it("maps only ASCII letters: ß (uppercased SS) is not ^S, nor ı or ſ letters", () => {
    for (const key of ["ß", "ı", "ſ", "ﬀ"]) expect(controlCharacter(key)).toBeUndefined();
  });
});
