/**
 * The lab environment a page's terminals share. The server names it in its
 * welcome; we keep the id in sessionStorage so a reload and every other
 * terminal of the tab join the same one.
 *
 * The first terminal to start on a page load goes alone (passing the stored id
 * as a hint); the others wait for its welcome. Otherwise two terminals started
 * together, or a stored id the server has forgotten, would each get an
 * environment of their own.
 */
import { tabStore } from "./storage.ts";

/** How long followers wait for the first terminal before starting on their own. */
const FOLLOW_TIMEOUT_MS = 15_000;
export const ENVIRONMENT_CHANGED = "nwl:environment";

const key = (lab: string) => `nwl:environment:${lab}`;

class LabEnvironment {
  readonly lab: string;
  private confirmed = false;
  private leading: Promise<void> | undefined;
  private release: (() => void) | undefined;

  constructor(lab: string) {
    this.lab = lab;
  }

  /** The id the server last confirmed, or the stored one from an earlier page load. */
  get id(): string | undefined {
    return tabStore.getItem(key(this.lab)) ?? undefined;
  }

  get isConfirmed(): boolean {
    return this.confirmed && this.id !== undefined;
  }

  /**
   * The environment a starting terminal should ask for. Resolves at once for
   * the first terminal (with the stored id, maybe undefined); later ones
   * resolve when the first is welcomed.
   */
  async claim(): Promise<string | undefined> {
    while (!this.confirmed) {
      if (!this.leading) {
        this.leading = new Promise((resolve) => (this.release = resolve));
        return this.id;
      }
      const timedOut = await Promise.race([
        this.leading.then(() => false),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(true), FOLLOW_TIMEOUT_MS)),
      ]);
      if (timedOut) return this.id;
    }
    return this.id;
  }

  /** A welcome named the environment: remember it and let waiting terminals go. */
  confirm(id: string): void {
    const changed = this.id !== id;
    tabStore.setItem(key(this.lab), id);
    this.confirmed = true;
    this.release?.();
    if (changed) window.dispatchEvent(new CustomEvent(ENVIRONMENT_CHANGED, { detail: { lab: this.lab, environment: id } }));
  }

  /** The leading terminal gave up (closed before any welcome): the next one leads. */
  abandon(): void {
    if (this.confirmed) return;
    const release = this.release;
    this.leading = this.release = undefined;
    release?.();
  }

  /** Forget everything (the server changed). */
  reset(): void {
    tabStore.removeItem(key(this.lab));
    this.confirmed = false;
    this.abandon();
  }
}

const environments = new Map<string, LabEnvironment>();

export function labEnvironment(lab: string): LabEnvironment {
  let environment = environments.get(lab);
  if (!environment) {
    environment = new LabEnvironment(lab);
    environments.set(lab, environment);
  }
  return environment;
}

export type { LabEnvironment };
