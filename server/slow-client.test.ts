/**
 * A client that acks everything at once and never reads its socket.
 *
 * The lab server runs as its own process (`node server/main.ts --driver host`),
 * as in production. An attacker sends its hello, stops reading its TCP socket
 * (ws `pause()`), starts `yes`, and for 30 s sends acks that claim output it
 * never read. A well-behaved reader on the same server types a key every
 * 200 ms meanwhile. The server's memory must stay bounded, the other reader's
 * echo fast, and the attacker's shell still answer Ctrl-C once it reads again.
 *
 * NWL_TEST_SERVER_MAIN=/path/to/other/server/main.ts runs the same attack on
 * another copy of the server (an older commit, to see what it did): that
 * server runs from its own tree, with the labs of that tree.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FlowDefaults, FrameKind, PROTOCOL_VERSION, SUBPROTOCOL, decodeFrame, encodeMessage, parseServerMessage } from "./protocol.ts";
import { processTree } from "../bench/lib/procs.ts";
import { ProtocolClient } from "./testing/protocol-client.ts";

const SERVER_MAIN = path.resolve(process.env.NWL_TEST_SERVER_MAIN ?? path.join(import.meta.dirname, "main.ts"));
const SERVER_ROOT = path.dirname(path.dirname(SERVER_MAIN));

const KiB = 1024;
const MiB = 1024 * KiB;
/** How long the attack lasts (the brief: 30 s, long enough for a leak of a few MB/s to pass any bound). */
const ATTACK_MS = 30_000;
/** The "far ahead" claim: +256 KiB every 5 ms (51 MB/s, faster than any pty here produces). */
const FAR_TICK_MS = 5;
const FAR_STEP = 256 * KiB;
/**
 * A server that ignored acks beyond its stream (the code before 64ef1dd did)
 * is not fooled by far-ahead claims alone: the attacker also sends, every
 * 50 ms, a ladder of acks 128 KiB apart around a claim that grows at 4 MB/s
 * (below what `yes` through a pty gives here, 6–8 MB/s to a client that
 * reads), from 16 MiB below it to 1 MiB above it. Whatever such a server has
 * produced, one rung lands within 128 KiB of its end (under the 256 KiB low
 * watermark, so a paused pty resumes): that is an attacker who acks exactly
 * what was sent without reading any of it.
 */
const LADDER_TICK_MS = 50;
const LADDER_RATE_BYTES_PER_S = 4_000_000;
const LADDER_BELOW = 16 * MiB;
const LADDER_ABOVE = 1 * MiB;
const LADDER_STEP = 128 * KiB;
/**
 * Server RSS may grow at most this much during the attack, over its RSS after
 * an ordinary flood that a client read (the warm-up below). What the attack
 * may legitimately add: the replay buffer (2 MiB) and the screen state's ring
 * of evicted output (about as much) of the attacker's session, output handed
 * to the socket but not yet written (at most the 512 KiB high watermark plus
 * one 256 KiB flush) and the frames built from it (one copy), and V8's heap
 * sizing itself for another burst of allocation (the young generation's
 * semi-spaces are up to 16 MiB each). What the kernel's socket buffers hold
 * is not in the process' RSS. Measured here: 3–20 MiB. A server that queues
 * what the attacker does not read passes 64 MiB within ~16 s at the ladder's
 * 4 MB/s.
 */
const RSS_GROWTH_BOUND = 64 * MiB;
const RSS_SAMPLE_MS = 250;
/** The warm-up flood read honestly before the attack: ~5 s of `yes` at the rates here. */
const WARM_UP_BYTES = 32_000_000;
/** The other reader types a key this often (the brief: one every 200 ms, ~150 samples over the attack). */
const KEY_EVERY_MS = 200;
/**
 * Echo p99 over the attack. An idle server echoes in 1–5 ms here; 250 ms is
 * where a reader starts to notice. (The code before 64ef1dd stayed under it
 * too, at 27–150 ms p99 under this attack: this bound guards the other
 * reader's responsiveness, the RSS bound catches the queueing.)
 */
const ECHO_P99_BOUND_MS = 250;
/**
 * Once the attacker reads again, its Ctrl-C must give the prompt back within
 * this. What is left to drain is the kernel's socket buffers (a few MiB) plus
 * at most the high watermark: well under a second at the rates above; 10 s
 * leaves room for a loaded 2-core machine.
 */
const CTRL_C_BOUND_MS = 10_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Server {
  child: ChildProcess;
  pid: number;
  url: string;
  token: string;
  log(): string;
}

let server: Server;
let dataDir: string;
let lab: string;

function vmRssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`no VmRSS for ${pid}`);
  return Number(match[1]) * KiB;
}


async function startServer(): Promise<Server> {
  dataDir = mkdtempSync(path.join(tmpdir(), "nwl-slow-client-"));
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith("npm_") && key !== "NODE_OPTIONS") env[key] = value;
  }
  // process.execPath: this test runs on Node 24, which runs main.ts as it is.
  const child = spawn(process.execPath, [SERVER_MAIN, "--driver", "host", "--port", "0", "--data-dir", dataDir], {
    cwd: SERVER_ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (data: Buffer) => {
    output = (output + data.toString("utf8")).slice(-16_000);
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  const deadline = Date.now() + 30_000;
  // The link on a line of its own; the older server printed its URL without a token.
  let link: string | undefined;
  while (!link) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}:\n${output}`);
    if (Date.now() > deadline) throw new Error(`server did not print its link:\n${output}`);
    link = output.split("\n").map((line) => line.trim()).find((line) => /^http:\/\/127\.0\.0\.1:\d+\/(#token=\S+)?$/.test(line));
    if (!link) await sleep(50);
  }
  const url = new URL(link);
  // A server without tokens ignores the field, so the test sends one either way.
  const token = new URLSearchParams(url.hash.slice(1)).get("token") ?? "no-token-needed-by-this-server";
  url.hash = "";
  return { child, pid: child.pid!, url: url.toString(), token, log: () => output };
}

beforeAll(async () => {
  server = await startServer();
  const health = (await (await fetch(new URL("healthz", server.url), { headers: { authorization: `Bearer ${server.token}` } })).json()) as { labs: string[] | null };
  lab = health.labs?.[0] ?? "sandbox";
});

afterAll(async () => {
  if (!server) return;
  const tree = processTree(server.pid);
  if (server.child.exitCode === null) {
    server.child.kill("SIGTERM");
    await Promise.race([new Promise((resolve) => server.child.once("exit", resolve)), sleep(10_000)]);
  }
  for (const pid of tree) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  rmSync(dataDir, { recursive: true, force: true });
});

/** The attacker: plain ws, frames decoded only once it reads again, the tail of its output kept. */
class Attacker {
  readonly socket: WebSocket;
  tail = "";
  received = 0;
  offset = 0;
  private acked = 0;
  private welcomed: Promise<void>;

  constructor(url: string, token: string) {
    this.socket = new WebSocket(new URL("ws", url.replace(/^http/, "ws")).toString(), SUBPROTOCOL, { perMessageDeflate: false });
    this.welcomed = new Promise((resolve, reject) => {
      this.socket.on("error", reject);
      this.socket.once("close", (code) => reject(new Error(`attacker closed with ${code} before its welcome`)));
      this.socket.on("message", (data, isBinary) => {
        if (!isBinary) {
          const parsed = parseServerMessage(String(data));
          if (parsed.ok && parsed.message.type === "welcome") {
            this.offset = parsed.message.offset;
            resolve();
          }
          return;
        }
        const frame = decodeFrame(data as Buffer);
        if (!frame || frame.kind !== FrameKind.output) return;
        this.offset = frame.offset + frame.payload.byteLength;
        this.received += frame.payload.byteLength;
        this.tail = (this.tail + Buffer.from(frame.payload).toString("latin1")).slice(-8192);
        // Once it reads again it behaves: acks what it has processed, every ack interval.
        if (this.offset - this.acked >= FlowDefaults.ackIntervalBytes) this.ack(this.offset);
      });
    });
    this.socket.once("open", () => {
      this.send({ type: "hello", version: PROTOCOL_VERSION, lab, cols: 80, rows: 24, token });
    });
  }

  welcome(): Promise<void> {
    return this.welcomed;
  }

  send(message: Parameters<typeof encodeMessage>[0]): void {
    this.socket.send(encodeMessage(message));
  }

  ack(offset: number): void {
    this.acked = Math.max(this.acked, offset);
    this.send({ type: "ack", offset });
  }

  type(text: string): void {
    this.socket.send(Buffer.from(text, "utf8"));
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.POSITIVE_INFINITY;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

describe("a client that acks everything at once and never reads its socket", () => {
  it(
    "cannot make the server queue output: bounded RSS, fast echo for others, Ctrl-C still works",
    async () => {
      // The well-behaved reader: `cat` in canonical mode, so each key comes back as the tty's echo and nothing else prints a K.
      const reader = await ProtocolClient.connect(server.url, { lab, token: server.token });
      reader.type("PS1='$ '; PROMPT_COMMAND=; echo READY-$((20+22)); cat\r");
      await reader.waitForText("READY-42");
      await sleep(300);
      let echoed = 0;
      const KEY = 0x4b; // "K"
      reader.socket.on("message", (data, isBinary) => {
        if (!isBinary) return;
        const frame = decodeFrame(data as Buffer);
        if (!frame || frame.kind !== FrameKind.output) return;
        for (const byte of frame.payload) if (byte === KEY) echoed++;
      });

      const attacker = new Attacker(server.url, server.token);
      await attacker.welcome();
      const idleRss = vmRssBytes(server.pid);
      // First an ordinary flood that the attacker reads and acks like any client: the server's
      // heap takes the shape a flood gives it (V8 grows its young generation to its maximum
      // under a flood's allocation rate, tens of MiB whoever the client is). What the
      // attack adds beyond that is what the bound is about.
      attacker.type(`PS1='$ '; PROMPT_COMMAND=; yes | head -c ${WARM_UP_BYTES}; echo WARM-$((2+3))\r`);
      const warmStarted = performance.now();
      while (!attacker.tail.includes("WARM-5")) {
        if (performance.now() - warmStarted > 60_000) throw new Error(`the warm-up flood did not end; tail:\n${attacker.tail.slice(-500)}`);
        await sleep(50);
      }
      await sleep(500);
      const baseRss = vmRssBytes(server.pid);

      // From here on the attacker does not read: ws stops reading its TCP socket.
      attacker.socket.pause();
      const receivedBeforeAttack = attacker.received;
      attacker.type("yes\r");
      // One huge claim first: everything there will ever be.
      attacker.ack(Number.MAX_SAFE_INTEGER);
      const started = performance.now();
      // Claims count from where the stream stood when it stopped reading (what it last saw).
      const from = attacker.offset;
      let far = from;
      const farTimer = setInterval(() => {
        far += FAR_STEP;
        attacker.ack(far);
      }, FAR_TICK_MS);
      const ladderTimer = setInterval(() => {
        const claim = from + Math.floor(((performance.now() - started) / 1000) * LADDER_RATE_BYTES_PER_S);
        const top = claim + LADDER_ABOVE;
        for (let rung = Math.max(from + LADDER_STEP, claim - LADDER_BELOW); rung <= top; rung += LADDER_STEP) attacker.ack(rung);
      }, LADDER_TICK_MS);

      let maxRss = baseRss;
      const rssTimeline: number[] = [];
      const rssTimer = setInterval(() => {
        try {
          const rss = vmRssBytes(server.pid);
          maxRss = Math.max(maxRss, rss);
          rssTimeline.push(rss);
        } catch {
          // the server is gone: the liveness check below says so
        }
      }, RSS_SAMPLE_MS);

      const sentAt: number[] = [];
      const latencies: number[] = [];
      const onEcho = () => {
        while (latencies.length < Math.min(echoed, sentAt.length)) latencies.push(performance.now() - sentAt[latencies.length]!);
      };
      reader.socket.on("message", onEcho);
      const keyTimer = setInterval(() => {
        sentAt.push(performance.now());
        reader.type("K");
      }, KEY_EVERY_MS);

      await sleep(ATTACK_MS);
      clearInterval(keyTimer);
      clearInterval(farTimer);
      clearInterval(ladderTimer);
      // The last keys get their time to come back before they count as lost.
      await sleep(Math.max(ECHO_P99_BOUND_MS * 2, 1000));
      clearInterval(rssTimer);
      maxRss = Math.max(maxRss, vmRssBytes(server.pid));
      const endRss = vmRssBytes(server.pid);
      const lost = sentAt.length - latencies.length;
      const sorted = [...latencies].sort((a, b) => a - b);
      // A key that never came back counts as slower than any bound.
      const p99 = lost > 0 && lost >= sentAt.length * 0.01 ? Number.POSITIVE_INFINITY : percentile(sorted, 99);

      // The attacker reads again: Ctrl-C, then a marker that only the shell's answer contains.
      const received = attacker.received;
      attacker.type("\x03");
      attacker.type("echo DONE-$((6*7))\r");
      const interrupted = performance.now();
      attacker.socket.resume();
      let ctrlCMs: number | undefined;
      while (performance.now() - interrupted < CTRL_C_BOUND_MS * 2) {
        if (attacker.tail.includes("DONE-42")) {
          ctrlCMs = performance.now() - interrupted;
          break;
        }
        await sleep(20);
      }
      const drainedMB = (attacker.received - received) / MiB;

      const healthy = await fetch(new URL("healthz", server.url), { headers: { authorization: `Bearer ${server.token}` } }).then(
        (response) => response.ok,
        () => false,
      );
      const figures = {
        server: SERVER_MAIN,
        idleRssMiB: +(idleRss / MiB).toFixed(1),
        baseRssMiB: +(baseRss / MiB).toFixed(1),
        maxRssMiB: +(maxRss / MiB).toFixed(1),
        growthMiB: +((maxRss - baseRss) / MiB).toFixed(1),
        growthOverIdleMiB: +((maxRss - idleRss) / MiB).toFixed(1),
        endRssMiB: +(endRss / MiB).toFixed(1),
        // One sample every 5 s: a plateau is a bound, a slope is a leak.
        rssEvery5sMiB: rssTimeline.filter((_, index) => index % (5000 / RSS_SAMPLE_MS) === 0).map((rss) => Math.round(rss / MiB)),
        attackerReadDuringAttackMiB: +((received - receivedBeforeAttack) / MiB).toFixed(2),
        drainedAfterResumeMiB: +drainedMB.toFixed(1),
        echoSamples: sentAt.length,
        echoLost: lost,
        echoP50Ms: +percentile(sorted, 50).toFixed(1),
        echoP99Ms: Number.isFinite(p99) ? +p99.toFixed(1) : "lost",
        echoMaxMs: +(sorted.at(-1) ?? Number.NaN).toFixed(1),
        ctrlCToPromptMs: ctrlCMs === undefined ? "never" : Math.round(ctrlCMs),
        serverUp: server.child.exitCode === null && healthy,
      };
      console.log(`slow-client figures: ${JSON.stringify(figures)}`);

      expect(figures.serverUp, `server exited or stopped answering:\n${server.log().slice(-3000)}`).toBe(true);
      expect(maxRss - baseRss, `server RSS grew ${figures.growthMiB} MiB`).toBeLessThan(RSS_GROWTH_BOUND);
      expect(p99, `echo p99 ${figures.echoP99Ms} ms (lost ${lost} of ${sentAt.length})`).toBeLessThan(ECHO_P99_BOUND_MS);
      expect(ctrlCMs, "the attacker's Ctrl-C never gave the prompt back").toBeDefined();
      expect(ctrlCMs!).toBeLessThan(CTRL_C_BOUND_MS);

      // And the server still serves a new shell.
      const fresh = await ProtocolClient.connect(server.url, { lab, token: server.token });
      fresh.type("echo FRESH-$((7*6))\r");
      await fresh.waitForText("FRESH-42");
      await fresh.close();
      await reader.close();
      attacker.socket.close(1000);
    },
    ATTACK_MS + 90_000,
  );
});
