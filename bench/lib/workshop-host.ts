/**
 * The host as /proc tells it, for `bench/workshop.ts`: CPU (/proc/stat),
 * memory (/proc/meminfo), load and process counts (/proc/loadavg, /proc),
 * and the PSS of a set of processes. A sampler reads them once a second
 * (bounded in count) while a phase runs.
 */
import { readFileSync, readdirSync } from "node:fs";
import os from "node:os";

export interface CpuTimes {
  /** Jiffies spent in any state, all cores together. */
  total: number;
  /** Jiffies idle or waiting for I/O. */
  idle: number;
}

export function cpuTimes(): CpuTimes {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is inside user already)
  const total = fields.slice(0, 8).reduce((sum, value) => sum + (value || 0), 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { total, idle };
}

/** Busy share of all cores between two readings, 0..1. */
export function busyShare(before: CpuTimes, after: CpuTimes): number {
  const total = after.total - before.total;
  return total > 0 ? 1 - (after.idle - before.idle) / total : 0;
}

export interface MemInfo {
  totalBytes: number;
  availableBytes: number;
}

export function memInfo(): MemInfo {
  const text = readFileSync("/proc/meminfo", "utf8");
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0) * 1024;
  return { totalBytes: kb("MemTotal"), availableBytes: kb("MemAvailable") };
}

export interface Load {
  one: number;
  /** Runnable scheduling entities right now. */
  running: number;
  /** Scheduling entities (threads) on the host; each takes a pid. */
  threads: number;
}

export function load(): Load {
  const [one, , , entities] = readFileSync("/proc/loadavg", "utf8").trim().split(/\s+/);
  const [running, threads] = (entities ?? "0/0").split("/").map(Number);
  return { one: Number(one), running: running ?? 0, threads: threads ?? 0 };
}

export function processCount(): number {
  return readdirSync("/proc").filter((entry) => /^\d+$/.test(entry)).length;
}

export interface PidLimits {
  pidMax: number;
  threadsMax: number;
  /** pids.max of this process's cgroup (v1 or v2), when there is one. */
  cgroupPidsMax: number | undefined;
}

export function pidLimits(): PidLimits {
  const number = (file: string) => {
    try {
      const text = readFileSync(file, "utf8").trim();
      return text === "max" ? undefined : Number(text);
    } catch {
      return undefined;
    }
  };
  let cgroupPidsMax: number | undefined;
  try {
    for (const line of readFileSync("/proc/self/cgroup", "utf8").split("\n")) {
      const [, controllers, where] = line.split(":");
      if (controllers === "pids") cgroupPidsMax = number(`/sys/fs/cgroup/pids${where}/pids.max`);
      else if (controllers === "" && cgroupPidsMax === undefined) cgroupPidsMax = number(`/sys/fs/cgroup${where}/pids.max`);
    }
  } catch {
    // no cgroups
  }
  return { pidMax: number("/proc/sys/kernel/pid_max") ?? 32768, threadsMax: number("/proc/sys/kernel/threads-max") ?? 0, cgroupPidsMax };
}

/** CPU time of one process (user + system, ms), or undefined when it is gone. */
export function processCpuMs(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) * (1000 / 100);
  } catch {
    return undefined;
  }
}

/** The start time of a process (clock ticks after boot): with its pid, it names one process even when pids are reused. */
export function startTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
  } catch {
    return undefined;
  }
}

/** PSS of these processes together (shared pages split between their users), bytes. */
export function pssOf(pids: Iterable<number>): { bytes: number; processes: number } {
  let bytes = 0;
  let processes = 0;
  for (const pid of pids) {
    try {
      bytes += Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? 0) * 1024;
      processes++;
    } catch {
      // exited meanwhile, or a kernel thread
    }
  }
  return { bytes, processes };
}

/** Threads of these processes together. */
export function threadsOf(pids: Iterable<number>): number {
  let threads = 0;
  for (const pid of pids) {
    try {
      threads += Number(/^Threads:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    } catch {
      // exited meanwhile
    }
  }
  return threads;
}

export interface HostSample {
  /** ms since the sampler started */
  at: number;
  /** Busy share of all cores since the previous sample, 0..1 */
  busy: number;
  availableBytes: number;
  load1: number;
  running: number;
  threads: number;
  processes: number;
  /** The lab server's own CPU since the previous sample, in cores (1 = one core busy). */
  serverCores: number;
  /** This bench process (every simulated reader's client), in cores. */
  benchCores: number;
}

export interface HostSummary {
  seconds: number;
  samples: number;
  /** Average busy share of all cores over the phase (first to last reading of /proc/stat). */
  busyAvg: number;
  /** Highest one-second busy share. */
  busyMax: number;
  serverCoresAvg: number;
  serverCoresMax: number;
  benchCoresAvg: number;
  load1Max: number;
  runningMax: number;
  threadsMax: number;
  threadsStart: number;
  processesMax: number;
  availableMinBytes: number;
  availableStartBytes: number;
}

/** Reads the host once a second while a phase runs; at most `maxSamples` readings. */
export class HostSampler {
  readonly samples: HostSample[] = [];
  private readonly serverPid: number;
  private readonly started = performance.now();
  private readonly firstCpu = cpuTimes();
  private lastCpu = this.firstCpu;
  private lastServerMs: number;
  private lastBench = process.cpuUsage();
  private lastAt = performance.now();
  private readonly availableStart = memInfo().availableBytes;
  private readonly threadsStart = load().threads;
  private readonly timer: NodeJS.Timeout;
  private readonly onSample: ((sample: HostSample) => void) | undefined;

  constructor(serverPid: number, options: { intervalMs?: number; maxSamples?: number; onSample?: (sample: HostSample) => void } = {}) {
    this.serverPid = serverPid;
    this.lastServerMs = processCpuMs(serverPid) ?? 0;
    this.onSample = options.onSample;
    const maxSamples = options.maxSamples ?? 7200;
    this.timer = setInterval(() => {
      if (this.samples.length >= maxSamples) return;
      this.sample();
    }, options.intervalMs ?? 1000);
  }

  private sample(): void {
    const now = performance.now();
    const elapsed = Math.max(1, now - this.lastAt);
    const cpu = cpuTimes();
    const serverMs = processCpuMs(this.serverPid) ?? this.lastServerMs;
    const bench = process.cpuUsage();
    const l = load();
    const sample: HostSample = {
      at: Math.round(now - this.started),
      busy: busyShare(this.lastCpu, cpu),
      availableBytes: memInfo().availableBytes,
      load1: l.one,
      running: l.running,
      threads: l.threads,
      processes: processCount(),
      serverCores: (serverMs - this.lastServerMs) / elapsed,
      benchCores: (bench.user + bench.system - this.lastBench.user - this.lastBench.system) / 1000 / elapsed,
    };
    this.samples.push(sample);
    this.lastCpu = cpu;
    this.lastServerMs = serverMs;
    this.lastBench = bench;
    this.lastAt = now;
    this.onSample?.(sample);
  }

  stop(): HostSummary {
    clearInterval(this.timer);
    this.sample();
    const s = this.samples;
    const max = (pick: (sample: HostSample) => number) => Math.max(...s.map(pick));
    const avg = (pick: (sample: HostSample) => number) => s.reduce((sum, sample) => sum + pick(sample), 0) / Math.max(1, s.length);
    return {
      seconds: (performance.now() - this.started) / 1000,
      samples: s.length,
      busyAvg: busyShare(this.firstCpu, this.lastCpu),
      busyMax: max((x) => x.busy),
      serverCoresAvg: avg((x) => x.serverCores),
      serverCoresMax: max((x) => x.serverCores),
      benchCoresAvg: avg((x) => x.benchCores),
      load1Max: max((x) => x.load1),
      runningMax: max((x) => x.running),
      threadsMax: max((x) => x.threads),
      threadsStart: this.threadsStart,
      processesMax: max((x) => x.processes),
      availableMinBytes: Math.min(this.availableStart, ...s.map((x) => x.availableBytes)),
      availableStartBytes: this.availableStart,
    };
  }
}

/** Busy share of the host over a short quiet window: other work on this machine, before a phase. */
export async function backgroundBusy(ms: number): Promise<number> {
  const before = cpuTimes();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return busyShare(before, cpuTimes());
}

export const CORES = os.cpus().length;
