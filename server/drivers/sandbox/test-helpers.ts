/**
 * Helpers shared by the sandbox driver's tests (not a test file itself).
 */
import { readFileSync, statSync } from "node:fs";
import { sleep } from "../../environment/exec.ts";
import type { ShellProcess } from "../driver.ts";
import type { SandboxEnvironment } from "./sandbox.ts";

export async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * Prepended to every script that would be disastrous on the host (`kill -9 -1`,
 * `reboot -f`): it refuses to go on unless it runs in a user namespace with a
 * shifted map and outside the host's PID namespace.
 */
export function insideOnly(): string {
  const hostPidNs = statSync("/proc/self/ns/pid").ino;
  return `read -r _ host_base _ </proc/self/uid_map
[ "$host_base" != 0 ] || { echo "REFUSED: not in a sandbox user namespace"; exit 99; }
[ "$(stat -L -c %i /proc/self/ns/pid)" != ${hostPidNs} ] || { echo "REFUSED: in the host's PID namespace"; exit 98; }
`;
}

/** A terminal on a real pty (the environment's openShell), driven by writing lines and waiting for markers. */
export class PtyShell {
  output = "";
  readonly shell: ShellProcess;
  readonly exited: Promise<number>;
  private counter = 0;

  constructor(environment: SandboxEnvironment) {
    this.shell = environment.openShell({ cols: 200, rows: 50, maxPendingInputBytes: 1 << 20 });
    this.shell.onData((data) => (this.output += data.toString()));
    this.exited = new Promise((resolve) => this.shell.onExit((code) => resolve(code)));
  }

  /** Types a command line and resolves with what it printed (up to its end marker). */
  async run(line: string, timeoutMs = 15_000): Promise<string> {
    const marker = `__END_${++this.counter}__`;
    const from = this.output.length;
    // The marker is split in the typed line, so only its output (not the echo) matches.
    this.shell.write(Buffer.from(`${line}; echo "__END_""${this.counter}__ rc=$?"\r`));
    await until(() => this.output.indexOf(marker, from) >= 0, timeoutMs, `the shell to run: ${line}`);
    const text = this.output.slice(from, this.output.indexOf(marker, from) + marker.length + 8);
    return text.replace(/\x1b\][^\x07]*\x07/g, "").replace(/\r/g, "");
  }

  kill(): void {
    this.shell.kill();
  }
}

/** Sum of resident and proportional set sizes of processes, in KiB (smaps_rollup). */
export function memoryOf(pids: readonly number[]): { rssKiB: number; pssKiB: number } {
  let rssKiB = 0;
  let pssKiB = 0;
  for (const pid of pids) {
    try {
      const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
      rssKiB += Number(/^Rss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
      pssKiB += Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return { rssKiB, pssKiB };
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
