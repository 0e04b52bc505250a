/**
 * A bounded fuzzer of the terminal protocol: 20,000 frames, valid and
 * invalid, over a few hundred connections to a real server (real WebSocket,
 * real ptys, host driver), from a seeded PRNG. A failure prints the seed;
 * NWL_FUZZ_SEED=<seed> replays the same frames (timing aside).
 *
 * Afterwards the server must still serve a shell, hold no session, no
 * environment, no process of a terminal, and its heap must be back where it
 * started.
 */
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import type { Socket } from "node:net";
import path from "node:path";
import v8 from "node:v8";
import vm from "node:vm";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FrameKind, PROTOCOL_VERSION, SUBPROTOCOL, decodeFrame, parseServerMessage } from "./protocol.ts";
import { ProtocolClient } from "./testing/protocol-client.ts";
import { TEST_TOKEN, startTestServer, waitUntil } from "./testing/lab-server.ts";

/** 20,000 frames: 12–16 s here (2 cores). NWL_FUZZ_FRAMES=N runs longer (to see whether anything grows with N). */
const TOTAL_FRAMES = Number(process.env.NWL_FUZZ_FRAMES ?? 20_000);
/**
 * A budget of 20–180 frames a connection (~100): 200 connections if each used
 * its budget. Most do not: the server closes a connection at its first junk
 * frame before the hello, a bad token, an oversized or non-UTF-8 frame, so a
 * run makes ~1,200–1,400 connections, ~400 of them welcomed to a shell.
 */
const FRAMES_PER_CONNECTION = [20, 180] as const;
/** Connections open at once: enough to interleave sessions, few enough that 2 cores spawn their shells in time. */
const CONCURRENCY = 16;
/** Frames over this are refused by ws with 1009; small, so oversized frames cost little to send. */
const MAX_PAYLOAD = 64 * 1024;
/**
 * The heap of this process, server included (after full GCs), may end at most
 * this far above where it stood after the warm-up. What may legitimately stay:
 * nothing per connection or session (all are gone), only what fills once
 * (code and inline caches of paths first taken, zod's and pino's caches).
 * Measured here: −0.8 to +1.0 MiB over 20,000 frames, +0.7 and +1.1 MiB over
 * 60,000: it does not grow with the count. 4 MiB is what a leak of ~3 KiB per
 * connection (~1,300) or ~200 B per frame (20,000) would pass; a leaked
 * session (its screen's xterm, its replay ring) costs far more than that.
 */
const HEAP_GROWTH_BOUND = 4 * 1024 * 1024;
/** Connections fuzzed before the heap baseline, so code and caches that fill once (first error of each kind, first shell) are in it. */
const WARM_UP_CONNECTIONS = 40;
const READER = "fuzzer";
const READER_TOKEN = "fuzz-reader-token-0123456789";

const SEED = Number(process.env.NWL_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32));

/** mulberry32: small, fast, good enough to pick frames, and the same for a seed everywhere. */
function prng(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  return {
    next,
    int,
    chance: (p: number) => next() < p,
    pick: <T,>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
    bytes: (n: number) => {
      const buffer = Buffer.alloc(n);
      for (let i = 0; i < n; i++) buffer[i] = int(0, 255);
      return buffer;
    },
    /** A weighted choice: [weight, value] pairs. */
    weighted: <T,>(choices: readonly (readonly [number, T])[]): T => {
      const total = choices.reduce((sum, [weight]) => sum + weight, 0);
      let at = next() * total;
      for (const [weight, value] of choices) {
        at -= weight;
        if (at < 0) return value;
      }
      return choices.at(-1)![1];
    },
  };
}
type Rng = ReturnType<typeof prng>;

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
let wsUrl: string;

const gc = (() => {
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as () => void;
})();

async function settledHeap(): Promise<number> {
  // Several rounds: finalizers and weak callbacks free more on the next one.
  for (let round = 0; round < 4; round++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return v8.getHeapStatistics().used_heap_size;
}

interface ProcInfo {
  pid: number;
  ppid: number;
  sid: number;
  state: string;
  command: string;
}

function processes(): ProcInfo[] {
  const list: ProcInfo[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // state ppid pgrp session ... after the command name, which may hold spaces.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      list.push({ pid: Number(entry), state: fields[0]!, ppid: Number(fields[1]), sid: Number(fields[3]), command: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")) });
    } catch {
      // gone while we looked
    }
  }
  return list;
}

/** What the server said, summed over the run (printed, and checked for garbage). */
const seen = emptyTally();
function emptyTally() {
  return {
    connections: 0,
    frames: 0,
    refusedUpgrades: 0,
    welcomes: 0,
    resumed: 0,
    errors: new Map<string, number>(),
    closeCodes: new Map<number, number>(),
    outputBytes: 0,
    undecodable: [] as string[],
  };
}
const bump = <K,>(map: Map<K, number>, key: K) => map.set(key, (map.get(key) ?? 0) + 1);

/** Ids the server handed out, to use in other connections' hellos. */
const pools = { operatorSessions: [] as string[], readerSessions: [] as string[], environments: [] as string[] };
const remember = (list: string[], id: string) => {
  list.push(id);
  if (list.length > 64) list.shift();
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Input the shell may get. Only whole UTF-8 characters and harmless keys: the server passes
 * input bytes through untouched whatever they are, but bash interprets them, and random
 * control bytes could make it run something (C-x C-e, M-C-e, Enter). No Enter except in the
 * fixed, harmless commands below. */
const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i));
const UNICODE = ["é", "€", "漢", "✓", "🙂", "ß", "ñ", "Ω", "\u200b", "\u00a0"];
const KEYS = ["\x03", "\x15", "\x7f", "\x08", "\x01", "\x1b[A", "\x1b[B", "\x1b[C", "\x1b[D", "\x1b[3~", "\x1b[200~", "\x1b[201~"];
const COMMANDS = [
  "\x03\x15echo fuzz-$((40+2))\r",
  // A flood bigger than the high watermark: flow control pauses while the fuzzer does not ack.
  "\x03\x15yes fuzz | head -c 700000\r",
  // A background job, which the session's end must take with it.
  "\x03\x15sleep 60 &\r",
  "\x03\x15exit\r",
];

function randomInput(rng: Rng): Buffer {
  if (rng.chance(0.08)) return Buffer.from(rng.pick(COMMANDS));
  let text = "";
  const length = rng.int(1, 64);
  for (let i = 0; i < length; i++) {
    text += rng.weighted([
      [20, () => rng.pick(PRINTABLE)],
      [3, () => rng.pick(UNICODE)],
      [2, () => rng.pick(KEYS)],
    ] as const)();
  }
  return Buffer.from(text, "utf8");
}

function randomHuge(rng: Rng): unknown {
  return rng.pick([
    Number.MAX_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER + 2,
    2 ** 64,
    1e308,
    -1,
    -(2 ** 40),
    0,
    0.5,
    -0,
    "1e400",
    "12",
    null,
    true,
    [],
    {},
    rng.int(0, 2 ** 31),
  ]);
}

/** Raw JSON with numbers JSON.stringify cannot write (1e400 parses as Infinity). */
function withRawNumbers(text: string): string {
  return text.replace(/"1e400"/g, "1e400");
}

type Token = "operator" | "reader" | "bad" | "missing" | "long";

function hello(rng: Rng, token: Token, valid: boolean): string {
  const message: Record<string, unknown> = { type: "hello", version: PROTOCOL_VERSION, lab: "sandbox", cols: rng.int(2, 300), rows: rng.int(2, 100) };
  if (token === "operator") message.token = TEST_TOKEN;
  else if (token === "reader") message.token = READER_TOKEN;
  else if (token === "bad") message.token = rng.pick(["wrong-token-0123456789abcdef", TEST_TOKEN.slice(0, -1), `${TEST_TOKEN}x`, "", " ", TEST_TOKEN.toUpperCase()]);
  else if (token === "long") message.token = "t".repeat(rng.int(513, 4000));
  if (rng.chance(0.3) && pools.environments.length) message.environment = rng.pick(pools.environments);
  if (rng.chance(0.15)) {
    const pool = rng.chance(0.5) ? pools.operatorSessions : pools.readerSessions;
    message.session = pool.length ? rng.pick(pool) : "AAAAAAAAAAAAAAAAAAAAAA";
    message.offset = rng.chance(0.5) ? 0 : rng.int(0, 5_000_000);
  }
  if (!valid) {
    const mutation = rng.int(0, 12);
    if (mutation === 0) message.version = rng.pick([0, 2, "1", null, 1.5]);
    else if (mutation === 1) message.lab = rng.pick(["nope", "", "../etc", "a".repeat(65), 7, "sand box"]);
    else if (mutation === 2) message.cols = rng.pick([0, 1, 1001, -5, 80.5, "80", 1e9]);
    else if (mutation === 3) message.rows = rng.pick([0, 1, 1001, -5, 24.5, null]);
    else if (mutation === 4) message.session = rng.pick(["", "has space", "x".repeat(65), 42, "../../x"]);
    else if (mutation === 5) message.offset = randomHuge(rng);
    else if (mutation === 6) message.environment = rng.pick(["", "ü", "x".repeat(200), {}, []]);
    else if (mutation === 7) delete message.lab;
    else if (mutation === 8) delete message.cols;
    else if (mutation === 9) message.token = randomHuge(rng);
    else if (mutation === 10) message.extra = "x".repeat(rng.int(1, 2000));
    else if (mutation === 11) message.type = "Hello";
    else delete message.version;
  }
  return withRawNumbers(JSON.stringify(message));
}

/** One frame, chosen at random; the socket may be before or after its hello. */
function randomFrame(rng: Rng, token: Token, stream: { offset: number }): { data: string | Buffer; binary: boolean; fin?: boolean } {
  const text = (value: unknown) => ({ data: withRawNumbers(JSON.stringify(value)), binary: false });
  return rng.weighted<() => { data: string | Buffer; binary: boolean; fin?: boolean }>([
    [30, () => ({ data: randomInput(rng), binary: true })],
    // A client that acks what it got, and one that claims too much or nonsense.
    [10, () => text({ type: "ack", offset: stream.offset })],
    [8, () => text({ type: "ack", offset: rng.pick([stream.offset + rng.int(1, 2 ** 30), Number.MAX_SAFE_INTEGER, -rng.int(1, 1000), 0]) })],
    [5, () => text({ type: "ack", offset: randomHuge(rng) })],
    [6, () => text({ type: "resize", cols: rng.int(2, 1000), rows: rng.int(2, 1000) })],
    [5, () => text({ type: "resize", cols: rng.pick([0, 1, 1001, 65536, -1, 1e12, 2.5, "80"]), rows: rng.pick([0, 1, 1001, 65536, -1, null]) })],
    [4, () => ({ data: hello(rng, rng.chance(0.7) ? token : rng.pick(["operator", "reader", "bad", "missing", "long"] as const), rng.chance(0.6)), binary: false })],
    [3, () => text({ type: "leave" })],
    [4, () => text({ type: rng.pick(["bogus", "welcome", "exit", "error", "notice", "", "ACK", "input"]), offset: 1, code: 0 })],
    [
      6,
      () => ({
        data: rng.pick([
          "{",
          "}",
          "null",
          "[]",
          "42",
          '"hello"',
          '{"type":',
          '{"type":"ack","offset":}',
          '{"type":"ack" "offset":1}',
          "{'type':'ack'}",
          '{"type":["ack"]}',
          '{"type":{"type":"ack"}}',
          '{"__proto__":{"type":"ack"},"offset":1}',
          '{"type":"ack","offset":1,"type":"leave"}',
          "",
          " ",
          "\u0000",
          "\ud800",
          rng.bytes(rng.int(1, 64)).toString("latin1"),
        ]),
        binary: false,
      }),
    ],
    [3, () => text({ type: "ack", offset: 1, nested: { deep: Array.from({ length: rng.int(1, 50) }, () => ({ a: [1, { b: "c" }] })) } })],
    // Text frames whose bytes are not UTF-8: ws refuses them (1007).
    [1, () => ({ data: Buffer.concat([Buffer.from('{"type":"ack","offset":'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from("}")]), binary: false })],
    // Over maxPayload, either kind: 1009.
    [1, () => ({ data: Buffer.alloc(MAX_PAYLOAD + rng.int(1, 4096), rng.chance(0.5) ? 0x61 : 0), binary: rng.chance(0.5) })],
    // A message in fragments: the first without FIN (the next frame, whatever it is, continues or breaks it).
    [2, () => ({ data: Buffer.from('{"type":"ack",'), binary: false, fin: false })],
    [5, () => ({ data: rng.bytes(rng.int(0, 512)), binary: true })],
  ])();
}

/** One fuzz connection: up to `budget` frames; returns how many it sent. */
async function fuzzConnection(rng: Rng, budget: number): Promise<number> {
  seen.connections++;
  const upgrade = rng.weighted([
    [94, "normal"],
    [2, "bad-origin"],
    [2, "no-subprotocol"],
    [2, "bad-host"],
  ] as const);
  const options: WebSocket.ClientOptions = { perMessageDeflate: false, handshakeTimeout: 5000 };
  if (upgrade === "bad-origin") options.origin = rng.pick(["http://evil.example", "null", "http://127.0.0.1.evil.example:1"]);
  if (upgrade === "bad-host") options.headers = { host: rng.pick(["evil.example", "127.0.0.1.nip.io", ""]) };
  const token: Token = rng.weighted([
    [50, "operator"],
    [33, "reader"],
    [10, "bad"],
    [5, "missing"],
    [2, "long"],
  ] as const);
  const socket = new WebSocket(wsUrl, upgrade === "no-subprotocol" ? [] : SUBPROTOCOL, options);
  let sent = 0;
  const stream = { offset: 0 };
  let welcomed = false;
  let closed = false;
  const closedPromise = new Promise<void>((resolve) => {
    socket.on("close", (code) => {
      closed = true;
      bump(seen.closeCodes, code);
      resolve();
    });
  });
  socket.on("error", () => {});
  socket.on("message", (data, isBinary) => {
    const buffer = data as Buffer;
    if (isBinary) {
      const frame = decodeFrame(buffer);
      if (!frame) {
        seen.undecodable.push(`binary ${buffer.subarray(0, 16).toString("hex")}`);
        return;
      }
      if (frame.kind === FrameKind.output) {
        if (frame.offset !== stream.offset) seen.undecodable.push(`stream gap: at ${stream.offset}, frame at ${frame.offset}`);
        stream.offset = frame.offset + frame.payload.byteLength;
        seen.outputBytes += frame.payload.byteLength;
      } else stream.offset = frame.offset;
      return;
    }
    const parsed = parseServerMessage(buffer.toString("utf8"));
    if (!parsed.ok) {
      seen.undecodable.push(`text ${buffer.toString("utf8").slice(0, 200)}: ${parsed.error}`);
      return;
    }
    const message = parsed.message;
    if (message.type === "welcome") {
      welcomed = true;
      seen.welcomes++;
      if (message.replay !== "new") seen.resumed++;
      stream.offset = message.offset;
      remember(token === "reader" ? pools.readerSessions : pools.operatorSessions, message.session);
      remember(pools.environments, message.environment);
    } else if (message.type === "error") bump(seen.errors, message.code);
  });
  const opened = await new Promise<boolean>((resolve) => {
    socket.once("open", () => resolve(true));
    socket.once("unexpected-response", (request) => {
      request.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(false));
    socket.once("close", () => resolve(false));
  });
  // A refused upgrade is one request the server answered.
  if (!opened) {
    seen.refusedUpgrades++;
    socket.terminate();
    return 1;
  }
  const raw = (socket as unknown as { _socket: Socket })._socket;
  const send = (frame: { data: string | Buffer; binary: boolean; fin?: boolean }) => {
    if (closed || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(frame.data, { binary: frame.binary, fin: frame.fin ?? true });
    sent++;
    return true;
  };
  // Junk before the hello, sometimes (most of it ends the connection: that is the point).
  while (rng.chance(0.12) && sent < budget) send(randomFrame(rng, token, stream));
  // The hello, mostly valid; sometimes none at all (the hello timeout closes it).
  if (rng.chance(0.93) && sent < budget) {
    send({ data: hello(rng, token, rng.chance(0.85)), binary: false });
    // Mostly wait for the welcome, so later frames meet an attached session; sometimes not.
    if (rng.chance(0.85)) {
      const deadline = performance.now() + 5000;
      while (!welcomed && !closed && performance.now() < deadline) await sleep(5);
    }
  }
  while (sent < budget && !closed) {
    send(randomFrame(rng, token, stream));
    if (rng.chance(0.1)) await sleep(rng.int(0, 15));
    else if (sent % 8 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  // The end: every way a connection goes away.
  const ending = rng.weighted([
    [25, "close-normal"],
    [20, "terminate"],
    [12, "leave"],
    [10, "reconnecting"],
    [5, "odd-code"],
    [10, "mid-frame"],
    [5, "raw-garbage"],
    [5, "mid-fragment"],
    [8, "wait-for-server"],
  ] as const);
  if (!closed) {
    if (ending === "close-normal") socket.close(1000);
    else if (ending === "terminate") socket.terminate();
    else if (ending === "leave") {
      send({ data: JSON.stringify({ type: "leave" }), binary: false });
      socket.close(1001);
    } else if (ending === "reconnecting") socket.close(4001);
    else if (ending === "odd-code") socket.close(rng.pick([3000, 4000, 4999, 4410]));
    else if (ending === "mid-frame") {
      // A masked binary frame that announces 1000 bytes and carries 10, then the TCP connection drops.
      raw.write(Buffer.concat([Buffer.from([0x82, 0x80 | 126, 0x03, 0xe8]), rng.bytes(4), rng.bytes(10)]));
      sent++;
      raw.destroy();
    } else if (ending === "raw-garbage") {
      // Bytes that are no WebSocket framing (unmasked, reserved bits, bad opcodes): ws closes with 1002.
      raw.write(rng.bytes(rng.int(2, 256)));
      sent++;
      await sleep(rng.int(0, 20));
      socket.terminate();
    } else if (ending === "mid-fragment") {
      send({ data: Buffer.from("partial input"), binary: true, fin: false });
      socket.terminate();
    }
  }
  await Promise.race([closedPromise, sleep(ending === "wait-for-server" ? 300 : 3000)]);
  if (!closed) socket.terminate();
  await closedPromise;
  return Math.max(sent, 1);
}

/** Children of this process and what runs in their terminal sessions. */
const leaders = new Set<number>();
function recordLeaders(): void {
  for (const proc of processes()) if (proc.ppid === process.pid) leaders.add(proc.pid);
}
function leftovers(baseline: Set<number>): ProcInfo[] {
  return processes().filter((proc) => proc.pid !== process.pid && !baseline.has(proc.pid) && (proc.ppid === process.pid || leaders.has(proc.sid)));
}

beforeAll(async () => {
  server = await startTestServer(
    {
      limits: {
        maxPayloadBytes: MAX_PAYLOAD,
        upgradesPerMinutePerAddress: 100_000,
        // Small limits (they hold for the operator too), so refusals are fuzzed as well.
        maxConnectionsPerReader: 64,
        maxSessionsPerReader: 8,
        maxEnvironmentsPerReader: 4,
        // Short, so every session and environment ends within seconds of its connection.
        graceMs: 300,
        leaveGraceMs: 200,
        environmentGraceMs: 200,
        helloTimeoutMs: 1000,
      },
    },
    { labs: ["sandbox"] },
  );
  // An invited reader besides the operator: their hellos naming the operator's sessions must fail.
  writeFileSync(path.join(server.dataDir, "readers"), `${READER} ${READER_TOKEN}\n`, { mode: 0o600 });
  wsUrl = new URL("ws", server.url.replace(/^http/, "ws")).toString();
});

afterAll(async () => {
  await server?.close();
});

async function runsACommand(): Promise<void> {
  const client = await ProtocolClient.connect(server.url, { lab: "sandbox" });
  expect(client.welcome, `no welcome: close ${client.closeCode} ${client.closeReason}`).toBeDefined();
  client.type("echo FRESH-$((6*7))\r");
  await client.waitForText("FRESH-42");
  await client.close();
}

describe(`protocol fuzz (seed ${SEED}; NWL_FUZZ_SEED=${SEED} replays it)`, () => {
  it(
    `survives ${TOTAL_FRAMES} random frames and leaves no session, environment, process or heap behind`,
    async () => {
      console.log(`fuzz seed: ${SEED} (NWL_FUZZ_SEED=${SEED} npx vitest run server/fuzz.test.ts)`);
      const rng = prng(SEED);
      const baselineChildren = new Set(processes().filter((proc) => proc.ppid === process.pid).map((proc) => proc.pid));

      // Warm-up: every code path's first use (modules, schemas, a shell, a refusal) before the heap baseline.
      await runsACommand();
      const warmUp = prng(SEED ^ 0x5eed);
      for (let round = 0; round < WARM_UP_CONNECTIONS; round++) await fuzzConnection(warmUp, warmUp.int(...FRAMES_PER_CONNECTION));
      await waitUntil(() => server.sessions.sessionCount === 0 && server.sessions.environmentCount === 0, 10_000, "warm-up sessions to end");
      Object.assign(seen, emptyTally());
      const heapBefore = await settledHeap();

      const sampler = setInterval(recordLeaders, 50);
      const started = performance.now();
      let remaining = TOTAL_FRAMES;
      let maxSessions = 0;
      const watch = setInterval(() => {
        maxSessions = Math.max(maxSessions, server.sessions.sessionCount);
      }, 50);
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (remaining > 0) {
            const budget = Math.min(remaining, rng.int(...FRAMES_PER_CONNECTION));
            remaining -= budget;
            const sent = await fuzzConnection(rng, budget);
            seen.frames += sent;
            // Frames a connection could not send (the server closed it first) go to the next one.
            remaining += budget - sent;
          }
        }),
      );
      const fuzzSeconds = (performance.now() - started) / 1000;
      clearInterval(watch);

      // Every session and environment ends (grace periods of 200–300 ms; a shell takes a moment to die).
      const drained = () =>
        waitUntil(() => server.sessions.sessionCount === 0 && server.sessions.environmentCount === 0, 15_000, `sessions (${server.sessions.sessionCount}) and environments (${server.sessions.environmentCount}) to end`);
      await drained();
      // The server is up and serves a fresh shell (once the fuzzing reader's environments are gone: its limits hold).
      await runsACommand();
      await drained();
      clearInterval(sampler);
      // No shell, no background job of one: killSessionProcesses SIGKILLs stragglers after 500 ms.
      try {
        await waitUntil(() => leftovers(baselineChildren).length === 0, 5000, "terminal processes to go");
      } catch {
        // reported below with the list
      }
      const left = leftovers(baselineChildren);

      // Drop what the test itself holds before weighing the heap.
      pools.operatorSessions.length = pools.readerSessions.length = pools.environments.length = 0;
      const heapAfter = await settledHeap();

      const figures = {
        seed: SEED,
        frames: seen.frames,
        connections: seen.connections,
        refusedUpgrades: seen.refusedUpgrades,
        seconds: +fuzzSeconds.toFixed(1),
        framesPerSecond: Math.round(seen.frames / fuzzSeconds),
        welcomes: seen.welcomes,
        resumed: seen.resumed,
        maxSessionsAtOnce: maxSessions,
        shells: leaders.size,
        outputMiB: +(seen.outputBytes / 2 ** 20).toFixed(1),
        errors: Object.fromEntries(seen.errors),
        closeCodes: Object.fromEntries(seen.closeCodes),
        heapBeforeMiB: +(heapBefore / 2 ** 20).toFixed(2),
        heapAfterMiB: +(heapAfter / 2 ** 20).toFixed(2),
        heapGrowthKiB: Math.round((heapAfter - heapBefore) / 1024),
        leftoverProcesses: left.length,
      };
      console.log(`fuzz figures: ${JSON.stringify(figures)}`);

      expect(seen.frames).toBeGreaterThanOrEqual(TOTAL_FRAMES);
      // Everything the server sent was a frame of the protocol.
      expect(seen.undecodable).toEqual([]);
      // The fuzz reached the shell, not only the door.
      expect(seen.welcomes).toBeGreaterThan(50);
      expect(server.sessions.sessionCount).toBe(0);
      expect(server.sessions.environmentCount).toBe(0);
      expect(left.map((proc) => `${proc.pid} ${proc.state} ${proc.command} (ppid ${proc.ppid}, sid ${proc.sid})`)).toEqual([]);
      expect(heapAfter - heapBefore, `heap grew ${figures.heapGrowthKiB} KiB`).toBeLessThan(HEAP_GROWTH_BOUND);
    },
    180_000,
  );
});
