/**
 * scripts/walk-lab.ts against a real lab server (host namespaces, the real
 * labs): Part 1 walked to its end through the terminal protocol and the
 * check API with the page's own client, as the NixOS VM test does; and the
 * walker turned away, in words, by a foreign origin and by a missing token.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main, walkLab, Refused } from "../scripts/walk-lab.ts";
import { NamespacesDriver } from "./drivers/namespaces.ts";
import { loadLabs } from "./labs.ts";
import { startTestServer, TEST_TOKEN } from "./testing/lab-server.ts";

const LAB = "k8s-nix-way-part-1";
const labs = loadLabs("labs");
let server: Awaited<ReturnType<typeof startTestServer>>;
/** The walker's own copy of the labs, where the first solve does nothing (the server keeps the real lab and its checks). */
let idleLabs: string;

beforeAll(async () => {
  const driver = new NamespacesDriver({ dataDir: path.resolve(".lab-data/vitest-walk"), labs, maxScriptOutputBytes: 65536 });
  server = await startTestServer({}, { driver, catalog: labs });
  idleLabs = mkdtempSync(path.join(tmpdir(), "nwl-walk-labs-"));
  cpSync("labs", idleLabs, { recursive: true });
  writeFileSync(path.join(idleLabs, "k8s-nix-way/part-1/solves/nix-layout.sh"), "echo 'not making the k8s folder'\n");
});
afterAll(async () => {
  await server?.close();
  if (idleLabs) rmSync(idleLabs, { recursive: true, force: true });
});

describe("walk-lab", () => {
  it("walks Part 1 to its end: every solve typed into the reader's shell, every check passes", async () => {
    const lines: string[] = [];
    const result = await walkLab({ server: server.url, token: TEST_TOKEN, lab: LAB, log: (line) => lines.push(line) });
    const expected = labs.get(LAB)!.definition.checkpoints.map((checkpoint) => checkpoint.id);
    expect(expected).toHaveLength(13);
    expect(result.steps.map((step) => step.checkpoint), lines.join("\n")).toEqual(expected);
    expect(result.steps.every((step) => step.passed)).toBe(true);
    expect(result.passed).toBe(true);
    expect(lines.filter((line) => line.startsWith("PASS "))).toHaveLength(13);
    // A new environment: nothing was passed before the walk.
    expect(lines.some((line) => line.startsWith("note:"))).toBe(false);
  }, 600_000);

  it("stops at the first checkpoint whose check fails, with the check's words, and exits 1", async () => {
    const lines: string[] = [];
    const code = await main(["--server", server.url, "--token", TEST_TOKEN, "--labs-dir", idleLabs, "--reset"], (line) => lines.push(line));
    expect(code, lines.join("\n")).toBe(1);
    expect(lines.join("\n")).toMatch(/^FAIL nix-layout: /m);
    expect(lines.join("\n")).toMatch(/check said:\n\s+\S/);
    expect(lines.join("\n")).toMatch(/hint: Make ~\/k8s/);
    expect(lines.filter((line) => line.startsWith("PASS "))).toHaveLength(0);
  }, 120_000);

  it("refuses a --step-timeout that is not a number of seconds, in words", async () => {
    const lines: string[] = [];
    const code = await main(["--server", server.url, "--token", TEST_TOKEN, "--step-timeout", "abc"], (line) => lines.push(line));
    expect(code).toBe(2);
    expect(lines.join("\n")).toContain('--step-timeout takes a number of seconds greater than 0, not "abc"');
  });

  it("is refused a terminal with a foreign Origin, says so, and exits non-zero", async () => {
    const lines: string[] = [];
    const code = await main(["--server", server.url, "--token", TEST_TOKEN, "--origin", "http://evil.example:4791"], (line) => lines.push(line));
    expect(code).toBe(2);
    expect(lines.join("\n")).toMatch(/refused: the terminal was refused: the server refused the connection \(HTTP 403[^)]*\): pages from http:\/\/evil\.example:4791 may not use this lab server/);
    await expect(walkLab({ server: server.url, token: TEST_TOKEN, origin: "null", log: () => {} })).rejects.toBeInstanceOf(Refused);
  });

  it("is refused a terminal without a token (4401), says so, and exits non-zero", async () => {
    const lines: string[] = [];
    const saved = process.env.NWL_TOKEN;
    delete process.env.NWL_TOKEN;
    try {
      const code = await main(["--server", server.url], (line) => lines.push(line));
      expect(code).toBe(2);
    } finally {
      if (saved !== undefined) process.env.NWL_TOKEN = saved;
    }
    expect(lines.join("\n")).toMatch(/^refused: the terminal was refused: this lab server needs your access link/m);
    // A wrong one too.
    await expect(walkLab({ server: server.url, token: `${TEST_TOKEN}x`, log: () => {} })).rejects.toThrow(/refused/);
  });

  it("takes the reader's link for the server and its token, and the server's own page's Origin", async () => {
    const link = new URL(server.url);
    link.hash = `token=${TEST_TOKEN}`;
    // The walker's idle copy of the lab fails at its first check: past the door and through the check API, which is what this shows.
    const lines: string[] = [];
    const code = await main(["--server", link.toString(), "--labs-dir", idleLabs, "--reset", "--origin", link.origin], (line) => lines.push(line));
    expect(code, lines.join("\n")).toBe(1);
    expect(lines[0]).toMatch(/terminal open in environment \S+; 13 checkpoints/);
    expect(lines.join("\n")).toMatch(/^FAIL nix-layout: [\s\S]*check said:/m);
  }, 120_000);
});
