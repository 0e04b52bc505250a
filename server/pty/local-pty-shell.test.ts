/**
 * node-pty's quirks, held in LocalPtyShell: a real pty and a real shell.
 */
import { describe, expect, it } from "vitest";
import { LocalPtyShell } from "./local-pty-shell.ts";

describe("LocalPtyShell", () => {
  it("takes a resize after the pty's fd is gone (the shell hung up, its exit not reported yet) without throwing", async () => {
    const shell = new LocalPtyShell({ file: "/bin/sh", args: ["-c", "sleep 5"], env: { PATH: "/usr/bin:/bin" }, cwd: "/" }, { cols: 80, rows: 24 }, { maxPendingInputBytes: 1024 });
    const exited = new Promise<void>((resolve) => shell.onExit(() => resolve()));
    // What node-pty meets on a hang-up, before it reports the exit: its fd is closed. (Closing it here
    // would pull it from under node-pty's reader, so the ioctl gets a number that names no open file.)
    const pty = (shell as unknown as { pty: { _fd: number } }).pty;
    const fd = pty._fd;
    // The number is what node-pty's resize hands to ioctl: if it were renamed, the swap below would test nothing.
    expect(fd).toBeTypeOf("number");
    pty._fd = 1_000_000;
    expect(() => shell.resize({ cols: 100, rows: 30 })).not.toThrow();
    pty._fd = fd;
    shell.kill();
    await exited;
  });
});
