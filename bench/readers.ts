/**
 * `npm run bench:readers`: what 50 readers at once cost the lab server, and
 * how fast their keys echo. A measurement, not a test: it prints figures.
 *
 *   node bench/readers.ts [--readers 50] [--seconds 20] [--key-ms 250] [--server PATH]
 *
 * The server runs as in a workshop: `node server/main.ts --driver host` in its
 * own process, with each reader invited (a line `NAME TOKEN` in
 * DATA_DIR/readers, written with the server's own inviteReader, as
 * `node server/main.ts invite NAME` does). Each reader opens a terminal with
 * its own token, starts `cat`, and types a key every --key-ms (staggered
 * across readers); every key comes back as the tty's echo and is timed.
 * Readers all connect from 127.0.0.1 here, so the per-address upgrade rate
 * is lifted (a workshop's readers come from many addresses).
 *
 * Memory is read from /proc: VmRSS of the server's Node process, and the PSS
 * of its whole tree (shells included, shared pages split between them).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { inviteReader } from "../server/access.ts";
import { FrameKind, decodeFrame } from "../server/protocol.ts";
import { ProtocolClient } from "../server/testing/protocol-client.ts";
import { cleanEnv, killStarted, sleep, startServer, treeMemory, type ServerProcess } from "./lib/procs.ts";
import { linkToken, operatorHealth } from "./lib/term.ts";

const { values } = parseArgs({
  options: {
    readers: { type: "string", default: "50" },
    seconds: { type: "string", default: "20" },
    "key-ms": { type: "string", default: "250" },
    server: { type: "string" },
  },
});
const READERS = Number(values.readers);
const SECONDS = Number(values.seconds);
const KEY_MS = Number(values["key-ms"]);
const ROOT = path.resolve(import.meta.dirname, "..");
const SERVER_MAIN = path.resolve(values.server ?? path.join(ROOT, "server/main.ts"));
/** A letter nothing else prints in these terminals once `cat` runs: each one in the stream is an echo. */
const KEY = "K";
const MiB = 1024 * 1024;

const vmRss = (pid: number) => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024;
const mib = (bytes: number) => (bytes / MiB).toFixed(1);
function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface Reader {
  name: string;
  token: string;
  client?: ProtocolClient;
  connectMs?: number;
  sentAt: number[];
  echoed: number;
  latencies: number[];
}

let server: ServerProcess | undefined;
const work = mkdtempSync(path.join(tmpdir(), "nwl-bench-readers-"));

async function main(): Promise<void> {
  const dataDir = path.join(work, "data");
  const readersFile = path.join(dataDir, "readers");
  mkdirSync(dataDir, { recursive: true });
  const readers: Reader[] = Array.from({ length: READERS }, (_, index) => {
    const name = `reader-${String(index + 1).padStart(2, "0")}`;
    return { name, token: inviteReader(readersFile, name), sentAt: [], echoed: 0, latencies: [] };
  });
  const configFile = path.join(work, "config.json");
  writeFileSync(configFile, JSON.stringify({ limits: { upgradesPerMinutePerAddress: 100_000 } }));

  console.log(`bench:readers: ${READERS} invited readers, a key every ${KEY_MS} ms each for ${SECONDS} s; server ${path.relative(ROOT, SERVER_MAIN) || SERVER_MAIN} (driver host)`);
  server = await startServer("lab server", [SERVER_MAIN, "--driver", "host", "--port", "0", "--data-dir", dataDir, "--config", configFile], {
    cwd: ROOT,
    env: cleanEnv(),
    readyLine: /^http:\/\/\S+#token=\S+$/,
  });
  const url = server.url.replace(/#.*$/, "");
  const lab = (await operatorHealth(server.url)).labs?.[0];
  if (!lab) throw new Error(`the server (token ${linkToken(server.url) ? "given" : "missing"}) names no lab`);

  await sleep(2000);
  const idleRss = vmRss(server.pid);
  const idleTree = treeMemory(server.pid);
  console.log(`idle: server RSS ${mib(idleRss)} MiB; tree PSS ${mib(idleTree.treePss)} MiB (${idleTree.processes} processes)`);

  // Open the terminals a few at a time, as a room of readers opening the page does.
  const opening = [...readers];
  await Promise.all(
    Array.from({ length: 5 }, async () => {
      for (let reader = opening.shift(); reader; reader = opening.shift()) {
        const started = performance.now();
        const client = await ProtocolClient.connect(url, { lab, token: reader.token, cols: 100, rows: 30 });
        if (!client.welcome) throw new Error(`${reader.name} was refused: ${client.closeCode} ${client.closeReason} ${JSON.stringify(client.errors)}`);
        reader.connectMs = performance.now() - started;
        reader.client = client;
        client.type(`PS1='$ '; PROMPT_COMMAND=; echo READY-$((20+22)); cat\r`);
        await client.waitForText("READY-42", 20_000);
      }
    }),
  );
  await sleep(3000);
  const connectedRss = vmRss(server.pid);
  const connectedTree = treeMemory(server.pid);
  console.log(
    `${READERS} connected, idle at cat: server RSS ${mib(connectedRss)} MiB; tree PSS ${mib(connectedTree.treePss)} MiB (${connectedTree.processes} processes)`,
  );

  // Each reader types: a key every KEY_MS, the readers staggered across the interval.
  for (const reader of readers) {
    const client = reader.client!;
    client.clearOutput();
    client.socket.on("message", (data, isBinary) => {
      if (!isBinary) return;
      const frame = decodeFrame(data as Buffer);
      if (!frame || frame.kind !== FrameKind.output) return;
      for (const byte of frame.payload) if (byte === KEY.charCodeAt(0)) reader.echoed++;
      const now = performance.now();
      while (reader.latencies.length < Math.min(reader.echoed, reader.sentAt.length)) reader.latencies.push(now - reader.sentAt[reader.latencies.length]!);
    });
  }
  let typingRssMax = connectedRss;
  const rssTimer = setInterval(() => {
    typingRssMax = Math.max(typingRssMax, vmRss(server!.pid));
  }, 250);
  const stopAt = performance.now() + SECONDS * 1000;
  await Promise.all(
    readers.map(async (reader, index) => {
      await sleep((index * KEY_MS) / READERS);
      while (performance.now() < stopAt) {
        reader.sentAt.push(performance.now());
        reader.client!.type(KEY);
        // Now and then the line is killed (Ctrl-U: its echo is backspaces), so it never grows long.
        if (reader.sentAt.length % 40 === 0) reader.client!.type("\x15");
        await sleep(KEY_MS);
      }
    }),
  );
  await sleep(1000);
  clearInterval(rssTimer);
  const typingTree = treeMemory(server.pid);

  const latencies = readers.flatMap((reader) => reader.latencies).sort((a, b) => a - b);
  const sent = readers.reduce((sum, reader) => sum + reader.sentAt.length, 0);
  const connects = readers.map((reader) => reader.connectMs!).sort((a, b) => a - b);
  const perReader = (connectedRss - idleRss) / READERS;
  const perReaderTree = (connectedTree.treePss - idleTree.treePss) / READERS;
  const figures = {
    readers: READERS,
    idleRssMiB: +mib(idleRss),
    connectedRssMiB: +mib(connectedRss),
    perReaderRssKiB: Math.round(perReader / 1024),
    typingRssMaxMiB: +mib(typingRssMax),
    idleTreePssMiB: +mib(idleTree.treePss),
    connectedTreePssMiB: +mib(connectedTree.treePss),
    perReaderTreePssKiB: Math.round(perReaderTree / 1024),
    typingTreePssMiB: +mib(typingTree.treePss),
    connectMs: { p50: Math.round(percentile(connects, 50)), max: Math.round(connects.at(-1) ?? Number.NaN) },
    echoMs: {
      samples: latencies.length,
      lost: sent - latencies.length,
      p50: +percentile(latencies, 50).toFixed(1),
      p99: +percentile(latencies, 99).toFixed(1),
      max: +(latencies.at(-1) ?? Number.NaN).toFixed(1),
    },
  };
  console.log("");
  console.log(`server RSS idle                 ${mib(idleRss)} MiB`);
  console.log(`server RSS, ${READERS} readers connected ${mib(connectedRss)} MiB (max while typing ${mib(typingRssMax)} MiB)`);
  console.log(`per reader                      ${(perReader / 1024).toFixed(0)} KiB server RSS; ${(perReaderTree / 1024).toFixed(0)} KiB PSS with its shell`);
  console.log(`connect (hello → welcome)       p50 ${figures.connectMs.p50} ms, max ${figures.connectMs.max} ms (5 opening at a time)`);
  console.log(
    `echo with ${READERS} readers typing     p50 ${figures.echoMs.p50} ms, p99 ${figures.echoMs.p99} ms, max ${figures.echoMs.max} ms (${figures.echoMs.samples} keys, ${figures.echoMs.lost} lost; ${Math.round((READERS * 1000) / KEY_MS)} keys/s in all)`,
  );
  console.log(`\n${JSON.stringify(figures)}`);

  await Promise.all(readers.map((reader) => reader.client?.close().catch(() => undefined)));
}

async function cleanup(): Promise<void> {
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
}

process.on("SIGINT", () => {
  killStarted();
  rmSync(work, { recursive: true, force: true });
  process.exit(130);
});

main().then(
  async () => {
    await cleanup();
    process.exit(0);
  },
  async (error: Error) => {
    console.error(`bench:readers failed: ${error.stack ?? error.message}`);
    if (server) console.error(`server output:\n${server.log().slice(-3000)}`);
    await cleanup();
    process.exit(1);
  },
);
