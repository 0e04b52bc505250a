/**
 * <nwl-checkpoint>: a checkpoint as the page store (lab-store.ts) sees it,
 * with its Check, "Solve this step for me" and "Catch me up to here".
 * Markup from Checkpoint.astro; nothing here talks to the server itself.
 */
import type { CheckpointView, LabSnapshot, LabStore } from "./lab-store.ts";
import { labStore, subscribeLab } from "./page-store.ts";

/** Hints are plain text with `code` in backticks, as in the lab definitions. */
function withInlineCode(text: string): Node[] {
  return text.split("`").map((part, index) => {
    if (index % 2 === 0) return document.createTextNode(part);
    const code = document.createElement("code");
    code.textContent = part;
    return code;
  });
}

const RESULT_TEXT: Record<CheckpointView["status"], string> = {
  unchecked: "Not checked yet",
  checking: "Checking…",
  solving: "Solving…",
  passed: "Passed",
  failed: "Not yet",
  error: "Could not check",
  unavailable: "Needs the lab VM",
};

export class NwlCheckpoint extends HTMLElement {
  private unsubscribe: (() => void) | undefined;
  /** What the last render showed: the same again changes nothing on the page. */
  private rendered: string | undefined;

  get checkpointId(): string {
    return this.dataset.checkpointId ?? "";
  }

  get lab(): string {
    return this.dataset.lab || this.closest<HTMLElement>("[data-lab]")?.dataset.lab || "";
  }

  connectedCallback(): void {
    this.addEventListener("click", this.onClick);
    this.unsubscribe = subscribeLab(this.lab, (snapshot, store) => this.render(snapshot, store));
  }

  disconnectedCallback(): void {
    this.removeEventListener("click", this.onClick);
    this.unsubscribe?.();
    this.rendered = undefined;
  }

  /** Runs the check (once at a time) and resolves when its result is shown. */
  async check(): Promise<void> {
    await labStore(this.lab).check(this.checkpointId);
  }

  private onClick = (event: Event): void => {
    const action = (event.target as Element).closest<HTMLButtonElement>("button[data-action]")?.dataset.action;
    const store = labStore(this.lab);
    if (action === "check") void store.check(this.checkpointId);
    else if (action === "solve") void store.solve(this.checkpointId);
    else if (action === "catch-up") void store.catchUp(this.checkpointId);
  };

  private render(snapshot: LabSnapshot, store: LabStore): void {
    const view = store.checkpoint(this.checkpointId);
    const busy = view.status === "checking" || view.status === "solving" || snapshot.activity !== undefined;
    // Catching up makes sense while an earlier step has not passed in this environment.
    const index = snapshot.order.indexOf(this.checkpointId);
    const behind = snapshot.order.slice(0, Math.max(0, index)).some((id) => !snapshot.environment?.progress[id]?.passed);
    const key = JSON.stringify([view.status, view.output, view.hint, view.detail, busy, behind]);
    if (key === this.rendered) return;
    this.rendered = key;
    this.dataset.state = view.status;
    this.withPart("result", (el) => (el.textContent = view.detail ? `${RESULT_TEXT[view.status]} (${view.detail})` : RESULT_TEXT[view.status]));
    this.button("check", (button) => {
      button.disabled = busy;
      button.textContent = view.status === "unchecked" || view.status === "checking" ? "Check" : "Check again";
    });
    this.button("solve", (button) => {
      button.disabled = busy;
      button.hidden = view.status === "passed" || view.status === "unavailable";
    });
    this.button("catch-up", (button) => {
      button.disabled = busy;
      button.hidden = !behind;
    });
    const output = view.output.trimEnd();
    const hint = view.status === "failed" ? (view.hint ?? this.dataset.hint) : undefined;
    this.withPart("output", (el) => {
      el.textContent = output;
      el.hidden = output === "";
    });
    this.withPart("hint", (el) => (el.hidden = !hint));
    this.withPart("hint-text", (el) => el.replaceChildren(...withInlineCode(hint ?? "")));
    this.withPart("feedback", (el) => (el.hidden = output === "" && !hint));
  }

  private withPart(name: string, update: (el: HTMLElement) => void): void {
    const el = this.querySelector<HTMLElement>(`[data-part="${name}"]`);
    if (el) update(el);
  }

  private button(action: string, update: (el: HTMLButtonElement) => void): void {
    const el = this.querySelector<HTMLButtonElement>(`button[data-action="${action}"]`);
    if (el) update(el);
  }
}
