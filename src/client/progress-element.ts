/**
 * <nwl-lab-progress>: n of m checkpoints passed in the reader's lab
 * environment (its progress is the environment's, from the page store), the
 * environment itself (when it started, how long it is kept idle), its Reset,
 * and, when it is newer than the progress this browser saw, an offer to
 * catch up to where the reader was.
 */
import type { LabSnapshot, LabStore } from "./lab-store.ts";
import { labStore, subscribeLab } from "./page-store.ts";

const time = (at: number) => new Date(at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

function duration(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes >= 1) return `${minutes} min`;
  return `${Math.round(ms / 1000)} s`;
}

export class NwlLabProgress extends HTMLElement {
  private unsubscribe: (() => void) | undefined;

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
  }

  private onClick = (event: Event): void => {
    const action = (event.target as Element).closest<HTMLButtonElement>("button[data-action]")?.dataset.action;
    const store = labStore(this.lab);
    if (action === "reset") {
      if (confirm("Reset your lab environment? Everything in it goes (files, containers, etcd's data) and its terminals start over in a new, empty one.")) void store.reset();
    } else if (action === "catch-up-previous") void store.catchUpToPrevious();
    else if (action === "dismiss-previous") store.dismissPrevious();
  };

  private render(snapshot: LabSnapshot, store: LabStore): void {
    const total = snapshot.order.length;
    const passed = store.passedCount();
    const percent = total ? Math.round((passed / total) * 100) : 0;
    this.dataset.passed = String(passed);
    this.dataset.total = String(total);
    this.dataset.complete = String(total > 0 && passed === total);
    this.dataset.environment = snapshot.environment?.environment ?? "";
    this.dataset.environmentStatus = snapshot.environmentStatus;
    this.withPart("count", (el) => (el.textContent = `${passed} of ${total} checkpoints passed`));
    this.withPart("percent", (el) => (el.textContent = `${percent}%`));
    const bar = this.querySelector<HTMLProgressElement>("progress");
    if (bar) {
      bar.max = total || 1;
      bar.value = passed;
      bar.textContent = `${percent}%`;
    }
    this.withPart("environment", (el) => (el.textContent = this.environmentText(snapshot)));
    this.withPart("activity", (el) => {
      el.textContent = snapshot.activity ?? "";
      el.hidden = !snapshot.activity;
    });
    const reset = this.querySelector<HTMLButtonElement>("button[data-action=reset]");
    if (reset) reset.disabled = !snapshot.environment?.environment || snapshot.activity !== undefined;
    const previous = snapshot.previous;
    this.withPart("previous", (el) => (el.hidden = !previous));
    if (previous) {
      const furthest = Math.max(-1, ...previous.passed.map((id) => snapshot.order.indexOf(id)));
      this.withPart("previous-text", (el) => {
        el.textContent =
          `Your lab environment is new: the one where you had passed ${previous.passed.length} of ${total} checkpoints has ended ` +
          `(the lab server restarted, or it was idle longer than it keeps environments). Its progress went with it.`;
      });
      this.querySelectorAll<HTMLButtonElement>("[data-part=previous] button").forEach((button) => (button.disabled = snapshot.activity !== undefined));
      this.withPart("previous-target", (el) => (el.textContent = String(Math.min(furthest + 2, total))));
    }
  }

  private environmentText(snapshot: LabSnapshot): string {
    const state = snapshot.environment;
    if (snapshot.environmentStatus === "starting") return "Your lab environment: starting…";
    if (snapshot.environmentStatus === "failed") return `Your lab environment could not be had: ${snapshot.environmentError ?? "unknown reason"}`;
    if (!state?.environment) {
      return snapshot.environmentError ? `No lab environment: ${snapshot.environmentError}` : "Your lab environment starts with your first terminal, Run or Check.";
    }
    const kept = `kept ${duration(state.keptForMs)} after your last terminal closes`;
    const expiry = state.expiresAt ? `; no terminal is open, so it goes at ${time(state.expiresAt)} unless you use it` : "";
    return `Your lab environment: started ${time(state.createdAt ?? Date.now())}, ${state.terminals} terminal${state.terminals === 1 ? "" : "s"} open, ${kept}${expiry}.`;
  }

  private withPart(name: string, update: (el: HTMLElement) => void): void {
    const el = this.querySelector<HTMLElement>(`[data-part="${name}"]`);
    if (el) update(el);
  }
}
