/**
 * Keyboard shortcuts on a lab page, while the focus is in the text (not in
 * a terminal, a field or the pane): n / p next and previous step, r runs the
 * step's next command that has not run, c checks the step's checkpoint,
 * t goes to the terminal, ? lists them. Alt+Shift+← (also from inside the
 * terminal: shells leave it alone) goes back to the text, Alt+Shift+→ to the
 * terminal.
 *
 * A step is a heading with a checkpoint of its own (or, on a page without
 * checkpoints, an h2); the current step is the last one whose heading is
 * above the upper part of the window.
 */

export interface ShortcutActions {
  /** Focuses the pane's active terminal (starting it if needed). */
  focusTerminal(): void;
  showHelp(): void;
  announce(text: string): void;
}

/** Step headings in page order. */
export function stepHeadings(content: ParentNode): HTMLElement[] {
  const withCheckpoint = new Set<HTMLElement>();
  let heading: HTMLElement | undefined;
  for (const element of content.querySelectorAll<HTMLElement>("h2[id], h3[id], nwl-checkpoint")) {
    if (element.localName === "nwl-checkpoint") {
      if (heading) withCheckpoint.add(heading);
    } else heading = element;
  }
  if (withCheckpoint.size) return [...withCheckpoint];
  return [...content.querySelectorAll<HTMLElement>("h2[id]")];
}

const before = (a: Node, b: Node) => (a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING) !== 0;

/** The elements matching `selector` from a step's heading up to the next step's. */
function inStep<T extends Element>(content: ParentNode, steps: HTMLElement[], index: number, selector: string): T[] {
  const start = steps[index]!;
  const end = steps[index + 1];
  return [...content.querySelectorAll<T>(selector)].filter((element) => before(start, element) && (!end || before(element, end)));
}

/** Whether a key press belongs to something else: a field, a terminal, the pane, a dialog. */
function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof Element)) return false;
  return target.closest("input, textarea, select, [contenteditable]:not([contenteditable=false]), .xterm, nwl-lab-pane, dialog") !== null;
}

export function installShortcuts(content: HTMLElement, actions: ShortcutActions): void {
  /** Where Alt+Shift+← returns to: the last thing focused in the text. */
  let lastInText: HTMLElement | undefined;
  content.addEventListener("focusin", (event) => (lastInText = event.target as HTMLElement));

  const steps = () => stepHeadings(content);
  /** The current step's index; -1 above the first step (then n goes to the first, r and c act on it). */
  const currentIndex = (list: HTMLElement[]): number => {
    const line = innerHeight * 0.4;
    let index = -1;
    list.forEach((heading, i) => {
      if (heading.getBoundingClientRect().top <= line) index = i;
    });
    return index;
  };
  const focusQuietly = (element: HTMLElement) => {
    if (!element.matches("a, button, input, textarea, select, [tabindex]")) element.tabIndex = -1;
    element.focus({ preventScroll: true });
  };
  const goTo = (heading: HTMLElement) => {
    heading.scrollIntoView({ block: "start" });
    focusQuietly(heading);
  };

  const act = (key: string): boolean => {
    const list = steps();
    if (!list.length) return false;
    const current = currentIndex(list);
    const index = Math.max(current, 0);
    switch (key) {
      case "n":
        goTo(list[Math.min(current + 1, list.length - 1)]!);
        return true;
      case "p":
        goTo(list[Math.max(current - 1, 0)]!);
        return true;
      case "r": {
        const runs = inStep<HTMLButtonElement>(content, list, index, "button[data-nwl-run]");
        const next = runs.find((button) => button.dataset.state !== "done" && button.dataset.state !== "running");
        if (next) {
          actions.announce(`Running: ${next.dataset.command ?? ""}`);
          next.click();
        } else actions.announce(runs.length ? "Every command of this step has run." : "This step has no command to run.");
        return true;
      }
      case "c": {
        const checkpoints = inStep<HTMLElement>(content, list, index, "nwl-checkpoint");
        const checkpoint = checkpoints.find((element) => element.dataset.state !== "passed") ?? checkpoints[0];
        const button = checkpoint?.querySelector<HTMLButtonElement>("button[data-action=check]");
        if (button) button.click();
        else actions.announce("This step has no checkpoint.");
        return true;
      }
      case "t":
        actions.focusTerminal();
        return true;
      case "?":
        actions.showHelp();
        return true;
    }
    return false;
  };

  document.addEventListener(
    "keydown",
    (event) => {
      // The two chords work from anywhere, the terminal included (capture: before xterm sees them).
      if (event.altKey && event.shiftKey && !event.ctrlKey && !event.metaKey && (event.key === "ArrowLeft" || event.key === "ArrowRight")) {
        event.preventDefault();
        event.stopImmediatePropagation();
        if (event.key === "ArrowRight") actions.focusTerminal();
        else {
          const list = steps();
          const target = lastInText?.isConnected ? lastInText : list[Math.max(currentIndex(list), 0)];
          if (target) focusQuietly(target);
        }
        return;
      }
      if (event.ctrlKey || event.altKey || event.metaKey || event.defaultPrevented || isTyping(event.target)) return;
      if (act(event.key)) event.preventDefault();
    },
    { capture: true },
  );
}
