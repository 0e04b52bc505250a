/**
 * Builds of the site side by side with WeTTY, in one browser and one run:
 * the reader view's key to screen (lib/browser.ts), and output to screen on
 * request. Made for A/B comparisons of a change to the page, which on this
 * shared machine only mean something when measured alternately in one run.
 *
 *   node bench/reader-ab.ts --sites base=/tmp/site-base,new=/tmp/site-new \
 *     [--mode webgl-off|webgl-on] [--keys 100] [--rounds 3] [--flood BYTES]
 *
 * Each site is an `astro build --outDir DIR` and gets a lab server of its own
 * (`--driver host`; this checkout's server/main.ts, or the one named after a
 * second `=`: `name=DIR=path/to/server/main.ts`). Every round opens each page
 * afresh, in an order rotated by round; samples are pooled over the rounds.
 * WeTTY must be installed in bench/.peers (`npm run bench` does that once).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { BROWSER_MODES, instrument, launchReaderBrowser, median, ourPage, outputRun, readyPage, spread, typeKeys, wettyPage, type ReaderPeer } from "./lib/browser.ts";
import { LIFTED_LIMITS, cleanEnv, killStarted, sleep, startServer, startWetty, type ServerProcess } from "./lib/procs.ts";

const root = path.resolve(import.meta.dirname, "..");
const { values: flags } = parseArgs({
  options: {
    sites: { type: "string" },
    mode: { type: "string", default: "webgl-off" },
    keys: { type: "string", default: "100" },
    rounds: { type: "string", default: "3" },
    flood: { type: "string" },
  },
});
if (!flags.sites) throw new Error("--sites name=DIR[,name=DIR…] (each an astro build --outDir DIR) is required");
const mode = BROWSER_MODES.find((candidate) => candidate.key === flags.mode);
if (!mode) throw new Error(`--mode is one of ${BROWSER_MODES.map((candidate) => candidate.key).join(", ")}`);
const peersDir = path.join(root, "bench", ".peers");
if (!existsSync(path.join(peersDir, "node_modules", "wetty"))) throw new Error("WeTTY is not installed in bench/.peers: run `npm run bench` once (it installs it)");
const keys = Number(flags.keys);
const rounds = Number(flags.rounds);
const floodBytes = flags.flood ? Number(flags.flood) : 0;

const workDir = mkdtempSync(path.join(os.tmpdir(), "nwl-reader-ab-"));
const home = path.join(workDir, "home");
mkdirSync(home);
const env = { ...cleanEnv(), HOME: home };
// Every round opens new pages, and so new shells: the per-reader limits must not get in the way.
const configFile = path.join(workDir, "config.json");
writeFileSync(configFile, JSON.stringify({ limits: LIFTED_LIMITS }));

const servers: ServerProcess[] = [];
const peers: ReaderPeer[] = [];
const samples = new Map<string, { message: number[]; screen: number[]; frame: number[]; output: number[] }>();

try {
  for (const spec of flags.sites.split(",")) {
    const [name, dir, serverMain] = spec.split("=");
    if (!name || !dir) throw new Error(`--sites: "${spec}" is not name=DIR`);
    const args = [serverMain ?? "server/main.ts", "--port", "0", "--data-dir", path.join(workDir, `data-${name}`), "--driver", "host", "--config", configFile, "--site", path.resolve(dir)];
    const server = await startServer(name, args, { cwd: root, env, readyLine: /^http:\/\/\S+$/ });
    servers.push(server);
    const link = new URL(server.url);
    peers.push({ ...ourPage(name, `${link.origin}/labs/part-1/${link.hash}`), key: name, label: name });
  }
  const wettyServer = await startWetty(peersDir, home, env);
  servers.push(wettyServer);
  peers.push(wettyPage("wetty", `http://127.0.0.1:${wettyServer.port}/`));
  for (const peer of peers) samples.set(peer.label, { message: [], screen: [], frame: [], output: [] });

  const browser = await launchReaderBrowser(mode);
  try {
    for (let round = 0; round < rounds; round++) {
      const order = [...peers.slice(round % peers.length), ...peers.slice(0, round % peers.length)];
      for (const peer of order) {
        const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
        await context.addInitScript(instrument);
        try {
          const { page, renderer } = await readyPage(context, peer);
          const into = samples.get(peer.label)!;
          if (keys) {
            const typed = await typeKeys(page, { keys, warmupKeys: 5, gapMs: [20, 60], floodBytes: 0, floodRuns: 0, rounds: 1 });
            into.message.push(...typed.message);
            into.screen.push(...typed.screen);
            into.frame.push(...typed.frame);
            console.error(`round ${round + 1}, ${peer.label} (${renderer}): key to screen p50 ${spread(typed.screen).p50} ms${typed.timeouts ? `, ${typed.timeouts} keys timed out` : ""}`);
          }
          if (floodBytes) into.output.push(await outputRun(page, floodBytes));
        } finally {
          await context.close();
        }
        await sleep(300);
      }
    }
  } finally {
    await browser.close();
  }

  const wetty = samples.get("wetty")!;
  const wettyScreen = spread(wetty.screen).p50;
  console.log(`${mode.label}, ${rounds} rounds × ${keys} keys (p50/p95 in ms; × WeTTY's p50 or MB/s)`);
  for (const [label, r] of samples) {
    const screen = spread(r.screen);
    const output = r.output.length ? `; output ${median(r.output).toFixed(1)} MB/s (${(median(r.output) / median(wetty.output)).toFixed(2)}×)` : "";
    console.log(
      `${label.padEnd(10)} key→message ${spread(r.message).p50}, key→screen ${screen.p50} / ${screen.p95} (${(screen.p50 / wettyScreen).toFixed(2)}×), key→frame end ${spread(r.frame).p50}${output}`,
    );
  }
} finally {
  for (const server of servers) await server.stop();
  killStarted();
  rmSync(workDir, { recursive: true, force: true });
}
