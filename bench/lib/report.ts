/** The results as a Markdown page (a table, the targets, a hand-made SVG chart). */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { FlowDefaults } from "../../server/protocol.ts";
import type { ReaderModeResult } from "./browser.ts";

export interface PeerResult {
  key: string;
  label: string;
  connectMs?: { p50: number; p99: number; samples: number[] };
  echo1?: EchoSummary;
  echo50?: EchoSummary;
  throughput?: {
    runs: { mbPerSecond: number; bytes: number; expected: number; exact: boolean; serverCpuMsPerMB: number | undefined; bytesPerRead: number | undefined; clientCpuMsPerMB: number }[];
    median: number;
    serverCpuMsPerMB: number | undefined;
  };
  idle?: {
    held: number;
    max: number;
    firstFailure: string | undefined;
    serverBytesPerSession: number;
    treePssPerSession: number;
    openSeconds: number;
    before: unknown;
    after: unknown;
  };
  errors: string[];
}

export interface EchoSummary {
  p50: number;
  p99: number;
  n: number;
  sessions: number;
  timeouts: number;
  rounds: { p50: number; p99: number; max: number; slow: { at: number; session: number; ms: number }[] }[];
}

export interface Target {
  name: string;
  pass: boolean;
  detail: string;
  /** False when this run did not measure it (--only): neither a pass nor a fail. */
  measured: boolean;
}

export interface Report {
  date: string;
  command: string;
  machine: { nproc: number; cpu: string; memoryGiB: number; node: string; kernel: string; os: string; loadBefore: number[]; loadAfter: number[] };
  settings: Record<string, unknown>;
  peers: PeerResult[];
  targets: Target[];
  ratios: Record<string, number | undefined>;
  /** The reader view (bench/lib/browser.ts): Chromium on each page, per browser mode. */
  readerView?: ReaderModeResult[];
  seconds: number;
}

const fmt = (value: number | undefined, digits = 2) => (value === undefined || !Number.isFinite(value) ? "—" : value.toFixed(digits));
const mb = (bytes: number | undefined) => (bytes === undefined ? "—" : (bytes / 1e6).toFixed(2));

/** What `npm run bench:flood` measured (bench/flood.ts), shown on the same page. */
export interface FloodReport {
  date: string;
  seconds: number;
  clientRate: number;
  table: string;
}

export function readFloodReport(root: string): FloodReport | undefined {
  const file = path.join(root, "bench", "results.flood.json");
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as FloodReport) : undefined;
}

/** The docs page (src/content/docs/benchmarks.md) from the last full run and the last flood. */
export function writeBenchmarksPage(root: string): void {
  const report = JSON.parse(readFileSync(path.join(root, "bench", "results.json"), "utf8")) as Report;
  writeFileSync(path.join(root, "src", "content", "docs", "benchmarks.md"), markdown(report, readFloodReport(root)));
}

export function markdown(report: Report, flood?: FloodReport): string {
  const peers = report.peers;
  const row = (name: string, cell: (peer: PeerResult) => string) => `| ${name} | ${peers.map(cell).join(" | ")} |`;
  const s = report.settings as {
    bytes: number;
    throughputRounds: number;
    connectRuns: number;
    echo1: { keysPerSession: number; gapMs: number[] };
    echo1Rounds: number;
    echo50: { sessions: number; keysPerSession: number; gapMs: number[] };
    echo50Rounds: number;
    idleMax: number;
  };
  const table = [
    `| Metric | ${peers.map((peer) => peer.label).join(" | ")} |`,
    `|---|${peers.map(() => "---:").join("|")}|`,
    row("Echo, 1 session: p50 / p99 (ms)", (p) => (p.echo1 ? `${fmt(p.echo1.p50)} / ${fmt(p.echo1.p99)}` : "—")),
    row(`Echo, ${s.echo50.sessions} sessions typing: p50 / p99 (ms)`, (p) => (p.echo50 ? `${fmt(p.echo50.p50)} / ${fmt(p.echo50.p99)}` : "—")),
    row(`Output throughput (MB/s, median of ${s.throughputRounds})`, (p) => fmt(p.throughput?.median, 1)),
    row("Server CPU per MB of output (ms, user + system)", (p) => fmt(p.throughput?.serverCpuMsPerMB, 1)),
    row("Every byte delivered (all runs)", (p) => (p.throughput ? (p.throughput.runs.every((run) => run.exact) ? "yes" : `**no** (${p.throughput.runs.map((r) => r.bytes).join(", ")})`) : "—")),
    row("Connect to prompt (ms, median)", (p) => fmt(p.connectMs?.p50, 1)),
    row("Server memory per idle session (MB, Node RSS)", (p) => mb(p.idle?.serverBytesPerSession)),
    row("…with its shell (MB, whole tree PSS)", (p) => mb(p.idle?.treePssPerSession)),
    row(`Idle sessions held (of ${s.idleMax})`, (p) => (p.idle ? String(p.idle.held) : "—")),
  ].join("\n");

  const targets = ["| Target (this server) | Result | |", "|---|---|---|", ...report.targets.map((t) => `| ${t.name} | ${t.pass ? "PASS" : "**FAIL**"} | ${t.detail} |`)].join("\n");
  const r = report.ratios;
  const notes = peers.flatMap((p) => [
    ...p.errors.map((error) => `- ${p.label}: ${error}`),
    ...(p.idle?.firstFailure ? [`- ${p.label}, idle sessions: ${p.idle.firstFailure}`] : []),
    ...(p.echo50?.timeouts || p.echo1?.timeouts ? [`- ${p.label}: ${(p.echo1?.timeouts ?? 0) + (p.echo50?.timeouts ?? 0)} keystrokes not echoed within 3 s`] : []),
    ...(p.echo50 && p.echo50.rounds.length > 1
      ? [`- ${p.label}, echo with ${p.echo50.sessions} sessions per round (p50 / p99 ms): ${p.echo50.rounds.map((r) => `${fmt(r.p50)} / ${fmt(r.p99)}`).join("; ")}`]
      : []),
  ]);
  const m = report.machine;
  return `---
title: Terminal benchmarks
description: The lab server's terminal against WeTTY, a naive WebSocket bridge and node-pty alone, measured side by side on one machine.
---

The lab terminal measured side by side with [WeTTY](https://github.com/butlerx/wetty) 3.2 (from npm), a naive WebSocket + node-pty bridge (20 lines, string data, no flow control), and node-pty alone reading the same command with no WebSocket at all, which is the most any transport can deliver here.
All four ran in one run on one machine; compare figures only within this page.

- **Date**: ${report.date}
- **Machine**: ${m.nproc} cores (${m.cpu}), ${m.memoryGiB.toFixed(0)} GiB, ${m.os}, Linux ${m.kernel}
- **Node**: ${m.node}
- **Load average** (1 min) before and after: ${m.loadBefore[0]?.toFixed(2)} and ${m.loadAfter[0]?.toFixed(2)}; the machine is shared, so figures move from run to run
- **Command**: \`${report.command}\` (took ${Math.round(report.seconds)} s)

${table}

${chart(report)}

## Targets

${targets}

Ratios: throughput ${fmt(r.throughputVsWetty)}× WeTTY's and ${fmt(r.throughputVsLimit)}× the node-pty limit; echo with ${s.echo50.sessions} sessions ${fmt(r.echo50P50VsWetty)}× WeTTY's median and ${fmt(r.echo50P99VsWetty)}× its p99.
${notes.length > 0 ? `\nNotes from this run:\n\n${notes.join("\n")}\n` : ""}
## How it is measured

Every server runs as its own process on a loopback port; the bench is one Node process that plays every client (\`bench/run.ts\`).
Each session is a real pty running bash: a login shell in a lab working directory on this server (\`--driver host\`), \`bash\` for the others.
Every shell gets an empty \`HOME\`, so a machine's own \`~/.bashrc\` does not weigh on the figures.

- **Echo**: the session runs \`cat\` in a cooked tty; one letter is sent and timed until that letter comes back (the tty's echo, so the whole transport both ways).
  One session types ${s.echo1.keysPerSession} keys with ${s.echo1.gapMs.join("–")} ms between them; then ${s.echo50.sessions} sessions type at once, ${s.echo50.keysPerSession} keys each, ${s.echo50.gapMs.join("–")} ms apart (a fast typist each). The first keys of each session are left out.
  Each is done ${s.echo50Rounds} times, alternating between the peers, and the samples pooled.
- **Throughput**: \`head -c ${s.bytes} /dev/urandom | base64 -w 120\` between two markers; the bytes between the markers are counted (MB = 10⁶ bytes of terminal output, ${(expectedBytes(s.bytes) / 1e6).toFixed(1)} MB per run) and timed from the first marker to the last. The count must equal what base64 wrote (\\n as \\r\\n on a tty). Runs alternate between the peers.
  Clients acknowledge output as their browser client would: every ${FlowDefaults.ackIntervalBytes / 1024} KiB here (\`FlowDefaults\` in \`server/protocol.ts\`), every 256 Ki characters for WeTTY (its client's setting); the naive bridge has no flow control.
- **Connect to prompt**: from opening the connection to the shell's prompt on screen, ${s.connectRuns} sessions one after another (a login shell here, so it reads the profile).
- **Server CPU**: user + system time of the server's Node process during the throughput runs (from \`/proc\`), per MB delivered.
- **Idle sessions**: measured first, on fresh servers. Sessions are opened ten at a time up to ${s.idleMax}, or until one fails; after all are open each must still echo a key.
  Memory is read from \`/proc\` before and after: the RSS of the server's Node process (what the server itself spends per session) and the PSS of its whole process tree, shells included (a shell's shared libraries counted once).

${report.readerView ? readerSection(report) : ""}${flood ? floodSection(flood) : ""}WeTTY runs as \`wetty --host 127.0.0.1 --port P --base / --command bash\` as root, which makes it spawn the command locally instead of through ssh; its client is \`socket.io-client\` over a WebSocket from the start (its browser client first polls, then upgrades).
`;
}

/** Key to the echo's message, p50, ours against WeTTY's, per browser mode: the part of key to screen the server decides. */
function echoSpans(report: Report): string {
  return (report.readerView ?? [])
    .map((mode) => {
      const ours = mode.peers.find((p) => p.key !== "wetty")?.keyToMessage?.p50;
      const theirs = mode.peers.find((p) => p.key === "wetty")?.keyToMessage?.p50;
      return `${mode.label}: ${fmt(ours ?? NaN, 1)} ms after the key, WeTTY's ${fmt(theirs ?? NaN, 1)}`;
    })
    .join("; ");
}

function readerSection(report: Report): string {
  const s = report.settings as { reader?: { keys: number; warmupKeys: number; gapMs: number[]; floodBytes: number; floodRuns: number; rounds: number } };
  const r = s.reader;
  const tables = (report.readerView ?? []).map((mode) => {
    const peers = mode.peers;
    const row = (name: string, cell: (peer: (typeof peers)[number]) => string) => `| ${name} | ${peers.map(cell).join(" | ")} |`;
    const wetty = peers.find((p) => p.key === "wetty");
    const vs = (mine: number | undefined, theirs: number | undefined) => (mine !== undefined && theirs !== undefined ? ` (${fmt(mine / theirs)}×)` : "");
    const cells = (get: (p: (typeof peers)[number]) => { p50: number; p95: number } | undefined, ratio = true) => (p: (typeof peers)[number]) => {
      const v = get(p);
      if (!v) return "—";
      return `${fmt(v.p50, 1)} / ${fmt(v.p95, 1)}${ratio && p.key !== "wetty" ? vs(v.p50, get(wetty!)?.p50) : ""}`;
    };
    return [
      `### ${mode.label}`,
      "",
      `Chromium flags \`${mode.args.join(" ")}\`; WebGL2 offered: ${mode.webgl}.`,
      "",
      `| | ${peers.map((p) => p.label).join(" | ")} |`,
      `|---|${peers.map(() => "---:").join("|")}|`,
      row("xterm renderer", (p) => p.renderer ?? "—"),
      row("Key to screen: p50 / p95 (ms)", cells((p) => p.keyToScreen)),
      row("Key to the end of that frame: p50 / p95 (ms)", cells((p) => p.keyToFrame)),
      row("Key to the echo's WebSocket message: p50 / p95 (ms)", cells((p) => p.keyToMessage, false)),
      row("Output to screen (MB/s, median)", (p) => (p.output ? `${fmt(p.output.median, 1)}${p.key !== "wetty" ? vs(p.output.median, wetty?.output?.median) : ""}` : "—")),
      row("…each run (MB/s)", (p) => (p.output ? p.output.runs.map((x) => fmt(x, 1)).join(", ") : "—")),
      row("Keys timed", (p) => String(p.keyToScreen?.n ?? 0)),
      ...(peers.some((p) => p.errors.length) ? [row("Problems", (p) => p.errors.join("; ") || "—")] : []),
    ].join("\n");
  });
  return `## From a reader's chair

Chromium (Debian's, headless, driven by Playwright) opens this server's Part 1 page and WeTTY's page side by side in one run, each in a fresh context, rounds alternating between them.
Both pages run xterm.js 6; neither is changed for the bench, only watched: every time is taken in the page with \`performance.now()\` (\`bench/lib/browser.ts\`).

- **Key to screen**: from the keydown to the echoed letter in the DOM rows (a MutationObserver on \`.xterm-rows\`, DOM renderer) or drawn into the canvas (xterm's \`onRender\`, right after the WebGL draw). The shell runs \`cat\`, so the echo is the tty's.${r ? ` ${r.keys} keys per round, ${r.gapMs.join("–")} ms apart, the first ${r.warmupKeys} left out, ${r.rounds} rounds.` : ""}
- **Key to the end of that frame**: until the browser has painted and committed the frame that shows it. A browser draws frames on its own clock (60 Hz here), so this is closer to what the eye gets; a change made early in the page only helps if it makes an earlier frame.
- **Output to screen**: Enter to the render that shows a marker printed after \`head -c ${r?.floodBytes ?? "N"} /dev/urandom | base64 -w 120\` (${r ? (expectedBytes(r.floodBytes) / 1e6).toFixed(1) : "?"} MB of terminal output)${r ? `, ${r.floodRuns} runs per round` : ""}. Browser, servers, shells and base64 share the machine's ${report.machine.nproc} cores.
  The two pages do not draw the same thing: WeTTY's page parses and draws every byte; this server's page, once it falls behind (its window of 512 KiB full and 256 KiB more waiting), gets the latest screen at most 20 times a second while the server's own headless terminal parses the rest, and the screen with 1,000 lines of scrollback when the flood ends ("skip ahead", \`server/terminal-session.ts\`). The marker is on screen either way, and after the flood both pages hold its last 1,000 lines (WeTTY's page keeps xterm's default scrollback, 1,000 lines; ours keeps 5,000 of output it drew, 1,000 after a skip).

${tables.join("\n\n")}

What the figures come from (profiled in Nov 2026, \`bench/README.md\`): this server gets the echo to the page sooner (${echoSpans(report)}); from there both pages wait for the browser's next frame, and the frame that shows the echo costs more on the Part 1 page than on WeTTY's bare page (hover hit-testing, style and layout, paint and pre-paint of the long article around the terminal, then a larger commit and Starlight's IntersectionObservers), so the key-to-screen target of 0.6× is not met. With the terminal in an iframe of its own and every other part of the page hidden, a trial page still gave 0.66× (WebGL off); the iframe alone gained up to 1.5 ms with WebGL off and nothing with WebGL on, and was not adopted.
Output to screen is where skip ahead (above) changes what the page does; without it, the Part 1 page's output to screen stayed at or below WeTTY's in the runs before it (\`bench/README.md\`: the page's weight on every frame of a flood).

`;
}

function floodSection(flood: FloodReport): string {
  return `## Flooding under a slow client

\`npm run bench:flood\` (${flood.date}): \`yes\` writes as fast as it can for ${flood.seconds} s while the client takes in at most ${(flood.clientRate / 1e6).toFixed(1)} MB/s (a browser on a slow machine), acknowledging what it took in.
Each second one key is typed and timed until its echo comes back through the backlog; then Ctrl-C.
Flow control pauses the pty, so what waits for the client is bounded by the high watermark (${FlowDefaults.highWatermarkBytes / 1024} KiB); the naive bridge queues everything \`yes\` writes.
V8 grows its heap lazily while there is room, so the same flood also runs with the server's old space capped: what flow control bounds is what stays live.

${flood.table}

`;
}

export function expectedBytes(n: number): number {
  const encoded = 4 * Math.ceil(n / 3);
  return encoded + 2 * Math.ceil(encoded / 120);
}

const COLORS: Record<string, string> = { ours: "#2563eb", wetty: "#d97706", naive: "#6b7280", pty: "#16a34a" };

/** Two bar groups, throughput and echo under load, as inline SVG. */
function chart(report: Report): string {
  const width = 640;
  const labelWidth = 190;
  const barMax = width - labelWidth - 90;
  const rowHeight = 22;
  const parts: string[] = [];
  let y = 0;
  const group = (title: string, unit: string, bars: { label: string; value: number | undefined; color: string }[]) => {
    y += 24;
    parts.push(`<text x="0" y="${y}" font-size="14" font-weight="bold">${escape(title)}</text>`);
    y += 8;
    const max = Math.max(...bars.map((bar) => bar.value ?? 0), 1e-9);
    for (const bar of bars) {
      const length = bar.value === undefined ? 0 : Math.max(1, (bar.value / max) * barMax);
      parts.push(`<text x="${labelWidth - 8}" y="${y + 15}" font-size="12" text-anchor="end">${escape(bar.label)}</text>`);
      parts.push(`<rect x="${labelWidth}" y="${y + 3}" width="${length.toFixed(1)}" height="${rowHeight - 6}" fill="${bar.color}" rx="2"/>`);
      parts.push(`<text x="${(labelWidth + length + 6).toFixed(1)}" y="${y + 15}" font-size="12">${bar.value === undefined ? "—" : `${bar.value.toFixed(bar.value < 10 ? 2 : 1)} ${unit}`}</text>`);
      y += rowHeight;
    }
  };
  const peers = report.peers;
  group("Output throughput (higher is better)", "MB/s", peers.map((p) => ({ label: p.label, value: p.throughput?.median, color: COLORS[p.key] ?? "#888" })));
  const sessions = peers.find((p) => p.echo50)?.echo50?.sessions ?? 50;
  group(`Echo with ${sessions} sessions typing, median (lower is better)`, "ms", peers.map((p) => ({ label: p.label, value: p.echo50?.p50, color: COLORS[p.key] ?? "#888" })));
  group(`Echo with ${sessions} sessions typing, p99 (lower is better)`, "ms", peers.map((p) => ({ label: p.label, value: p.echo50?.p99, color: COLORS[p.key] ?? "#888" })));
  const height = y + 8;
  // One line per element and no blank line: Markdown keeps the block as raw HTML.
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" style="max-width:${width}px" role="img" aria-label="Throughput and echo latency per server" font-family="system-ui, sans-serif" fill="currentColor">`,
    ...parts,
    "</svg>",
  ].join("\n");
}

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
