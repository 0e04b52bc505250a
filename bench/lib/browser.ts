/**
 * The terminal from a reader's chair: Debian's Chromium (headless, driven by
 * Playwright) opens this server's Part 1 page and WeTTY's page, types into
 * each and floods each, with WebGL off and on. Every timestamp is taken in
 * the page with performance.now():
 *
 *   key       keydown (a capture listener on window, before xterm's own)
 *   message   the first WebSocket message after it (the echo arriving)
 *   screen    the echoed character is in the DOM rows (a MutationObserver on
 *             .xterm-rows, DOM renderer) or drawn into the canvas (xterm's
 *             onRender, which fires right after the WebGL draw)
 *   frame     the browser has finished the frame that shows it: a task posted
 *             from that frame (or, for a change made outside a frame, from the
 *             next one) runs once the frame's paint and commit are done
 *
 * Output to screen is Enter to the render that shows a marker printed after
 * ~20 MB of base64. Both pages are xterm.js 6 with the same addons; nothing
 * in either page is changed, only watched.
 */
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { existsSync } from "node:fs";
import { expectedBase64Bytes } from "./metrics.ts";
import { sleep } from "./procs.ts";

export const CHROMIUM = process.env.NWL_CHROMIUM ?? "/usr/bin/chromium";

export interface BrowserMode {
  key: string;
  label: string;
  /** Chromium flags on top of the common ones. */
  args: string[];
}

/**
 * Headless Chromium here has no GPU. "WebGL off" leaves xterm no WebGL2 at all, so every page uses
 * its DOM renderer. "WebGL on" gives WebGL2 and GPU compositing both on SwiftShader (a GPU in
 * software): the closest this machine has to a reader's GPU. (Chromium's default here, software
 * compositing with SwiftShader WebGL, reads every WebGL frame back from the GPU process: slower
 * than either, and not what a reader with a GPU gets.)
 */
export const BROWSER_MODES: BrowserMode[] = [
  { key: "webgl-off", label: "WebGL off", args: ["--disable-gpu", "--disable-3d-apis"] },
  { key: "webgl-on", label: "WebGL on (SwiftShader)", args: ["--use-angle=swiftshader", "--enable-unsafe-swiftshader"] },
];

export interface ReaderPeer {
  key: string;
  label: string;
  /** Opens the page and brings its terminal to a focused shell prompt. */
  open(page: Page): Promise<void>;
}

export interface ReaderOptions {
  keys: number;
  warmupKeys: number;
  /** Pause between an echo on screen and the next key (a typist). */
  gapMs: [number, number];
  /** Random bytes base64 prints per output run (15 MB makes 20.3 MB of terminal output). */
  floodBytes: number;
  floodRuns: number;
  rounds: number;
}

export interface Spread {
  n: number;
  p50: number;
  p95: number;
}

export interface ReaderPeerResult {
  key: string;
  label: string;
  /** The renderer xterm used: "dom" or "webgl" (seen from the page: .xterm-rows exists or not). */
  renderer?: string;
  keyToMessage?: Spread;
  keyToScreen?: Spread;
  keyToFrame?: Spread;
  /** MB/s per run, Enter to the marker on screen; median over the runs. */
  output?: { runs: number[]; median: number; bytes: number };
  errors: string[];
}

export interface ReaderModeResult {
  key: string;
  label: string;
  args: string[];
  /** What WebGL2 the browser offered: the unmasked renderer, or "none". */
  webgl: string;
  peers: ReaderPeerResult[];
}

export function spread(samples: number[]): Spread {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
  return { n: sorted.length, p50: +at(50).toFixed(2), p95: +at(95).toFixed(2) };
}

/** The median (the mean of the two middle values for an even count): the bench's one statistic for runs. */
export const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/**
 * Installed in every page before its own scripts. It wraps what it times and
 * changes nothing: onmessage setters get a wrapper that notes the time first,
 * requestAnimationFrame callbacks note that a frame is under way.
 */
export function instrument(): void {
  type Probe = { key: number; message: number; screen: number; frame: number; want: string };
  type Flood = { marker: string; enter: number; screen: number; frame: number };
  const w = window as unknown as Record<string, unknown>;
  let probe: Probe | undefined;
  let flood: Flood | undefined;
  let waiter: (() => void) | undefined;
  // Frames: a task posted from inside one runs after its paint and commit.
  let inFrame = false;
  const frameEnd = new MessageChannel();
  frameEnd.port1.onmessage = () => (inFrame = false);
  const raf = window.requestAnimationFrame.bind(window);
  window.requestAnimationFrame = (callback) =>
    raf((time) => {
      if (!inFrame) {
        inFrame = true;
        frameEnd.port2.postMessage(0);
      }
      callback(time);
    });
  /** Calls `done` with the time the frame that shows a change just made is finished. */
  const afterFrame = (done: (at: number) => void) => {
    const post = () => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => done(performance.now());
      channel.port2.postMessage(0);
    };
    if (inFrame) post();
    else raf(post);
  };
  const settle = () => {
    const resolve = waiter;
    waiter = undefined;
    resolve?.();
  };
  addEventListener(
    "keydown",
    (event) => {
      const now = performance.now();
      if (probe && !probe.key) probe.key = now;
      if (flood && !flood.enter && event.key === "Enter") flood.enter = now;
    },
    true,
  );
  const descriptor = Object.getOwnPropertyDescriptor(WebSocket.prototype, "onmessage")!;
  Object.defineProperty(WebSocket.prototype, "onmessage", {
    configurable: true,
    get: descriptor.get,
    set(handler: ((event: MessageEvent) => void) | null) {
      descriptor.set!.call(
        this,
        handler &&
          function (this: WebSocket, event: MessageEvent) {
            if (probe?.key && !probe.message) probe.message = performance.now();
            return handler.call(this, event);
          },
      );
    },
  });

  type Term = {
    rows: number;
    buffer: { active: { cursorY: number; viewportY: number; baseY: number; getLine(y: number): { translateToString(trim?: boolean): string } | undefined } };
    onRender(listener: () => void): unknown;
  };
  let term: Term | undefined;
  const findTerm = (): Term | undefined =>
    ((document.querySelector('nwl-terminal[data-name="main"]') as unknown as { xterm?: Term } | null)?.xterm ?? (w.wetty_term as Term | undefined)) || undefined;
  const cursorLine = (t: Term) => {
    const buffer = t.buffer.active;
    return buffer.getLine(buffer.baseY + buffer.cursorY)?.translateToString(true).trimEnd() ?? "";
  };
  const onScreen = (p: Probe) => {
    p.screen = performance.now();
    afterFrame((at) => {
      p.frame = at;
      settle();
    });
  };

  w.__nwlReader = {
    /** Hooks the page's terminal; returns its renderer, or undefined while it has none yet. */
    attach(): string | undefined {
      term = findTerm();
      if (!term) return undefined;
      const rows = document.querySelector(".xterm-rows");
      const t = term;
      if (rows) {
        new MutationObserver(() => {
          const p = probe;
          if (!p?.message || p.screen) return;
          const row = rows.children[t.buffer.active.cursorY];
          if (row?.textContent?.trimEnd().endsWith(p.want)) onScreen(p);
        }).observe(rows, { subtree: true, childList: true, characterData: true });
      }
      t.onRender(() => {
        const p = probe;
        if (!rows && p?.message && !p.screen && cursorLine(t).endsWith(p.want)) onScreen(p);
        const f = flood;
        if (f?.enter && !f.screen) {
          const buffer = t.buffer.active;
          for (let y = 0; y < t.rows; y++) {
            if (buffer.getLine(buffer.viewportY + y)?.translateToString(true).includes(f.marker)) {
              f.screen = performance.now();
              afterFrame((at) => {
                f.frame = at;
                settle();
              });
              break;
            }
          }
        }
      });
      return rows ? "dom" : "webgl";
    },
    prompt(): boolean {
      return term !== undefined && /[$#]$/.test(cursorLine(term));
    },
    line(): string {
      return term ? cursorLine(term) : "";
    },
    armKey(want: string): void {
      probe = { key: 0, message: 0, screen: 0, frame: 0, want };
      flood = undefined;
    },
    armFlood(marker: string): void {
      flood = { marker, enter: 0, screen: 0, frame: 0 };
      probe = undefined;
    },
    /** Resolves with the probe or flood once its frame is done (or as it stands at the timeout). */
    wait(timeoutMs: number): Promise<Probe | Flood | undefined> {
      const current = probe ?? flood;
      if (!current || current.frame) return Promise.resolve(current);
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiter = undefined;
          resolve(current);
        }, timeoutMs);
        waiter = () => {
          clearTimeout(timer);
          resolve(current);
        };
      });
    },
  };
}

type PageApi = {
  attach(): string | undefined;
  prompt(): boolean;
  line(): string;
  armKey(want: string): void;
  armFlood(marker: string): void;
  wait(timeoutMs: number): Promise<{ key?: number; message?: number; enter?: number; screen: number; frame: number } | undefined>;
};
declare const __nwlReader: PageApi;

/** This server's Part 1 page, opened as the reader's link opens it (token in the fragment). */
export function ourPage(label: string, pageUrl: string): ReaderPeer {
  return {
    key: "ours",
    label,
    async open(page) {
      await page.goto(pageUrl);
      const terminal = 'nwl-terminal[data-name="main"]';
      await page.locator(`${terminal} [data-testid=terminal-start]`).click();
      await page.waitForSelector(`${terminal}[data-state=connected]`, { timeout: 30_000 });
      await page.locator(`${terminal} [data-testid=terminal-screen]`).click();
    },
  };
}

/** WeTTY's own page. */
export function wettyPage(label: string, pageUrl: string): ReaderPeer {
  return {
    key: "wetty",
    label,
    async open(page) {
      await page.goto(pageUrl);
      await page.waitForFunction(() => (window as unknown as { wetty_term?: unknown }).wetty_term !== undefined, undefined, { timeout: 30_000 });
      await page.locator(".xterm").click();
    },
  };
}

const LETTERS = "abcdefghijklmnopqrstuvwxyz";
const KEY_TIMEOUT_MS = 3000;

export async function readyPage(context: BrowserContext, peer: ReaderPeer): Promise<{ page: Page; renderer: string }> {
  const page = await context.newPage();
  await peer.open(page);
  const renderer = await waitFor(page, () => __nwlReader.attach(), 20_000, "the terminal");
  await waitFor(page, () => __nwlReader.prompt() || undefined, 20_000, "a prompt");
  return { page, renderer };
}

async function waitFor<T>(page: Page, probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await page.evaluate(probe);
    if (value !== undefined && value !== null) return value as T;
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs / 1000} s for ${what}`);
    await sleep(100);
  }
}

/** Types into `cat` (a cooked tty echoes each key), one key at a time, each timed to the screen and the frame. */
export async function typeKeys(page: Page, options: ReaderOptions): Promise<{ message: number[]; screen: number[]; frame: number[]; timeouts: number }> {
  await page.keyboard.type("cat");
  await page.keyboard.press("Enter");
  await waitFor(page, () => (__nwlReader.line() === "" ? true : undefined), 10_000, "cat to start");
  await sleep(300);
  const message: number[] = [];
  const screen: number[] = [];
  const frame: number[] = [];
  let timeouts = 0;
  let line = "";
  for (let i = 0; i < options.keys && timeouts < 5; i++) {
    if (i > 0 && i % 40 === 0) {
      // Ctrl-U empties cat's line (its erase echo has no letters).
      await page.keyboard.press("Control+U");
      line = "";
      await sleep(100);
    }
    const letter = LETTERS[i % LETTERS.length]!;
    line += letter;
    await page.evaluate((want) => __nwlReader.armKey(want), line);
    await sleep(options.gapMs[0] + Math.random() * (options.gapMs[1] - options.gapMs[0]));
    await page.keyboard.press(letter);
    const r = await page.evaluate((ms) => __nwlReader.wait(ms), KEY_TIMEOUT_MS);
    if (!r?.frame || !r.key) {
      timeouts++;
      continue;
    }
    if (i < options.warmupKeys) continue;
    message.push(r.message! - r.key);
    screen.push(r.screen - r.key);
    frame.push(r.frame - r.key);
  }
  await page.keyboard.press("Control+C");
  await waitFor(page, () => __nwlReader.prompt() || undefined, 10_000, "the prompt after cat");
  return { message, screen, frame, timeouts };
}

/** Enter to the marker on screen, after `floodBytes` of random bytes went through base64. */
export async function outputRun(page: Page, floodBytes: number): Promise<number> {
  const tag = Math.random().toString(36).slice(2, 10);
  await page.keyboard.type("clear");
  await page.keyboard.press("Enter");
  await sleep(300);
  // The command line holds __EN""tag__, which is not the marker: only the echo's output matches.
  await page.keyboard.type(`head -c ${floodBytes} /dev/urandom | base64 -w 120; echo __EN""${tag}__`);
  await page.evaluate((marker) => __nwlReader.armFlood(marker), `__EN${tag}__`);
  await page.keyboard.press("Enter");
  const r = await page.evaluate((ms) => __nwlReader.wait(ms), 180_000);
  if (!r?.screen || !r.enter) throw new Error(`the marker was not on screen within 180 s`);
  await waitFor(page, () => __nwlReader.prompt() || undefined, 10_000, "the prompt after the output");
  return expectedBase64Bytes(floodBytes) / 1e6 / ((r.screen - r.enter) / 1000);
}

async function webglRenderer(browser: Browser): Promise<string> {
  const page = await browser.newPage();
  try {
    return await page.evaluate(() => {
      const gl = document.createElement("canvas").getContext("webgl2");
      if (!gl) return "none";
      const info = gl.getExtension("WEBGL_debug_renderer_info");
      return info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : "WebGL2";
    });
  } finally {
    await page.close();
  }
}

/**
 * Every mode in its own browser; in each, rounds alternate between the peers
 * (rotated, so none always goes first), each round a fresh page: keys, then
 * output runs. Samples are pooled over the rounds.
 */
/** Debian's Chromium, headless, in a browser mode (its flags on top of the ones every reader-view run uses). */
export function launchReaderBrowser(mode: BrowserMode): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-background-networking", "--disable-component-update", "--no-first-run", ...mode.args],
  });
}

export async function readerView(peers: ReaderPeer[], options: ReaderOptions, log: (message: string) => void): Promise<ReaderModeResult[]> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is missing at ${CHROMIUM} (Debian: apt-get install chromium; or set NWL_CHROMIUM)`);
  const results: ReaderModeResult[] = [];
  for (const mode of BROWSER_MODES) {
    const browser = await launchReaderBrowser(mode);
    const pooled = new Map(peers.map((peer) => [peer.key, { message: [] as number[], screen: [] as number[], frame: [] as number[], output: [] as number[], renderers: new Set<string>(), errors: [] as string[] }]));
    try {
      const webgl = await webglRenderer(browser);
      log(`reader view, ${mode.label}: WebGL2 ${webgl}`);
      for (let round = 0; round < options.rounds; round++) {
        const order = [...peers.slice(round % peers.length), ...peers.slice(0, round % peers.length)];
        for (const peer of order) {
          const into = pooled.get(peer.key)!;
          const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
          await context.addInitScript(instrument);
          try {
            const { page, renderer } = await readyPage(context, peer);
            into.renderers.add(renderer);
            const keys = await typeKeys(page, options);
            into.message.push(...keys.message);
            into.screen.push(...keys.screen);
            into.frame.push(...keys.frame);
            if (keys.timeouts) into.errors.push(`round ${round + 1}: ${keys.timeouts} keys not on screen within ${KEY_TIMEOUT_MS / 1000} s`);
            const runs: number[] = [];
            for (let run = 0; run < options.floodRuns; run++) runs.push(await outputRun(page, options.floodBytes));
            into.output.push(...runs);
            const s = spread(keys.screen);
            log(`${peer.label}, ${mode.label} (${renderer}), round ${round + 1}: key to screen p50 ${s.p50} ms, p95 ${s.p95} ms; output ${runs.map((x) => x.toFixed(1)).join(", ")} MB/s`);
          } catch (error) {
            into.errors.push(`round ${round + 1}: ${(error as Error).message.split("\n")[0]}`);
            log(`${peer.label}, ${mode.label}, round ${round + 1} FAILED: ${(error as Error).message}`);
          } finally {
            await context.close();
          }
          await sleep(500);
        }
      }
      results.push({
        key: mode.key,
        label: mode.label,
        args: mode.args,
        webgl,
        peers: peers.map((peer) => {
          const r = pooled.get(peer.key)!;
          return {
            key: peer.key,
            label: peer.label,
            renderer: [...r.renderers].join("+") || undefined,
            keyToMessage: r.message.length ? spread(r.message) : undefined,
            keyToScreen: r.screen.length ? spread(r.screen) : undefined,
            keyToFrame: r.frame.length ? spread(r.frame) : undefined,
            output: r.output.length ? { runs: r.output.map((x) => +x.toFixed(2)), median: +median(r.output).toFixed(2), bytes: expectedBase64Bytes(options.floodBytes) } : undefined,
            errors: r.errors,
          };
        }),
      });
    } finally {
      await browser.close();
    }
  }
  return results;
}
