/**
 * The page's terminals by name, so Run buttons and checkpoints can find the
 * one they target (and start it) without knowing the DOM.
 */

/** What the rest of the page may ask of a terminal. */
export interface LabTerminal {
  readonly name: string;
  readonly lab: string;
  /** Starts the terminal if needed; resolves once its connection is being made. */
  start(): Promise<void>;
  /** Types a command and presses Enter; resolves when its output has settled. */
  run(command: string): Promise<void>;
  /** Resolves with the environment id once this terminal is welcomed by the server. */
  environment(): Promise<string>;
  /** Scrolls the terminal into view and focuses it. */
  reveal(): void;
}

const DEFAULT_NAME = "main";
const terminals = new Map<string, LabTerminal>();

export function registerTerminal(terminal: LabTerminal): () => void {
  if (terminals.has(terminal.name)) console.warn(`[nwl] two terminals are named "${terminal.name}"; the later one wins`);
  terminals.set(terminal.name, terminal);
  return () => {
    if (terminals.get(terminal.name) === terminal) terminals.delete(terminal.name);
  };
}

/** A terminal by name; without a name the page's "main" terminal, else its first. */
export function findTerminal(name?: string): LabTerminal | undefined {
  if (name) return terminals.get(name);
  return terminals.get(DEFAULT_NAME) ?? terminals.values().next().value;
}

/** Why a terminal has no lab environment to offer (a Check says this to the reader). */
export class TerminalUnavailable extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** Run refused: a program holds the terminal (the shell's prompt marks say so); typing would feed it the command. */
export class TerminalBusyError extends Error {
  readonly command: string;
  constructor(command: string) {
    super(`The terminal is busy running: ${command}`);
    this.command = command;
  }
}
