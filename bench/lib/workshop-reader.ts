/**
 * One simulated workshop reader, as the Part 1 page has them: two terminals
 * (main and watch) in one lab environment, the second hello naming the
 * first's environment. Through main, each checkpoint's solve script is
 * pasted (bracketed, as xterm pastes) and run, the prompt mark awaited, and
 * the checkpoint checked. Meanwhile watch takes a keystroke every ~250 ms
 * at its bash prompt and times each echo.
 */
import { sleep } from "./procs.ts";
import type { Term } from "./term.ts";
import { LabTerm, bracketedPaste, check, type CheckOutcome } from "./workshop-term.ts";

export interface Step {
  id: string;
  solve: string;
  /** The checkpoint's own check timeout. */
  timeoutMs: number;
}

export interface StepResult {
  checkpoint: string;
  /** Paste sent → next prompt mark; undefined when it did not come back in time. */
  solveMs: number | undefined;
  check: CheckOutcome;
}

export interface ReaderResult {
  name: string;
  environment: string | undefined;
  /** hello → welcome of the first terminal: the environment is made. */
  readyMs: number | undefined;
  /** hello → welcome of the second terminal, which joins it. */
  joinMs: number | undefined;
  /** welcome → first prompt mark of main. */
  firstPromptMs: number | undefined;
  /** First hello → last check answered; undefined when the reader did not get through. */
  wallMs: number | undefined;
  steps: StepResult[];
  echo: { samples: number[]; lost: number; over50: { at: number; ms: number }[] };
  errors: string[];
}

/** How long a pasted solve may take to give the prompt back (the lab runtime's solve timeout). */
const SOLVE_TIMEOUT_MS = 60_000;
const ECHO_TIMEOUT_MS = 3000;
const ECHO_INTERVAL_MS = 250;
const LETTERS = "abcdefghijklmnopqrstuvwxyz";

export interface ReaderOptions {
  url: string;
  lab: string;
  name: string;
  token: string;
  steps: readonly Step[];
  /** Every reader's clock starts here (performance.now()), for echo timestamps. */
  epoch: number;
  /** Aborts the reader (the phase's deadline): it stops at its next step. */
  deadline: number;
  startDelayMs?: number;
}

/**
 * Types at a bash prompt until `stop()`: one letter, timed until readline
 * echoes it, then the rest of ~250 ms. Ctrl-U empties the line every 30
 * letters (its redraw has no letters in it). Used on the watch terminal, and
 * on a local pty as the control (the same bash, no server in between).
 */
export function startTyping(watch: Term, echo: ReaderResult["echo"], epoch: number, seed: number): { stop(): Promise<void> } {
  let stopped = false;
  const done = (async () => {
    let key = 0;
    while (!stopped && !watch.closed) {
      const letter = LETTERS[(key + seed) % LETTERS.length]!;
      watch.clearText();
      const sent = performance.now();
      watch.write(letter);
      try {
        await watch.until(() => watch.text.includes(letter), ECHO_TIMEOUT_MS, `echo of ${letter}`);
        const ms = performance.now() - sent;
        echo.samples.push(ms);
        if (ms > 50 && echo.over50.length < 100) echo.over50.push({ at: Math.round(sent - epoch), ms: +ms.toFixed(1) });
      } catch {
        echo.lost++;
        if (watch.closed) break;
      }
      key++;
      if (key % 30 === 0) {
        watch.write("\x15");
        await sleep(50);
      }
      // ~250 ms from one key to the next (a slow typist), jittered so readers do not type in step.
      const wait = ECHO_INTERVAL_MS * (0.8 + 0.4 * Math.random()) - (performance.now() - sent);
      await sleep(Math.max(20, wait));
    }
    watch.write("\x15");
  })();
  return {
    async stop() {
      stopped = true;
      await done;
    },
  };
}

export async function runReader(options: ReaderOptions): Promise<ReaderResult> {
  const result: ReaderResult = {
    name: options.name,
    environment: undefined,
    readyMs: undefined,
    joinMs: undefined,
    firstPromptMs: undefined,
    wallMs: undefined,
    steps: [],
    echo: { samples: [], lost: 0, over50: [] },
    errors: [],
  };
  if (options.startDelayMs) await sleep(options.startDelayMs);
  const began = performance.now();
  let main: LabTerm | undefined;
  let watch: LabTerm | undefined;
  let typing: { stop(): Promise<void> } | undefined;
  try {
    main = await LabTerm.open(options.url, { token: options.token, lab: options.lab });
    result.readyMs = main.helloToWelcomeMs;
    result.environment = main.environment;
    watch = await LabTerm.open(options.url, { token: options.token, lab: options.lab, environment: main.environment });
    result.joinMs = watch.helloToWelcomeMs;
    if (watch.environment !== main.environment) {
      result.errors.push(`the second terminal got environment ${watch.environment}, not the first's ${main.environment}`);
    }
    await main.waitForMark(0, SOLVE_TIMEOUT_MS, "main's first prompt");
    result.firstPromptMs = main.firstMarkAt - main.welcomedAt;
    await watch.waitForMark(0, SOLVE_TIMEOUT_MS, "watch's first prompt");
    typing = startTyping(watch, result.echo, options.epoch, options.name.length + Math.floor(Math.random() * 26));
    for (const step of options.steps) {
      if (performance.now() > options.deadline) {
        result.errors.push(`stopped at ${step.id}: the phase's time limit`);
        break;
      }
      const seen = main.marks;
      const sent = performance.now();
      main.write(bracketedPaste(step.solve));
      let solveMs: number | undefined;
      try {
        await main.waitForMark(seen, SOLVE_TIMEOUT_MS, `the prompt after ${step.id}'s solve`);
        solveMs = main.lastMarkAt - sent;
      } catch (error) {
        result.errors.push(`${step.id}: ${(error as Error).message.slice(0, 400)}`);
        if (main.closed) break;
        // Ctrl-C, and the prompt back before the check.
        const again = main.marks;
        main.write("\x03");
        await main.waitForMark(again, 10_000, "the prompt after Ctrl-C").catch(() => {});
      }
      const outcome = await check(options.url, options.token, options.lab, step.id, main.environment, Math.max(30_000, step.timeoutMs * 3));
      result.steps.push({ checkpoint: step.id, solveMs, check: outcome });
    }
    if (result.steps.length === options.steps.length) result.wallMs = performance.now() - began;
  } catch (error) {
    result.errors.push((error as Error).message.slice(0, 400));
  } finally {
    await typing?.stop();
    await Promise.all([main?.close(), watch?.close()]);
  }
  return result;
}

/** An idle reader: the page's two terminals opened, at their prompts, nothing typed. */
export interface IdleReader {
  name: string;
  main: LabTerm;
  watch: LabTerm;
  readyMs: number;
}

export async function openIdleReader(url: string, lab: string, name: string, token: string): Promise<IdleReader> {
  const main = await LabTerm.open(url, { token, lab });
  let watch: LabTerm | undefined;
  try {
    watch = await LabTerm.open(url, { token, lab, environment: main.environment });
    await main.waitForMark(0, 30_000, "main's first prompt");
    await watch.waitForMark(0, 30_000, "watch's first prompt");
    return { name, main, watch, readyMs: main.helloToWelcomeMs };
  } catch (error) {
    main.terminate();
    watch?.terminate();
    throw error;
  }
}

/** Whether an idle reader's main terminal still answers a key. */
export async function stillAnswers(reader: IdleReader): Promise<boolean> {
  const term = reader.main;
  if (term.closed) return false;
  term.clearText();
  term.write("x");
  try {
    await term.until(() => term.text.includes("x"), 10_000, "echo");
    term.write("\x15");
    return true;
  } catch {
    return false;
  }
}
