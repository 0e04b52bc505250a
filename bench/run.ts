/**
 * `npm run bench`: this lab server against WeTTY 3.2, a naive ws + node-pty
 * bridge and node-pty alone, side by side in one run on this machine.
 * Writes src/content/docs/benchmarks.md and bench/results.json.
 *
 *   node bench/run.ts [--quick] [--bytes N]
 *
 * --quick (small sizes), --only METRIC,... and --rounds N are for working on
 * the bench, --server PATH benches another copy of server/main.ts (a variant
 * under test); their results go to bench/results.quick.json only.
 *
 * The reader view (metric "reader", bench/lib/browser.ts) opens the site's
 * Part 1 page in Chromium: the site is built for it into the bench's
 * temporary folder, or taken from --site DIR (an `astro build --outDir DIR`).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { connectToPrompt, echoLatency, idleSessions, percentiles, throughput, type EchoOptions, type EchoResult, type Peer } from "./lib/metrics.ts";
import { LIFTED_LIMITS, cleanEnv, killStarted, serverCpu, sleep, startServer, startWetty, type ServerProcess } from "./lib/procs.ts";
import { writeBenchmarksPage, type PeerResult, type Report, type Target } from "./lib/report.ts";
import { ourPage, readerView, wettyPage, type ReaderModeResult, type ReaderOptions } from "./lib/browser.ts";
import { LocalPtyTerm, NaiveTerm, OurTerm, WettyTerm, operatorHealth } from "./lib/term.ts";

const root = path.resolve(import.meta.dirname, "..");
const peersDir = path.join(root, "bench", ".peers");
const { values: flags } = parseArgs({
  options: { quick: { type: "boolean" }, bytes: { type: "string" }, rounds: { type: "string" }, only: { type: "string" }, server: { type: "string" }, site: { type: "string" } },
});
const quick = flags.quick ?? false;
/** --only connect,echo1,echo50,throughput,idle,reader runs a subset (working on the bench); results go to results.quick.json. */
const only = flags.only ? new Set(flags.only.split(",")) : undefined;
const runs = (metric: string) => !only || only.has(metric);
const serverMain = flags.server ? path.resolve(flags.server) : "server/main.ts";
const partial = quick || only !== undefined || flags.server !== undefined;

const settings = {
  bytes: Number(flags.bytes ?? (quick ? 10_000_000 : 50_000_000)),
  throughputRounds: Number(flags.rounds ?? (quick ? 1 : 5)),
  connectRuns: quick ? 3 : 10,
  echo1: { sessions: 1, keysPerSession: quick ? 50 : 300, gapMs: [5, 15], warmupKeys: 5 } satisfies EchoOptions,
  echo1Rounds: quick ? 1 : 2,
  echo50: { sessions: quick ? 10 : 50, keysPerSession: quick ? 20 : 100, gapMs: [50, 150], warmupKeys: 3 } satisfies EchoOptions,
  echo50Rounds: quick ? 1 : 2,
  idleMax: quick ? 50 : 500,
  idleOpenDeadlineMs: 150_000,
  reader: {
    keys: quick ? 30 : 60,
    warmupKeys: 5,
    gapMs: [20, 60],
    floodBytes: quick ? 3_000_000 : 15_000_000,
    floodRuns: quick ? 1 : 2,
    rounds: quick ? 1 : 2,
  } satisfies ReaderOptions,
};

/** WeTTY and its client live outside the project's dependencies, installed here on first use. */
function ensureWetty(): void {
  if (existsSync(path.join(peersDir, "node_modules", "wetty", "package.json")) && existsSync(path.join(peersDir, "node_modules", "socket.io-client"))) return;
  mkdirSync(peersDir, { recursive: true });
  // node-pty needs its install script to build for this platform.
  writeFileSync(path.join(peersDir, "package.json"), JSON.stringify({ private: true, allowScripts: { "node-pty": true } }, null, 2));
  console.log("installing WeTTY 3.2 into bench/.peers (once)…");
  execFileSync("npm", ["install", "--prefix", peersDir, "--no-audit", "--no-fund", "--no-save", "wetty@3.2", "socket.io-client@4"], { stdio: "inherit", timeout: 300_000 });
}

/** Each round starts with the next peer, so no peer always runs first (or right after the same one). */
function rotated<T>(items: T[], round: number): T[] {
  const start = round % items.length;
  return [...items.slice(start), ...items.slice(0, start)];
}

function log(message: string): void {
  console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`);
}

const loadBefore = os.loadavg();

async function main(): Promise<void> {
  const began = performance.now();
  ensureWetty();
  const workDir = mkdtempSync(path.join(os.tmpdir(), "nwl-bench-"));
  // Every shell starts from an empty home: the machine's own ~/.bashrc (pyenv here) would cost
  // each shell half a second of CPU and measure that instead of the transports.
  const home = path.join(workDir, "home");
  mkdirSync(home);
  const env = { ...cleanEnv(), HOME: home };
  const servers: ServerProcess[] = [];
  const cleanup = () => {
    killStarted();
    rmSync(workDir, { recursive: true, force: true });
  };
  process.once("SIGINT", () => {
    cleanup();
    process.exit(130);
  });
  try {
    const dataDir = path.join(workDir, "lab-data");
    const shellDir = path.join(workDir, "shell");
    mkdirSync(shellDir);
    const configFile = path.join(workDir, "bench-config.json");
    writeFileSync(configFile, JSON.stringify({ limits: LIFTED_LIMITS }));
    // The reader view needs the site: this tree's, built for the run (a few seconds with a warm cache).
    const site = runs("reader") ? (flags.site ? path.resolve(flags.site) : buildSite(path.join(workDir, "site"))) : undefined;
    const ours = await startServer("lab server", [serverMain, "--port", "0", "--data-dir", dataDir, "--driver", "host", "--config", configFile, ...(site ? ["--site", site] : [])], {
      cwd: root,
      env,
      readyLine: /^http:\/\/\S+$/,
    });
    servers.push(ours);
    // The server only opens shells for the labs it has: take the first one it names.
    const health = await operatorHealth(ours.url);
    const lab = health.labs?.[0] ?? "sandbox";
    const wetty = await startWetty(peersDir, shellDir, env);
    const wettyPort = wetty.port;
    servers.push(wetty);
    const naive = await startServer("naive bridge", [path.join(root, "bench", "peers", "naive-bridge.ts")], { cwd: shellDir, env, readyLine: /^ws:\/\/\S+$/ });
    servers.push(naive);
    log(`lab ${lab}; servers: ours ${ours.url} (pid ${ours.pid}), WeTTY ${wetty.url} (pid ${wetty.pid}), naive ${naive.url} (pid ${naive.pid})`);

    const peers: Peer[] = [
      { key: "ours", label: "This server", serverPid: ours.pid, connect: () => OurTerm.connect(ours.url, lab) },
      { key: "wetty", label: "WeTTY 3.2", serverPid: wetty.pid, connect: () => WettyTerm.connect(`http://127.0.0.1:${wettyPort}`, peersDir) },
      { key: "naive", label: "Naive ws + node-pty", serverPid: naive.pid, connect: () => NaiveTerm.connect(naive.url) },
      { key: "pty", label: "node-pty alone (limit)", connect: () => LocalPtyTerm.connect(shellDir, env) },
    ];
    const results = new Map<string, PeerResult>(peers.map((peer) => [peer.key, { key: peer.key, label: peer.label, errors: [] }]));
    const result = (peer: Peer) => results.get(peer.key)!;
    const attempt = async (peer: Peer, what: string, task: () => Promise<void>) => {
      try {
        await task();
      } catch (error) {
        result(peer).errors.push(`${what}: ${(error as Error).message.slice(0, 300)}`);
        log(`${peer.label} ${what} FAILED: ${(error as Error).message}`);
      }
    };

    for (const peer of peers.filter(() => runs("connect"))) {
      await attempt(peer, "connect to prompt", async () => {
        const r = await connectToPrompt(peer, settings.connectRuns);
        result(peer).connectMs = { p50: r.p50, p99: r.p99, samples: r.samples.map((x) => +x.toFixed(2)) };
        log(`${peer.label}: connect to prompt ${r.p50.toFixed(1)} ms median`);
      });
    }
    // Idle sessions first, while the servers are fresh: a flood earlier would leave a grown heap
    // that shrinks meanwhile and hides what the sessions cost.
    for (const peer of peers.filter((p) => p.serverPid && runs("idle"))) {
      await attempt(peer, "idle sessions", async () => {
        const r = await idleSessions(peer, settings.idleMax, settings.idleOpenDeadlineMs);
        result(peer).idle = {
          held: r.held,
          max: settings.idleMax,
          firstFailure: r.firstFailure,
          serverBytesPerSession: r.serverBytesPerSession,
          treePssPerSession: r.treePssPerSession,
          openSeconds: +r.openSeconds.toFixed(1),
          before: r.before,
          after: r.after,
        };
        log(
          `${peer.label}: held ${r.held} idle sessions (opened in ${r.openSeconds.toFixed(1)} s); server +${(r.serverBytesPerSession / 1e6).toFixed(3)} MB/session, tree PSS +${(r.treePssPerSession / 1e6).toFixed(2)} MB/session${r.firstFailure ? `; ${r.firstFailure}` : ""}`,
        );
      });
    }
    // Echo rounds alternate between peers, rotated (a stall of this shared machine should not land on one
    // peer only); each peer's samples are pooled over its rounds.
    for (const [metric, options, rounds] of [
      ["echo1", settings.echo1, settings.echo1Rounds],
      ["echo50", settings.echo50, settings.echo50Rounds],
    ] as const) {
      const pooled = new Map<string, EchoResult[]>();
      for (let round = 0; round < (runs(metric) ? rounds : 0); round++) {
        for (const peer of rotated(peers, round)) {
          await attempt(peer, `echo, ${options.sessions} session(s), round ${round + 1}`, async () => {
            const r = await echoLatency(peer, options);
            pooled.set(peer.key, [...(pooled.get(peer.key) ?? []), r]);
            log(`${peer.label}: echo, ${r.sessions} session(s): p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms (${r.n} keys, ${r.timeouts} timeouts, ${r.slow.length} over 20 ms)`);
          });
        }
      }
      for (const [key, list] of pooled) {
        const all = percentiles(list.flatMap((r) => r.samples));
        results.get(key)![metric] = {
          p50: all.p50,
          p99: all.p99,
          n: all.n,
          sessions: options.sessions,
          timeouts: list.reduce((sum, r) => sum + r.timeouts, 0),
          rounds: list.map((r) => ({ p50: +r.p50.toFixed(3), p99: +r.p99.toFixed(3), max: +r.max.toFixed(1), slow: r.slow })),
        };
      }
    }
    // Throughput rounds alternate between peers too (rotated); the median run counts.
    const throughputRuns = new Map<string, NonNullable<PeerResult["throughput"]>["runs"]>();
    if (runs("throughput")) {
      // A short unrecorded flood each first: JIT warm-up, and the echo phase's 50 shells are gone before timing starts.
      await sleep(2000);
      for (const peer of peers) await attempt(peer, "throughput warm-up", async () => void (await throughput(peer, settings.bytes / 5, 120_000)));
    }
    for (let round = 0; round < (runs("throughput") ? settings.throughputRounds : 0); round++) {
      for (const peer of rotated(peers, round)) {
        await attempt(peer, `throughput round ${round + 1}`, async () => {
          const before = peer.serverPid ? serverCpu(peer.serverPid) : undefined;
          const clientBefore = process.cpuUsage();
          const r = await throughput(peer, settings.bytes, 120_000);
          const client = process.cpuUsage(clientBefore);
          const after = peer.serverPid ? serverCpu(peer.serverPid) : undefined;
          // The bench process is every client: its CPU competes for the same cores as the servers.
          const clientCpuMsPerMB = +((client.user + client.system) / 1000 / (r.bytes / 1e6)).toFixed(1);
          const cpuMsPerMB = before && after ? (after.ms - before.ms) / (r.bytes / 1e6) : undefined;
          const bytesPerRead = before && after ? Math.round(r.bytes / Math.max(1, after.reads - before.reads)) : undefined;
          const list = throughputRuns.get(peer.key) ?? [];
          list.push({ mbPerSecond: +r.mbPerSecond.toFixed(2), bytes: r.bytes, expected: r.expected, exact: r.exact, serverCpuMsPerMB: cpuMsPerMB && +cpuMsPerMB.toFixed(1), bytesPerRead, clientCpuMsPerMB });
          throughputRuns.set(peer.key, list);
          log(
            `${peer.label}: ${r.mbPerSecond.toFixed(1)} MB/s, ${r.bytes} of ${r.expected} bytes${r.exact ? "" : " (NOT EXACT)"}${cpuMsPerMB ? `, server CPU ${cpuMsPerMB.toFixed(1)} ms/MB, ${bytesPerRead} B per read syscall` : ""}, client CPU ${clientCpuMsPerMB} ms/MB`,
          );
        });
      }
    }
    for (const [key, list] of throughputRuns) {
      const cpu = list.flatMap((run) => (run.serverCpuMsPerMB === undefined ? [] : [run.serverCpuMsPerMB]));
      results.get(key)!.throughput = {
        runs: list,
        median: percentiles(list.map((run) => run.mbPerSecond)).p50,
        serverCpuMsPerMB: cpu.length > 0 ? percentiles(cpu).p50 : undefined,
      };
    }

    // The reader view last: Chromium on the same two cores, this server's Part 1 page beside WeTTY's page.
    let reader: ReaderModeResult[] | undefined;
    if (runs("reader")) {
      await sleep(2000);
      const link = new URL(ours.url);
      const partOne = `${new URL("labs/part-1/", link.origin + "/")}${link.hash}`;
      try {
        reader = await readerView([ourPage("This server (Part 1 page)", partOne), wettyPage("WeTTY 3.2", `http://127.0.0.1:${wettyPort}/`)], settings.reader, log);
      } catch (error) {
        results.get("ours")!.errors.push(`reader view: ${(error as Error).message}`);
        log(`reader view FAILED: ${(error as Error).message}`);
      }
    }

    const report = buildReport(peers.map(result), (performance.now() - began) / 1000, reader);
    console.log("");
    for (const target of report.targets) {
      console.log(target.measured ? `${target.pass ? "PASS" : "FAIL"}  ${target.name}: ${target.detail}` : `  -   ${target.name}: not measured in this run`);
    }
    const json = JSON.stringify(report, null, 2);
    if (partial) writeFileSync(path.join(root, "bench", "results.quick.json"), json);
    else {
      writeFileSync(path.join(root, "bench", "results.json"), json);
      writeBenchmarksPage(root);
      log("wrote src/content/docs/benchmarks.md and bench/results.json");
    }
  } finally {
    for (const server of servers) await server.stop();
    cleanup();
  }
}

function buildSite(outDir: string): string {
  log(`building the site into ${outDir} (for the reader view)…`);
  // Astro's own entry under this Node (its shim's `env node` may find an older one on the PATH).
  execFileSync(process.execPath, [realpathSync(path.join(root, "node_modules", ".bin", "astro")), "build", "--silent", "--outDir", outDir], { cwd: root, stdio: "inherit", timeout: 600_000 });
  return outDir;
}

function buildReport(peers: PeerResult[], seconds: number, reader?: ReaderModeResult[]): Report {
  const [ours, wetty, , limit] = peers as [PeerResult, PeerResult, PeerResult, PeerResult];
  const targets: Target[] = [];
  const target = (name: string, pass: boolean, detail: string, measured: boolean) => targets.push({ name, pass, detail, measured });
  const t = ours.throughput?.median;
  const tw = wetty.throughput?.median;
  const tl = limit.throughput?.median;
  target("Throughput ≥ WeTTY's", t !== undefined && tw !== undefined && t >= tw, `${t?.toFixed(1)} vs ${tw?.toFixed(1)} MB/s`, t !== undefined);
  target("Throughput ≥ 0.8× the node-pty limit", t !== undefined && tl !== undefined && t >= 0.8 * tl, `${t?.toFixed(1)} vs 0.8 × ${tl?.toFixed(1)} = ${tl === undefined ? "?" : (0.8 * tl).toFixed(1)} MB/s`, t !== undefined);
  const exact = ours.throughput?.runs.every((run) => run.exact) ?? false;
  target("Every byte delivered", exact && (ours.throughput?.runs.length ?? 0) === settings.throughputRounds, ours.throughput?.runs.map((run) => `${run.bytes}/${run.expected}`).join(", ") ?? "no runs", ours.throughput !== undefined);
  const e = ours.echo50;
  const ew = wetty.echo50;
  target(`Echo, ${settings.echo50.sessions} sessions: median ≤ 1.1 ms`, e !== undefined && e.p50 <= 1.1, `${e?.p50.toFixed(2)} ms`, e !== undefined);
  target(`Echo, ${settings.echo50.sessions} sessions: p99 ≤ 8 ms`, e !== undefined && e.p99 <= 8, `${e?.p99.toFixed(2)} ms`, e !== undefined);
  target(
    "Echo below WeTTY's (median and p99)",
    e !== undefined && ew !== undefined && e.p50 < ew.p50 && e.p99 < ew.p99,
    `${e?.p50.toFixed(2)} / ${e?.p99.toFixed(2)} vs ${ew?.p50.toFixed(2)} / ${ew?.p99.toFixed(2)} ms`,
    e !== undefined,
  );
  const perSession = ours.idle?.serverBytesPerSession;
  target("≤ 1 MB server memory per idle session", perSession !== undefined && perSession <= 1e6, `${perSession === undefined ? "?" : (perSession / 1e6).toFixed(2)} MB (Node RSS)`, ours.idle !== undefined);
  target(`${settings.idleMax} idle sessions held`, ours.idle?.held === settings.idleMax, `${ours.idle?.held ?? 0}${ours.idle?.firstFailure ? ` (${ours.idle.firstFailure})` : ""}`, ours.idle !== undefined);
  const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : +(a / b).toFixed(3));
  const readerRatios: Record<string, number | undefined> = {};
  for (const mode of reader ?? []) {
    const mine = mode.peers.find((p) => p.key === "ours");
    const theirs = mode.peers.find((p) => p.key === "wetty");
    const k = ratio(mine?.keyToScreen?.p50, theirs?.keyToScreen?.p50);
    const f = ratio(mine?.keyToFrame?.p50, theirs?.keyToFrame?.p50);
    const o = ratio(mine?.output?.median, theirs?.output?.median);
    readerRatios[`readerKeyToScreenP50VsWetty:${mode.key}`] = k;
    readerRatios[`readerKeyToFrameP50VsWetty:${mode.key}`] = f;
    readerRatios[`readerOutputVsWetty:${mode.key}`] = o;
    const renderers = `renderers: ours ${mine?.renderer ?? "?"}, WeTTY ${theirs?.renderer ?? "?"}`;
    target(
      `Reader view, ${mode.label}: key-to-screen p50 ≤ 0.6× WeTTY's`,
      k !== undefined && k <= 0.6,
      `${mine?.keyToScreen?.p50} vs ${theirs?.keyToScreen?.p50} ms = ${k}× (to the frame: ${mine?.keyToFrame?.p50} vs ${theirs?.keyToFrame?.p50} ms = ${f}×; ${renderers})`,
      k !== undefined,
    );
    target(
      `Reader view, ${mode.label}: output to screen ≥ 1.5× WeTTY's`,
      o !== undefined && o >= 1.5,
      `${mine?.output?.median} vs ${theirs?.output?.median} MB/s = ${o}×`,
      o !== undefined,
    );
  }
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  let osName = os.type();
  try {
    osName = /^PRETTY_NAME="?([^"\n]*)/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? osName;
  } catch {
    // keep the kernel's name
  }
  const extra = process.argv.slice(2).join(" ");
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    command: extra ? `node bench/run.ts ${extra}` : "npm run bench",
    machine: {
      nproc: os.availableParallelism(),
      cpu,
      memoryGiB: os.totalmem() / 2 ** 30,
      node: process.version,
      kernel: os.release(),
      os: osName,
      loadBefore,
      loadAfter: os.loadavg(),
    },
    settings,
    peers,
    targets,
    ratios: {
      throughputVsWetty: ratio(t, tw),
      throughputVsLimit: ratio(t, tl),
      echo50P50VsWetty: ratio(e?.p50, ew?.p50),
      echo50P99VsWetty: ratio(e?.p99, ew?.p99),
      ...readerRatios,
    },
    readerView: reader,
    seconds,
  };
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    console.error(error.stack ?? error.message);
    process.exit(1);
  },
);
