/**
 * `node scripts/walk-lab.ts --server URL --token T [--lab k8s-nix-way-part-1] [--origin O]`
 *
 * Walks a lab as a reader would, through the real terminal protocol and the
 * check API, with the page's own client (src/client/terminal-connection.ts):
 * opens a terminal, and for each checkpoint in order types its solve script
 * (read here, from the lab folder on this side: labs/<series>/<folder>/solves/)
 * into the reader's own shell as a paste, waits for the shell's prompt to
 * come back (its OSC 133 marks), then asks the server to check it (POST
 * api/labs/:lab/checkpoints/:id/check) and prints one line per checkpoint.
 * Stops at the first failure, with the check's words, and exits 1; a refused
 * connection (a foreign origin, no token) is said in words and exits 2.
 *
 * The server never runs text from here: the script is typed into the shell
 * the reader would type into. For the NixOS VM test and for operators (does
 * this server run the lab end to end?). A link as the server prints it
 * (http://host:port/#token=…) may stand for --server and --token.
 */
import path from "node:path";
import { parseArgs } from "node:util";
import { findLab, loadLabs, readLabScript, type LoadedLab } from "../server/labs.ts";
import { ApiError, CheckpointResult, EnvironmentState, labApiPath } from "../server/lab-api-protocol.ts";
import { NodeWebSocket } from "../src/client/node-socket.ts";
import { TerminalConnection } from "../src/client/terminal-connection.ts";

export const DEFAULT_LAB = "k8s-nix-way-part-1";
const PROJECT_LABS = path.resolve(import.meta.dirname, "..", "labs");

/** A connection or a request the server refused: said in words, not retried. */
export class Refused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "Refused";
  }
}

/** The base URL of the server (with a trailing slash, so API paths resolve below it) and the link's token, if it carries one. */
export function serverOf(link: string): { base: string; token?: string } {
  const url = new URL(link);
  const token = new URLSearchParams(url.hash.slice(1)).get("token") ?? undefined;
  url.hash = "";
  url.search = "";
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  return { base: url.toString(), token };
}

export interface ShellOptions {
  server: string;
  lab: string;
  token?: string;
  /** The Origin a page would send; none, as a non-browser client, by default. */
  origin?: string;
  cols?: number;
  rows?: number;
  /** Everything the shell prints, as it comes (the CLI's --verbose). */
  onOutput?: (text: string) => void;
}

/** OSC 133 marks (server/drivers/shell-integration.ts): C a command starts, D;status it ended, A the prompt is back. */
const MARK = /\x1b\]133;([A-D])(?:;([^\x07\x1b]*))?(?:\x07|\x1b\\)/g;
const BRACKETED_PASTE = /\x1b\[\?2004([hl])/g;
/** An escape sequence the chunk ends inside of (a mark split across frames), to be read with the next chunk. */
function unfinishedEscape(text: string): string {
  const at = text.lastIndexOf("\x1b");
  if (at < 0 || text.length - at > 256) return "";
  const rest = text.slice(at + 1);
  if (rest === "") return text.slice(at);
  if (rest[0] === "]") return rest.includes("\x07") ? "" : text.slice(at);
  if (rest[0] === "[") return /^\[[0-9;?]*[@-~]/.test(rest) ? "" : text.slice(at);
  return "";
}

/** Without bracketed paste, each line of a script gives its own prompt: the last is the one that stays this long. */
const PROMPT_SETTLE_MS = 500;

/**
 * A reader's terminal in a lab, through TerminalConnection: what the shell
 * prints, and whether its prompt is back (from the prompt marks).
 */
export class LabShell {
  readonly connection: TerminalConnection;
  environment: string | undefined;
  /** How many prompt marks (A) came so far, and the exit status the last command's D mark gave. */
  prompts = 0;
  lastStatus: number | undefined;
  /** Whether the shell's line editor asked for bracketed paste (bash 5.1 and later do while reading a line). */
  bracketedPaste = false;
  /** Whether the last prompt mark said the prompt is back (A after the last C). */
  private promptBack = false;
  /** Why the connection stopped for good, in words. */
  closedBecause: string | undefined;
  private tail = "";
  private readonly decoder = new TextDecoder();
  private lastOutputAt = 0;
  private lastError: string | undefined;
  private welcomed = false;
  private waiters = new Set<() => void>();
  private readonly onOutput: ((text: string) => void) | undefined;

  private constructor(options: ShellOptions) {
    this.onOutput = options.onOutput;
    this.connection = new TerminalConnection({
      serverUrl: options.server,
      lab: options.lab,
      name: "walk-lab",
      cols: options.cols ?? 120,
      rows: options.rows ?? 40,
      token: options.token,
      storage: { getItem: () => null, setItem: () => {}, removeItem: () => {} },
      onPageHide: () => {},
      createSocket: (url, protocol) => new NodeWebSocket(url, protocol, { origin: options.origin }),
      onOutput: (data, processed) => {
        this.read(this.decoder.decode(data, { stream: true }));
        processed();
      },
      onRepaint: (data) => this.read(this.decoder.decode(data)),
      onStatus: (status, detail, code) => {
        // The first connection failing is a refusal (a reconnect would only be refused again); later drops are resumed, as the page does.
        if (status === "reconnecting" && detail && !this.welcomed) this.stop(detail);
        else if (status === "closed" && !this.closedBecause) this.stop(this.lastError ?? detail ?? `closed (${code})`);
        this.notify();
      },
      onWelcome: (info) => {
        this.welcomed = true;
        this.environment = info.environment;
        this.notify();
      },
      onExit: (code) => this.stop(`the shell exited with status ${code}`),
      onError: (_code, message) => {
        this.lastError = message;
        this.notify();
      },
    });
  }

  /** Opens a terminal and waits for its first prompt; throws Refused when the server turns it away. */
  static async open(options: ShellOptions, timeoutMs = 60_000): Promise<LabShell> {
    const shell = new LabShell(options);
    shell.connection.connect();
    // The prompt is ready once the line editor asked for bracketed paste (it does so after the A mark), or all is quiet.
    const ready = () => shell.prompts > 0 && shell.promptBack && (shell.bracketedPaste || Date.now() - shell.lastOutputAt >= PROMPT_SETTLE_MS);
    await shell.until(() => ready() || shell.closedBecause !== undefined, timeoutMs, "the shell's first prompt", 100);
    if (shell.closedBecause !== undefined) throw new Refused(`the terminal was refused: ${shell.closedBecause}`);
    return shell;
  }

  /**
   * Types a script as a paste (bracketed, as the page's Run does when the
   * shell asks for it: one edit, one run, one prompt back) and waits for the
   * prompt to come back after it.
   */
  async run(script: string, timeoutMs: number): Promise<{ status: number | undefined }> {
    const text = script.replace(/\r?\n/g, "\r").replace(/\r+$/, "");
    const before = this.prompts;
    const started = Date.now();
    this.lastStatus = undefined;
    this.connection.sendInput(this.bracketedPaste ? `\x1b[200~${text}\x1b[201~\r` : `${text}\r`);
    // Done when the last mark is a prompt, the line editor waits again (bracketed paste back on), or nothing came for a while.
    const done = () =>
      this.prompts > before && this.promptBack && (this.bracketedPaste || Date.now() - Math.max(this.lastOutputAt, started) >= PROMPT_SETTLE_MS);
    await this.until(() => done() || this.closedBecause !== undefined, timeoutMs, "the prompt to come back", 100);
    if (this.closedBecause !== undefined) throw new Error(`the terminal closed: ${this.closedBecause}`);
    return { status: this.lastStatus };
  }

  close(): void {
    this.connection.close();
  }

  private read(text: string): void {
    this.lastOutputAt = Date.now();
    this.onOutput?.(text);
    // Marks may be split across chunks: keep an unfinished escape sequence for the next one.
    const scan = this.tail + text;
    for (const match of scan.matchAll(MARK)) {
      if (match[1] === "A") {
        this.prompts += 1;
        this.promptBack = true;
      } else if (match[1] === "C") this.promptBack = false;
      else if (match[1] === "D" && match[2]) this.lastStatus = Number(match[2]);
    }
    for (const match of scan.matchAll(BRACKETED_PASTE)) this.bracketedPaste = match[1] === "h";
    this.tail = unfinishedEscape(scan);
    this.notify();
  }

  private stop(why: string): void {
    this.closedBecause ??= why;
    // A refused first connection would be retried by the page; a walker says so and stops.
    this.connection.close();
    this.notify();
  }

  private until(predicate: () => boolean, timeoutMs: number, what: string, pollMs?: number): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate()) return;
        finish();
        resolve();
      };
      const finish = () => {
        clearTimeout(timer);
        clearInterval(poll);
        this.waiters.delete(check);
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      // Quiet has to be noticed by a clock, not by output.
      const poll = pollMs ? setInterval(check, pollMs) : undefined;
      this.waiters.add(check);
    });
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

export interface ApiOptions {
  server: string;
  lab: string;
  token?: string;
  origin?: string;
}

/** A lab API call as the page makes it (Bearer token, the page's Origin); the server's refusal in its words. */
async function callLabApi(options: ApiOptions, apiPath: string, what: string, init: { method: string; body?: unknown }): Promise<unknown> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.origin) headers.origin = options.origin;
  const body = init.body === undefined ? undefined : JSON.stringify(init.body);
  const response = await fetch(new URL(apiPath, serverOf(options.server).base), { method: init.method, headers, body });
  const answer: unknown = await response.json().catch(() => undefined);
  if (response.ok) return answer;
  const error = ApiError.safeParse(answer);
  throw new Refused(`${what} was refused (HTTP ${response.status}): ${error.success ? error.data.message : response.statusText}`);
}

/** POST api/labs/:lab/checkpoints/:id/check, as the page's Check does; throws Refused when the server refuses it. */
export async function checkCheckpoint(options: ApiOptions & { checkpoint: string; environment?: string }): Promise<CheckpointResult> {
  const apiPath = labApiPath.checkpoint(options.lab, options.checkpoint, "check");
  return CheckpointResult.parse(await callLabApi(options, apiPath, "the check", { method: "POST", body: { environment: options.environment } }));
}

/** The reader's environment for the lab, and its progress (GET api/labs/:lab/environment). */
export async function environmentState(options: ApiOptions): Promise<EnvironmentState> {
  return EnvironmentState.parse(await callLabApi(options, labApiPath.environment(options.lab), "the environment's state", { method: "GET" }));
}

/** The page's "Reset environment": a new, empty environment for the lab (the lab's `reset`). */
export async function resetEnvironment(options: ApiOptions): Promise<EnvironmentState> {
  return EnvironmentState.parse(await callLabApi(options, labApiPath.reset(options.lab), "the reset", { method: "POST", body: {} }));
}

export interface WalkOptions extends Omit<ShellOptions, "lab"> {
  lab?: string;
  /** Where the lab folders are (labs/ of this project by default). */
  labsDir?: string;
  /** Start from a new environment (the page's Reset environment), instead of the reader's current one. */
  reset?: boolean;
  /** How long one solve may take to give the prompt back. */
  stepTimeoutMs?: number;
  /** One line per checkpoint (console.log by default). */
  log?: (line: string) => void;
}

export interface StepOutcome {
  checkpoint: string;
  title: string;
  passed: boolean;
  /** Exit status of the solve's last command, from the prompt marks. */
  solveStatus: number | undefined;
  result: CheckpointResult;
}

export interface WalkResult {
  lab: string;
  environment: string | undefined;
  steps: StepOutcome[];
  passed: boolean;
}

export function findLocalLab(lab: string, labsDir = PROJECT_LABS): LoadedLab {
  const found = findLab(loadLabs(labsDir), lab);
  if (!found) throw new Error(`no lab ${lab} in ${labsDir}`);
  return found;
}

/** Walks every checkpoint of the lab in order; stops at the first that does not pass. Throws Refused when the server turns the walker away. */
export async function walkLab(options: WalkOptions): Promise<WalkResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const { base, token: linkToken } = serverOf(options.server);
  const token = options.token ?? linkToken;
  const lab = findLocalLab(options.lab ?? DEFAULT_LAB, options.labsDir);
  const id = lab.definition.id;
  const api = { server: base, lab: id, token, origin: options.origin };
  // The terminal first: it is the door (origin, token) a reader meets first, and it makes the environment.
  let shell = await LabShell.open({ ...options, server: base, lab: id, token });
  if (options.reset) {
    shell.close();
    await resetEnvironment(api);
    shell = await LabShell.open({ ...options, server: base, lab: id, token });
  }
  const steps: StepOutcome[] = [];
  try {
    log(`${id}: terminal open in environment ${shell.environment}; ${lab.definition.checkpoints.length} checkpoints`);
    const passed = Object.values((await environmentState(api)).progress).filter((record) => record.passed).length;
    // Solves typed again over steps already done may fail where a reader's first walk would not.
    if (passed > 0) log(`note: this environment has ${passed} checkpoint(s) passed already; --reset starts from a new one`);
    for (const checkpoint of lab.definition.checkpoints) {
      if (!checkpoint.solve) throw new Error(`${id}: checkpoint ${checkpoint.id} has no solve script to type`);
      const started = performance.now();
      const { status } = await shell.run(readLabScript(lab, checkpoint.solve), options.stepTimeoutMs ?? 180_000);
      const result = await checkCheckpoint({ ...api, checkpoint: checkpoint.id, environment: shell.environment });
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      steps.push({ checkpoint: checkpoint.id, title: checkpoint.title, passed: result.passed, solveStatus: status, result });
      log(`${result.passed ? "PASS" : "FAIL"} ${checkpoint.id}: ${checkpoint.title} (${seconds} s)`);
      if (!result.passed) {
        log(indent(`check said:\n${result.output.trim() || "(nothing)"}${result.timedOut ? "\n(the check timed out)" : ""}\nhint: ${result.hint}`));
        return { lab: id, environment: shell.environment, steps, passed: false };
      }
    }
    return { lab: id, environment: shell.environment, steps, passed: true };
  } finally {
    shell.close();
  }
}

function indent(text: string): string {
  return text.replace(/^/gm, "    ");
}

const USAGE = `usage: node scripts/walk-lab.ts --server URL [--token T] [--lab ID] [--origin O] [--labs-dir DIR] [--step-timeout SECONDS] [--verbose]
  --server URL     the lab server (a reader's link http://host:port/#token=… gives the token too)
  --token T        the access token (or NWL_TOKEN)
  --lab ID         the lab to walk (${DEFAULT_LAB})
  --origin O       send this Origin, as a page on O would
  --reset          start from a new environment (the page's Reset environment)
  --labs-dir DIR   where the lab folders are, with the solves typed (this project's labs/)
  --step-timeout S how long one solve may take to give the prompt back (180)
  --verbose        print what the shell prints`;

/** The CLI: 0 when every checkpoint passed, 1 at the first that did not, 2 when refused or misused. */
export async function main(argv: string[], log: (line: string) => void = (line) => console.log(line)): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        server: { type: "string" },
        token: { type: "string" },
        lab: { type: "string", default: DEFAULT_LAB },
        origin: { type: "string" },
        "labs-dir": { type: "string" },
        "step-timeout": { type: "string" },
        reset: { type: "boolean", default: false },
        verbose: { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
    }));
  } catch (error) {
    log(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help || !values.server) {
    log(USAGE);
    return values.help ? 0 : 2;
  }
  const stepTimeout = values["step-timeout"];
  // A timeout that is not a positive number of seconds would be NaN ms: refused in words.
  if (stepTimeout !== undefined && !(stepTimeout.trim() !== "" && Number.isFinite(Number(stepTimeout)) && Number(stepTimeout) > 0)) {
    log(`--step-timeout takes a number of seconds greater than 0, not "${stepTimeout}"\n${USAGE}`);
    return 2;
  }
  try {
    const result = await walkLab({
      server: values.server,
      token: values.token ?? process.env.NWL_TOKEN,
      lab: values.lab,
      origin: values.origin,
      labsDir: values["labs-dir"],
      reset: values.reset,
      stepTimeoutMs: stepTimeout !== undefined ? Number(stepTimeout) * 1000 : undefined,
      onOutput: values.verbose ? (text) => process.stderr.write(text) : undefined,
      log,
    });
    if (!result.passed) return 1;
    log(`${result.lab}: all ${result.steps.length} checkpoints passed`);
    return 0;
  } catch (error) {
    if (error instanceof Refused) {
      log(`refused: ${error.message}`);
      return 2;
    }
    log(`failed: ${(error as Error).message}`);
    return 1;
  }
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
