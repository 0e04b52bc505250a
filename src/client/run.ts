/**
 * Run buttons: the ones Expressive Code renders next to Copy on shell blocks
 * (see src/components/expressive-code/run-button.ts), inside or outside a
 * <Run> wrapper. One delegated listener serves them all, including blocks
 * added later.
 *
 * A <Run terminal="x" check="id"> wrapper (<nwl-run>) picks the target
 * terminal and names a checkpoint to check once the command has settled.
 */
import { findTerminal } from "./registry.ts";

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
  try {
    await terminal.run(command);
    const detail: RunFinishedDetail = { command, terminal: terminal.name, check: wrapper?.dataset.check || undefined };
    button.dispatchEvent(new CustomEvent(RUN_FINISHED, { detail, bubbles: true }));
  } catch (error) {
    button.title = `Run failed: ${(error as Error).message}`;
    button.dataset.state = "error";
    return;
  }
  button.dataset.state = "done";
}

export function installRunButtons(root: Document = document): void {
  root.addEventListener("click", (event) => {
    const button = (event.target as Element | null)?.closest?.<HTMLButtonElement>("button[data-nwl-run]");
    if (button) void runFrom(button);
  });
}
