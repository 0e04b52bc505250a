/**
 * The measurements, each bounded in time and in work, each the same for
 * every peer: a peer is only a way to open a Term (and maybe a server pid).
 */
import { randomBytes } from "node:crypto";
import { sleep, treeMemory, type TreeMemory } from "./procs.ts";
import type { Chunk, Term } from "./term.ts";

export interface Peer {
  key: string;
  label: string;
  /** The server process, when there is one (node-pty alone has none). */
  serverPid?: number;
  connect(): Promise<Term>;
}

export interface Percentiles {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

export function percentiles(samples: number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b);
  // Nearest rank: p99 of 5000 samples is the 4950th.
  const at = (p: number) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
  return { n: sorted.length, p50: at(50), p99: at(99), max: sorted.at(-1) ?? NaN };
}

/** Runs `task` over `items`, at most `limit` at once. */
export async function mapLimit<T, R>(items: T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

async function openReady(peer: Peer): Promise<Term> {
  const term = await peer.connect();
  try {
    await term.waitForPrompt();
  } catch (error) {
    await term.close();
    throw error;
  }
  return term;
}

/** Time from opening the connection until the shell's prompt is on screen, sessions one after another. */
export async function connectToPrompt(peer: Peer, runs: number): Promise<Percentiles & { samples: number[] }> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const term = await openReady(peer);
    samples.push(performance.now() - started);
    await term.close();
    await sleep(50);
  }
  return { ...percentiles(samples), samples };
}

export interface EchoOptions {
  sessions: number;
  keysPerSession: number;
  /** Pause between a key's echo and the next key, drawn uniformly from this range (a typist). */
  gapMs: [number, number];
  /** Keys at the start of each session left out (first-touch costs). */
  warmupKeys: number;
}

export interface EchoResult extends Percentiles {
  sessions: number;
  timeouts: number;
  samples: number[];
  /** Keys slower than SLOW_MS: when (ms into the run), which session, how slow; stalls show as clusters. */
  slow: { at: number; session: number; ms: number }[];
}

const SLOW_MS = 20;

const KEY_TIMEOUT_MS = 3000;
const LETTERS = "abcdefghijklmnopqrstuvwxyz";

/**
 * Keystroke echo through `cat`: each session runs cat in a cooked tty; a
 * key is one letter sent, timed until that letter comes back (the tty's
 * echo, through the whole transport both ways). All sessions type at once.
 */
export async function echoLatency(peer: Peer, options: EchoOptions): Promise<EchoResult> {
  const terms = await mapLimit(Array.from({ length: options.sessions }), 10, () => openReady(peer));
  try {
    await Promise.all(
      terms.map(async (term) => {
        term.clearText();
        term.write("cat\r");
        await term.until(() => term.text.includes("cat\r\n"), 10_000, "cat to start");
      }),
    );
    await sleep(300);
    const samples: number[] = [];
    const slow: EchoResult["slow"] = [];
    const began = performance.now();
    let timeouts = 0;
    const [gapMin, gapMax] = options.gapMs;
    await Promise.all(
      terms.map(async (term, index) => {
        let failed = 0;
        for (let key = 0; key < options.keysPerSession && failed < 3; key++) {
          await sleep(gapMin + Math.random() * (gapMax - gapMin));
          if (key > 0 && key % 60 === 0) {
            // Ctrl-U empties cat's line (a cooked tty holds at most 4 KiB); its erase echo has no letters.
            term.write("\x15");
            await sleep(30);
          }
          const letter = LETTERS[(key + index) % LETTERS.length]!;
          term.clearText();
          const sent = performance.now();
          term.write(letter);
          try {
            await term.until(() => term.text.includes(letter), KEY_TIMEOUT_MS, `echo of ${letter}`);
          } catch {
            failed++;
            timeouts++;
            continue;
          }
          if (key < options.warmupKeys) continue;
          const ms = performance.now() - sent;
          samples.push(ms);
          if (ms > SLOW_MS && slow.length < 200) slow.push({ at: Math.round(sent - began), session: index, ms: +ms.toFixed(1) });
        }
      }),
    );
    return { ...percentiles(samples), sessions: options.sessions, timeouts, samples, slow };
  } finally {
    await Promise.all(terms.map((term) => term.close()));
  }
}

/** Terminal bytes that `head -c n /dev/urandom | base64 -w 120` puts on a tty (onlcr makes each \n a \r\n). */
export function expectedBase64Bytes(n: number): number {
  const encoded = 4 * Math.ceil(n / 3);
  const lines = Math.ceil(encoded / 120);
  return encoded + 2 * lines;
}

export interface ThroughputResult {
  mbPerSecond: number;
  bytes: number;
  expected: number;
  exact: boolean;
  seconds: number;
}

/**
 * Output throughput: the command's output is framed by two markers the
 * command line itself cannot contain (`__ST""x__` echoes with the quotes);
 * the bytes between them are counted and timed from first marker to last.
 */
export async function throughput(peer: Peer, n: number, timeoutMs: number): Promise<ThroughputResult> {
  const term = await openReady(peer);
  try {
    const tag = randomBytes(4).toString("hex");
    const start = `__ST${tag}__\r\n`;
    const end = `__EN${tag}__`;
    const startScan = new MarkerScan(start);
    const endScan = new MarkerScan(end);
    let phase: "start" | "body" | "done" = "start";
    let bytes = 0;
    let startedAt = 0;
    let endedAt = 0;
    const size = (chunk: Chunk, from = 0, to?: number) =>
      typeof chunk === "string" ? Buffer.byteLength(chunk.slice(from, to)) : (to ?? chunk.byteLength) - from;
    const body = (chunk: Chunk, from: number, at: number) => {
      const stop = endScan.scan(chunk, from);
      if (stop === undefined) {
        bytes += size(chunk, from);
        return;
      }
      // The end marker may have begun in an earlier chunk: those bytes were counted, take them back.
      bytes += stop >= from ? size(chunk, from, stop) : -(from - stop);
      phase = "done";
      endedAt = at;
    };
    term.sink = (chunk, at) => {
      if (phase === "start") {
        const begin = startScan.scan(chunk, 0);
        if (begin === undefined) return;
        phase = "body";
        startedAt = at;
        body(chunk, begin + start.length, at);
      } else if (phase === "body") body(chunk, 0, at);
    };
    term.write(`echo __ST""${tag}__; head -c ${n} /dev/urandom | base64 -w 120; echo __EN""${tag}__\r`);
    await term.until(() => phase === "done", timeoutMs, "the end marker");
    term.sink = undefined;
    const seconds = (endedAt - startedAt) / 1000;
    const expected = expectedBase64Bytes(n);
    return { mbPerSecond: bytes / 1e6 / seconds, bytes, expected, exact: bytes === expected, seconds };
  } finally {
    term.sink = undefined;
    await term.close();
  }
}

/**
 * Finds a marker in a stream of chunks, also when it straddles chunks.
 * scan() returns where the marker starts, relative to this chunk (negative
 * when it began in an earlier one), or undefined when it is not there yet.
 */
class MarkerScan {
  private readonly marker: string;
  private carry = "";

  constructor(marker: string) {
    this.marker = marker;
  }

  scan(chunk: Chunk, from: number): number | undefined {
    const keep = this.marker.length - 1;
    const head = typeof chunk === "string" ? chunk.slice(from, from + keep) : chunk.toString("latin1", from, from + keep);
    const joined = this.carry + head;
    const across = joined.indexOf(this.marker);
    if (across >= 0 && across < this.carry.length) return from + across - this.carry.length;
    const index = chunk.indexOf(this.marker, from);
    if (index >= 0) return index;
    const length = typeof chunk === "string" ? chunk.length : chunk.byteLength;
    const tail = typeof chunk === "string" ? chunk.slice(Math.max(from, length - keep)) : chunk.toString("latin1", Math.max(from, length - keep));
    this.carry = (this.carry + tail).slice(-keep);
    return undefined;
  }
}

export interface IdleResult {
  /** Sessions open, answering a keystroke, after all were opened. */
  held: number;
  attempted: number;
  firstFailure: string | undefined;
  openSeconds: number;
  before: TreeMemory;
  after: TreeMemory;
  /** Server (Node) RSS added per idle session, bytes. */
  serverBytesPerSession: number;
  /** Whole tree PSS added per idle session (shells included), bytes. */
  treePssPerSession: number;
}

/**
 * Opens idle sessions (each to its prompt) until `max` or the first
 * failure, checks every one still echoes a key, and weighs the server.
 */
export async function idleSessions(peer: Peer, max: number, deadlineMs: number): Promise<IdleResult> {
  const pid = peer.serverPid!;
  await sleep(1000);
  const before = treeMemory(pid);
  const terms: Term[] = [];
  let firstFailure: string | undefined;
  const started = performance.now();
  const deadline = Date.now() + deadlineMs;
  try {
    const batch = 10;
    while (terms.length < max && !firstFailure) {
      if (Date.now() > deadline) {
        firstFailure = `stopped at the bench's ${deadlineMs / 1000} s limit for opening sessions`;
        break;
      }
      const count = Math.min(batch, max - terms.length);
      const opened = await Promise.allSettled(Array.from({ length: count }, () => openReady(peer)));
      for (const result of opened) {
        if (result.status === "fulfilled") terms.push(result.value);
        else firstFailure ??= `session ${terms.length + 1}: ${(result.reason as Error).message}`;
      }
    }
    const openSeconds = (performance.now() - started) / 1000;
    await sleep(2000);
    // Still there and still answering: a key echoes in every one of them.
    const alive = await mapLimit(terms, 50, async (term) => {
      if (term.closed) return false;
      term.clearText();
      term.write("x");
      return term.until(() => term.text.includes("x"), 10_000, "echo").then(
        () => true,
        () => false,
      );
    });
    const held = alive.filter(Boolean).length;
    if (held < terms.length) firstFailure ??= `${terms.length - held} of ${terms.length} open sessions stopped answering`;
    await sleep(1000);
    const after = treeMemory(pid);
    const opened = Math.max(1, terms.length);
    return {
      held,
      attempted: terms.length + (firstFailure && terms.length < max ? 1 : 0),
      firstFailure,
      openSeconds,
      before,
      after,
      serverBytesPerSession: (after.serverRss - before.serverRss) / opened,
      treePssPerSession: (after.treePss - before.treePss) / opened,
    };
  } finally {
    await mapLimit(terms, 50, (term) => term.close());
    // Let the server reap its shells before the next measurement.
    const until = Date.now() + 20_000;
    while (Date.now() < until && treeMemory(pid).processes > before.processes) await sleep(200);
  }
}
