/**
 * Where a reader's frame goes: this server's Part 1 page beside WeTTY's page,
 * each traced with Chromium's own tracing (CDP `Tracing`) while the bench's
 * reader view types keys (and, with --flood, prints output). Prints, per
 * page, the bench's timings and the renderer main thread's time per key in
 * the phases that differ between the pages (hover hit test, rAF callbacks,
 * style, layout, paint, commit...). A tool for profiling, not a benchmark:
 * tracing itself costs time, so compare only pages traced in the same run.
 *
 *   node bench/reader-profile.ts --site DIR [--mode webgl-off|webgl-on] [--keys 30] [--flood BYTES]
 *        [--rounds 2] [--only ours|wetty] [--css 'RULES'] [--dump DIR]
 *
 * --site is an `astro build --outDir DIR` of the tree to profile. --css adds
 * a stylesheet to our page after it opened (to try a change before making
 * it), --dump writes each trace as JSON (open it in chrome://tracing or
 * Perfetto).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { BROWSER_MODES, instrument, launchReaderBrowser, ourPage, outputRun, readyPage, spread, typeKeys, wettyPage } from "./lib/browser.ts";
import { LIFTED_LIMITS, cleanEnv, killStarted, sleep, startServer, startWetty } from "./lib/procs.ts";

const root = path.resolve(import.meta.dirname, "..");
const { values: flags } = parseArgs({
  options: {
    site: { type: "string" },
    mode: { type: "string", default: "webgl-off" },
    keys: { type: "string", default: "30" },
    flood: { type: "string" },
    rounds: { type: "string", default: "2" },
    only: { type: "string" },
    css: { type: "string" },
    dump: { type: "string" },
  },
});
if (!flags.site) throw new Error("--site DIR (an astro build --outDir DIR) is required");
const mode = BROWSER_MODES.find((m) => m.key === flags.mode);
if (!mode) throw new Error(`--mode is one of ${BROWSER_MODES.map((m) => m.key).join(", ")}`);
const keys = Number(flags.keys);

/** The phases worth comparing, as Chromium's trace names them. */
const PHASES: [string, string][] = [
  ["frame (BeginMainFrame)", "ProxyMain::BeginMainFrame"],
  ["hover hit test", "EventHandler::handleMouseMoveEvent"],
  ["rAF callbacks", "FrameRequestCallbackCollection::ExecuteFrameCallbacks"],
  ["style", "UpdateLayoutTree"],
  ["layout", "Layout"],
  ["pre-paint", "PrePaint"],
  ["paint", "Paint"],
  ["commit", "Commit"],
  ["intersection observers", "IntersectionObserverController::computeIntersections"],
  ["JS (all)", "FunctionCall"],
  ["main thread busy", "RunTask"],
];

type TraceEvent = { name: string; ph: string; dur?: number; tid: number; pid: number; args?: { name?: string } };

/** Milliseconds per phase on the renderer's main thread(s) (complete events only; nested phases count in their parents too). */
function phaseTimes(events: TraceEvent[]): Map<string, number> {
  const mains = new Set(events.filter((e) => e.name === "thread_name" && e.args?.name === "CrRendererMain").map((e) => `${e.pid}:${e.tid}`));
  const sums = new Map<string, number>();
  for (const e of events) {
    if (e.ph !== "X" || !e.dur || !mains.has(`${e.pid}:${e.tid}`)) continue;
    sums.set(e.name, (sums.get(e.name) ?? 0) + e.dur / 1000);
  }
  return sums;
}

const workDir = mkdtempSync(path.join(os.tmpdir(), "nwl-profile-"));
const home = path.join(workDir, "home");
const shellDir = path.join(workDir, "shell");
mkdirSync(home);
mkdirSync(shellDir);
const env = { ...cleanEnv(), HOME: home };
const configFile = path.join(workDir, "config.json");
writeFileSync(configFile, JSON.stringify({ limits: LIFTED_LIMITS }));
const ours = await startServer("lab server", ["server/main.ts", "--port", "0", "--data-dir", path.join(workDir, "data"), "--driver", "host", "--config", configFile, "--site", path.resolve(flags.site)], {
  cwd: root,
  env,
  readyLine: /^http:\/\/\S+$/,
});
const wetty = await startWetty(path.join(root, "bench", ".peers"), shellDir, env);
const wettyPort = wetty.port;
const link = new URL(ours.url);
const peers = [ourPage("ours", `${link.origin}/labs/part-1/${link.hash}`), wettyPage("wetty", `http://127.0.0.1:${wettyPort}/`)].filter((p) => !flags.only || p.label === flags.only);
try {
  const browser = await launchReaderBrowser(mode);
  for (let round = 0; round < Number(flags.rounds); round++) {
    for (const peer of round % 2 ? [...peers].reverse() : peers) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      await context.addInitScript(instrument);
      const { page, renderer } = await readyPage(context, peer);
      if (flags.css && peer.label === "ours") await page.addStyleTag({ content: flags.css });
      const cdp = await context.newCDPSession(page);
      const events: TraceEvent[] = [];
      cdp.on("Tracing.dataCollected", (e) => events.push(...(e.value as unknown as TraceEvent[])));
      const complete = new Promise<void>((resolve) => cdp.once("Tracing.tracingComplete", () => resolve()));
      await cdp.send("Tracing.start", {
        categories: "devtools.timeline,disabled-by-default-devtools.timeline,disabled-by-default-devtools.timeline.stack,blink,cc",
        transferMode: "ReportEvents",
      });
      const typed = keys > 0 ? await typeKeys(page, { keys, warmupKeys: 5, gapMs: [20, 60], floodBytes: 0, floodRuns: 0, rounds: 1 }) : undefined;
      const mbs = flags.flood ? await outputRun(page, Number(flags.flood)) : undefined;
      await cdp.send("Tracing.end");
      await complete;
      if (flags.dump) writeFileSync(path.join(flags.dump, `trace-${mode.key}-${peer.label}-${round}.json`), JSON.stringify(events));
      const sums = phaseTimes(events);
      const per = flags.flood ? "per flood" : "per key";
      const divisor = flags.flood ? 1 : keys;
      const parts = [`${mode.key} ${peer.label} (${renderer}), round ${round + 1}:`];
      if (typed) {
        const screen = spread(typed.screen), frame = spread(typed.frame), message = spread(typed.message);
        parts.push(`key to message p50 ${message.p50} ms, to screen p50 ${screen.p50} / p95 ${screen.p95}, to frame end p50 ${frame.p50} / p95 ${frame.p95}`);
      }
      if (mbs !== undefined) parts.push(`output ${mbs.toFixed(2)} MB/s`);
      console.log(parts.join(" "));
      console.log(`  main thread, ms ${per}: ${PHASES.map(([label, name]) => `${label} ${((sums.get(name) ?? 0) / divisor).toFixed(2)}`).join(", ")}`);
      await context.close();
      await sleep(300);
    }
  }
  await browser.close();
} finally {
  await ours.stop();
  await wetty.stop();
  killStarted();
  rmSync(workDir, { recursive: true, force: true });
}
