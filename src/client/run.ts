/**
 * Run buttons: the ones Expressive Code renders next to Copy on shell blocks
 * (see src/components/expressive-code/run-button.ts), inside or outside a
 * <Run> wrapper. One delegated listener serves them all, including blocks
 * added later.
 *
 * A <Run terminal="x" check="id"> wrapper (<nwl-run>) picks the target
 * terminal and names a checkpoint to check once the command has settled.
 */
import { findTerminal, TerminalBusyError } from "./registry.ts";

export const RUN_FINISHED = "nwl:run-finished";

export interface RunFinishedDetail {
  command: string;
  terminal: string;
  check?: string;
}

async function runFrom(button: HTMLButtonElement): Promise<void> {
  const command = button.dataset.command;
  if (!command || button.dataset.state === "running") return;
  const wrapper = button.closest<HTMLElement>("nwl-run");
  const name = wrapper?.dataset.terminal || undefined;
  const terminal = findTerminal(name);
  if (!terminal) {
    button.title = name ? `No terminal named "${name}" on this page` : "No terminal on this page";
    button.dataset.state = "error";
    return;
  }
  button.dataset.state = "running";
  showRunError(button, undefined);
  try {
    await terminal.run(command);
    const detail: RunFinishedDetail = { command, terminal: terminal.name, check: wrapper?.dataset.check || undefined };
    button.dispatchEvent(new CustomEvent(RUN_FINISHED, { detail, bubbles: true }));
  } catch (error) {
    const message =
      error instanceof TerminalBusyError
        ? `Not run: the terminal is busy with ${error.command}. Stop it from the terminal's bar, or run this in a new terminal.`
        : `Not run: ${(error as Error).message}`;
    button.title = message;
    button.dataset.state = "error";
    showRunError(button, message);
    return;
  }
  button.dataset.state = "done";
}

/** Why a Run did not happen, in words under its block (no dead end: the reader reads what to do). */
function showRunError(button: HTMLButtonElement, message: string | undefined): void {
  const block = button.closest(".expressive-code") ?? button.parentElement;
  if (!block) return;
  let note = block.nextElementSibling?.classList.contains("nwl-run-error") ? (block.nextElementSibling as HTMLElement) : undefined;
  if (!message) {
    note?.remove();
    return;
  }
  if (!note) {
    note = document.createElement("p");
    note.className = "nwl-run-error not-content";
    note.setAttribute("role", "alert");
    note.dataset.testid = "run-error";
    block.after(note);
  }
  note.textContent = message;
}

export function installRunButtons(root: Document = document): void {
  root.addEventListener("click", (event) => {
    const button = (event.target as Element | null)?.closest?.<HTMLButtonElement>("button[data-nwl-run]");
    if (button) void runFrom(button);
  });
}
