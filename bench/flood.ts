/**
 * `npm run bench:flood`: `yes` floods a terminal for a minute while a slow
 * client reads it, on this server and on the naive ws + node-pty bridge, side
 * by side. It reports what flow control is for: the server's memory during
 * the flood, how fast a keystroke echoes, and how fast Ctrl-C stops `yes`
 * and gives the prompt back.
 *
 *   node bench/flood.ts [--seconds 60] [--client-rate 2000000]
 *
 * The slow client takes in at most --client-rate bytes a second (a browser
 * on a slow machine: xterm.js parses tens of MB/s on a fast one), pausing its
 * socket when over budget, and acknowledges what it took in (our protocol).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { FrameKind, PROTOCOL_VERSION, SUBPROTOCOL, decodeFrame, encodeMessage } from "../server/protocol.ts";
import { writeBenchmarksPage } from "./lib/report.ts";
import { cleanEnv, killStarted, processTree, sleep, startServer, treeMemory, type ServerProcess } from "./lib/procs.ts";
import { linkToken, operatorHealth } from "./lib/term.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "60" },
    "client-rate": { type: "string", default: String(2_000_000) },
  },
});
const SECONDS = Number(values.seconds);
const CLIENT_RATE = Number(values["client-rate"]);
const TICK_MS = 50;
/** The naive bridge buffers without bound: stop its flood before it takes the machine. */
const RSS_CEILING = 3 * 1024 ** 3;
const PROMPT = /[$#] (?:\x1b\[[0-9;?]*[A-Za-z])*$/;
const ROOT = path.resolve(import.meta.dirname, "..");
const CAPPED_HEAP_MB = 48;
/** The key typed during the flood: a letter `yes` never prints, so each one in the stream is an echo. */
const KEY = "K";

interface FloodResult {
  peer: string;
  rssBeforeMB: number;
  rssMaxMB: number;
  rssEndMB: number;
  floodSeconds: number;
  stoppedEarly: boolean;
  deliveredMB: number;
  echoMs: { p50: number; max: number; lost: number; samples: number };
  ctrlCToYesGoneMs: number | undefined;
  ctrlCToPromptMs: number | undefined;
}

/** A terminal client that takes in at most CLIENT_RATE bytes a second. */
class SlowClient {
  text = "";
  received = 0;
  private budget = 0;
  private timer: NodeJS.Timeout;
  private readonly socket: WebSocket;
  private readonly ours: boolean;
  private acked = 0;
  /** Keys typed, and their echoes seen so far: the tty echoes them in order, so the n-th K seen is the n-th key's. */
  private keysTyped = 0;
  private echoesSeen = 0;
  private echoWaiters = new Map<number, (at: number) => void>();

  constructor(socket: WebSocket, ours: boolean) {
    this.socket = socket;
    this.ours = ours;
    socket.on("message", (data: Buffer, isBinary) => this.take(data, isBinary));
    this.timer = setInterval(() => {
      this.budget = (CLIENT_RATE * TICK_MS) / 1000;
      socket.resume();
      if (this.ours && this.received > this.acked) {
        this.acked = this.received;
        socket.send(encodeMessage({ type: "ack", offset: this.acked }));
      }
    }, TICK_MS);
  }

  private take(data: Buffer, isBinary: boolean): void {
    let payload: Uint8Array = data;
    if (this.ours) {
      if (!isBinary) return; // welcome, exit: nothing this bench needs
      const frame = decodeFrame(data);
      if (!frame || frame.kind !== FrameKind.output) return;
      payload = frame.payload;
      this.received = frame.offset + payload.byteLength;
    } else {
      this.received += payload.byteLength;
    }
    const text = Buffer.from(payload).toString("latin1");
    // Before the first key, a K is the prompt's (a temp dir's name), not an echo.
    if (this.keysTyped > 0) {
      for (let at = text.indexOf(KEY); at !== -1; at = text.indexOf(KEY, at + 1)) this.echoWaiters.get(this.echoesSeen++)?.(performance.now());
    }
    // Keep only the tail as text: enough for the prompt.
    this.text = (this.text + text).slice(-4096);
    this.budget -= payload.byteLength;
    if (this.budget <= 0) this.socket.pause();
  }

  /** Types a key and resolves with how long its echo took, or undefined after `timeoutMs`. */
  echo(timeoutMs: number): Promise<number | undefined> {
    const key = this.keysTyped++;
    const sentAt = performance.now();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.echoWaiters.delete(key);
        resolve(undefined);
      }, timeoutMs);
      this.echoWaiters.set(key, (at) => {
        clearTimeout(timer);
        this.echoWaiters.delete(key);
        resolve(at - sentAt);
      });
      this.write(KEY);
    });
  }

  write(data: string): void {
    this.socket.send(this.ours ? Buffer.from(data) : data, { binary: this.ours });
  }

  close(): void {
    clearInterval(this.timer);
    this.socket.terminate();
  }
}

/** RSS of the server's own Node process(es), as the main bench reads it. */
const rss = (pid: number) => treeMemory(pid).serverRss;

function yesRunning(server: ServerProcess): boolean {
  return processTree(server.pid).some((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "yes";
    } catch {
      return false;
    }
  });
}

async function flood(name: string, server: ServerProcess, socket: WebSocket, ours: boolean): Promise<FloodResult> {
  await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
  const client = new SlowClient(socket, ours);
  if (ours) socket.send(encodeMessage({ type: "hello", version: PROTOCOL_VERSION, lab: lab!, cols: 120, rows: 40, token: linkToken(server.url) }));
  if ((await waitFor(() => PROMPT.test(client.text), 15_000)) === undefined) throw new Error(`${name}: no prompt`);
  const rssBefore = rss(server.pid);
  let rssMax = rssBefore;
  client.write("yes\r");

  const echoes: number[] = [];
  let lost = 0;
  let stoppedEarly = false;
  const started = performance.now();
  let nextEcho = started + 1000;
  while (performance.now() - started < SECONDS * 1000) {
    const now = performance.now();
    const memory = rss(server.pid);
    rssMax = Math.max(rssMax, memory);
    if (memory > RSS_CEILING) {
      stoppedEarly = true;
      break;
    }
    if (now >= nextEcho) {
      const took = await client.echo(5000);
      if (took === undefined) lost++;
      else echoes.push(took);
      nextEcho = performance.now() + 1000;
    }
    await sleep(100);
  }
  const floodSeconds = (performance.now() - started) / 1000;

  client.write("\x03");
  const sentAt = performance.now();
  const ctrlCToYesGoneMs = await waitFor(() => !yesRunning(server), 10_000);
  const promptSeen = await waitFor(() => /\^C/.test(client.text) && PROMPT.test(client.text), 15_000);
  const ctrlCToPromptMs = promptSeen === undefined ? undefined : performance.now() - sentAt;
  const deliveredMB = client.received / 1e6;
  client.close();
  echoes.sort((a, b) => a - b);
  return {
    peer: name,
    rssBeforeMB: rssBefore / 1e6,
    rssMaxMB: rssMax / 1e6,
    rssEndMB: rss(server.pid) / 1e6,
    floodSeconds,
    stoppedEarly,
    deliveredMB,
    echoMs: { p50: echoes[Math.floor(echoes.length / 2)] ?? NaN, max: echoes.at(-1) ?? NaN, lost, samples: echoes.length + lost },
    ctrlCToYesGoneMs,
    ctrlCToPromptMs,
  };
}

/** How long until `test()` held, in ms, or undefined after `timeoutMs`. */
async function waitFor(test: () => boolean, timeoutMs: number): Promise<number | undefined> {
  const started = performance.now();
  while (!test()) {
    if (performance.now() - started > timeoutMs) return undefined;
    await sleep(2);
  }
  return performance.now() - started;
}

let lab: string | undefined;

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(tmpdir(), "nwl-flood-"));
  const home = path.join(work, "home");
  mkdirSync(home);
  const env = { ...cleanEnv(), HOME: home };
  const servers: ServerProcess[] = [];
  try {
    const startOurs = async (nodeFlags: string[]) => {
      const server = await startServer("lab server", [...nodeFlags, path.join(ROOT, "server/main.ts"), "--port", "0", "--data-dir", path.join(work, "data"), "--driver", "host"], {
        cwd: ROOT,
        env,
        readyLine: /^http:\/\/\S+$/,
      });
      servers.push(server);
      lab = (await operatorHealth(server.url)).labs?.[0];
      return server;
    };
    const ourSocket = (server: ServerProcess) =>
      new WebSocket(new URL("ws", server.url.replace(/^http/, "ws")).toString(), SUBPROTOCOL, { origin: new URL(server.url).origin });
    console.log(`flood: yes for ${SECONDS} s, client taking in ${(CLIENT_RATE / 1e6).toFixed(1)} MB/s`);
    const results: FloodResult[] = [];
    const ours = await startOurs([]);
    results.push(await flood("This server", ours, ourSocket(ours), true));
    await ours.stop();
    // V8 grows its heap lazily when there is room, so RSS overstates what is live:
    // the same flood within a small old space shows the memory flow control really bounds.
    const capped = await startOurs([`--max-old-space-size=${CAPPED_HEAP_MB}`]);
    results.push(await flood(`This server, heap capped at ${CAPPED_HEAP_MB} MB`, capped, ourSocket(capped), true));
    await capped.stop();
    const naive = await startServer("naive bridge", [path.join(ROOT, "bench/peers/naive-bridge.ts")], { cwd: home, env, readyLine: /^ws:\/\/\S+$/ });
    servers.push(naive);
    results.push(await flood("Naive ws + node-pty", naive, new WebSocket(naive.url), false));
    const fmt = (value: number | undefined, digits = 0) => (value === undefined || Number.isNaN(value) ? "—" : value.toFixed(digits));
    const rows = [
      ["Flood", (r: FloodResult) => `${fmt(r.floodSeconds)} s${r.stoppedEarly ? ` (stopped at the ${RSS_CEILING / 1024 ** 3} GiB ceiling)` : ""}`],
      ["Server RSS before / max / after (MB)", (r: FloodResult) => `${fmt(r.rssBeforeMB)} / ${fmt(r.rssMaxMB)} / ${fmt(r.rssEndMB)}`],
      ["Output the client took in (MB)", (r: FloodResult) => fmt(r.deliveredMB, 1)],
      ["Keystroke echo during the flood: p50 / max (ms)", (r: FloodResult) => `${fmt(r.echoMs.p50)} / ${fmt(r.echoMs.max)}${r.echoMs.lost ? ` (${r.echoMs.lost} of ${r.echoMs.samples} not within 5 s)` : ""}`],
      ["Ctrl-C to `yes` gone (ms)", (r: FloodResult) => fmt(r.ctrlCToYesGoneMs)],
      ["Ctrl-C to the prompt on the client (ms)", (r: FloodResult) => (r.ctrlCToPromptMs === undefined ? "not within 15 s" : fmt(r.ctrlCToPromptMs))],
    ] as const;
    const table = [
      `| ${["Metric", ...results.map((r) => r.peer)].join(" | ")} |`,
      `|---|${results.map(() => "---:").join("|")}|`,
      ...rows.map(([label, cell]) => `| ${label} | ${results.map(cell).join(" | ")} |`),
    ].join("\n");
    console.log(`\n${table}\n`);
    writeFileSync(
      path.join(ROOT, "bench/results.flood.json"),
      JSON.stringify({ date: new Date().toISOString(), seconds: SECONDS, clientRate: CLIENT_RATE, results, table }, null, 2) + "\n",
    );
    if (existsSync(path.join(ROOT, "bench/results.json"))) {
      writeBenchmarksPage(ROOT);
      console.log("wrote bench/results.flood.json and src/content/docs/benchmarks.md");
    }
  } finally {
    for (const server of servers) await server.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

process.on("SIGINT", () => {
  killStarted();
  process.exit(130);
});
await main();
