/**
 * The server and Part 1's lab:test (scripts/test.sh runs every lab) run from a PATH that holds the tools under
 * a non-FHS prefix, with /usr/lib/cni and /bin/busybox hidden (a mount
 * namespace of the script's own): nothing is found at a hard-coded path.
 * See scripts/non-fhs-check.sh for what it builds and runs.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "..");

describe("a host whose tools are not where Debian keeps them", () => {
  it("doctor says OK, the server starts and answers /healthz ok, and lab:test passes (host-namespaces)", () => {
    const run = spawnSync("bash", ["scripts/non-fhs-check.sh"], { cwd: ROOT, encoding: "utf8", timeout: 280_000 });
    const output = `${run.stdout}\n${run.stderr}`;
    // What went wrong first, when something did: every line but the passing ones.
    expect(run.status, output.split("\n").filter((line) => !/^ {2}ok /.test(line)).join("\n").slice(-4000)).toBe(0);
    expect(output).toContain("/usr/lib/cni is empty and /bin/busybox is an empty file in this mount namespace");
    expect(output).toMatch(/ok {7}registry {2,}\/tmp\/nwl-non-fhs-\w+\/bin\/registry /);
    expect(output).toMatch(/ok {7}busybox {2,}\/tmp\/nwl-non-fhs-\w+\/bin\/busybox, static/);
    expect(output).toMatch(/ok {7}CNI plugins {2,}\/tmp\/nwl-non-fhs-\w+\/lib\/cni \(loopback\)/);
    expect(output).toContain('healthz: 200 {"status":"ok"');
    expect(output).toMatch(/ok {3}cni-fixed +before failed .* after passed/);
    // Only Part 1 here: scripts/test.sh runs every lab in host-namespaces.
    expect(output).toContain("all 1 lab(s) passed");
    expect(output).toContain("non-fhs: OK");
  }, 300_000);
});
