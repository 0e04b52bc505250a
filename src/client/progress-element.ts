/**
 * <nwl-lab-progress>: n of m checkpoints passed, from saved progress; m is
 * every checkpoint of the lab (listed in data-checkpoints at build time).
 */
import { onProgressChange, readProgress, resetProgress } from "./progress.ts";

export class NwlLabProgress extends HTMLElement {
  private stopWatching: (() => void) | undefined;

  get lab(): string {
    return this.dataset.lab || this.closest<HTMLElement>("[data-lab]")?.dataset.lab || "";
  }

  private get checkpoints(): string[] {
    return (this.dataset.checkpoints ?? "").split(",").filter(Boolean);
  }

  connectedCallback(): void {
    this.addEventListener("click", this.onClick);
    this.stopWatching = onProgressChange(this.lab, () => this.render());
    this.render();
  }

  disconnectedCallback(): void {
    this.removeEventListener("click", this.onClick);
    this.stopWatching?.();
  }

  private onClick = (event: Event): void => {
    if (!(event.target as Element).closest("button[data-action=reset]")) return;
    if (confirm("Forget your progress in this lab? Your lab environment is not changed.")) resetProgress(this.lab);
  };

  private render(): void {
    const progress = readProgress(this.lab);
    const all = this.checkpoints;
    const passed = all.filter((id) => progress[id]?.passed).length;
    const percent = all.length ? Math.round((passed / all.length) * 100) : 0;
    this.dataset.passed = String(passed);
    this.dataset.total = String(all.length);
    this.dataset.complete = String(all.length > 0 && passed === all.length);
    const count = this.querySelector<HTMLElement>("[data-part=count]");
    if (count) count.textContent = `${passed} of ${all.length} checkpoints passed`;
    const bar = this.querySelector<HTMLProgressElement>("progress");
    if (bar) {
      bar.max = all.length || 1;
      bar.value = passed;
      bar.textContent = `${percent}%`;
    }
    const percentEl = this.querySelector<HTMLElement>("[data-part=percent]");
    if (percentEl) percentEl.textContent = `${percent}%`;
    const reset = this.querySelector<HTMLButtonElement>("button[data-action=reset]");
    if (reset) reset.disabled = Object.keys(progress).length === 0;
  }
}
