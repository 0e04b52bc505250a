/**
 * <nwl-checkpoint>: a Check button and what the server found. Markup from
 * Checkpoint.astro; the last result shown comes from saved progress until
 * the reader checks again.
 */
import { CheckError, checkCheckpoint } from "./checkpoints.ts";
import { onProgressChange, readProgress } from "./progress.ts";

/** Hints are plain text with `code` in backticks, as in the lab definitions. */
function withInlineCode(text: string): Node[] {
  return text.split("`").map((part, index) => {
    if (index % 2 === 0) return document.createTextNode(part);
    const code = document.createElement("code");
    code.textContent = part;
    return code;
  });
}

type State = "unchecked" | "checking" | "passed" | "failed" | "error";

const RESULT_TEXT: Record<State, string> = {
  unchecked: "Not checked yet",
  checking: "Checking…",
  passed: "Passed",
  failed: "Not yet",
  error: "Could not check",
};

export class NwlCheckpoint extends HTMLElement {
  private stopWatching: (() => void) | undefined;
  private running: Promise<void> | undefined;
  /** When the saved record shown was made (undefined: none; null: nothing shown yet). */
  private shownRecordAt: number | undefined | null = null;

  get checkpointId(): string {
    return this.dataset.checkpointId ?? "";
  }

  get lab(): string {
    return this.dataset.lab || this.closest<HTMLElement>("[data-lab]")?.dataset.lab || "";
  }

  connectedCallback(): void {
    this.addEventListener("click", this.onClick);
    this.stopWatching = onProgressChange(this.lab, () => this.showSaved());
    this.showSaved();
  }

  disconnectedCallback(): void {
    this.removeEventListener("click", this.onClick);
    this.stopWatching?.();
  }

  /** Runs the check (once at a time) and shows the result. */
  check(): Promise<void> {
    this.running ??= this.runCheck().finally(() => {
      this.running = undefined;
      // What is on screen now reflects the record this check saved (if any).
      this.shownRecordAt = readProgress(this.lab)[this.checkpointId]?.at;
    });
    return this.running;
  }

  private onClick = (event: Event): void => {
    if ((event.target as Element).closest("button[data-action=check]")) void this.check();
  };

  private async runCheck(): Promise<void> {
    this.setState("checking");
    this.show({ output: "", hint: undefined });
    try {
      const result = await checkCheckpoint(this.lab, this.checkpointId);
      this.setState(result.passed ? "passed" : "failed", `${(result.durationMs / 1000).toFixed(1)} s`);
      this.show({ output: result.output, hint: result.passed ? undefined : (result.hint ?? this.dataset.hint) });
    } catch (error) {
      this.setState("error");
      const message = (error as Error).message;
      this.show({ output: error instanceof CheckError ? message : `Check failed: ${message}`, hint: undefined });
    }
  }

  /**
   * Saved progress (this page or another tab), unless a check is on screen or
   * running. Only a change of this checkpoint's own record counts: another
   * checkpoint's check must not wipe what this one said (e.g. why it could not check).
   */
  private showSaved(): void {
    if (this.running) return;
    const record = readProgress(this.lab)[this.checkpointId];
    if (this.shownRecordAt !== null && record?.at === this.shownRecordAt) return;
    this.shownRecordAt = record?.at;
    const state = this.dataset.state as State | undefined;
    if (!record) {
      this.setState("unchecked");
      this.show({ output: "", hint: undefined });
    } else if (state === "unchecked" || state === undefined || (record.passed ? "passed" : "failed") !== state) {
      this.setState(record.passed ? "passed" : "failed", "last check");
      this.show({ output: "", hint: record.passed ? undefined : this.dataset.hint });
    }
  }

  private setState(state: State, detail?: string): void {
    this.dataset.state = state;
    const result = this.querySelector<HTMLElement>("[data-part=result]");
    if (result) result.textContent = detail ? `${RESULT_TEXT[state]} (${detail})` : RESULT_TEXT[state];
    const button = this.querySelector<HTMLButtonElement>("button[data-action=check]");
    if (button) {
      button.disabled = state === "checking";
      button.textContent = state === "passed" || state === "failed" || state === "error" ? "Check again" : "Check";
    }
  }

  private show({ output, hint }: { output: string; hint: string | undefined }): void {
    const outputEl = this.querySelector<HTMLElement>("[data-part=output]");
    const hintEl = this.querySelector<HTMLElement>("[data-part=hint]");
    const feedback = this.querySelector<HTMLElement>("[data-part=feedback]");
    if (outputEl) {
      outputEl.textContent = output.trimEnd();
      outputEl.hidden = output.trim() === "";
    }
    if (hintEl) {
      hintEl.hidden = !hint;
      const text = hintEl.querySelector<HTMLElement>("[data-part=hint-text]");
      if (text) text.replaceChildren(...withInlineCode(hint ?? ""));
    }
    if (feedback) feedback.hidden = (outputEl?.hidden ?? true) && (hintEl?.hidden ?? true);
  }
}
