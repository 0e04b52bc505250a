/**
 * <nwl-server-settings>: where this page finds its lab server. The form is
 * in ServerSettings.astro; this element saves it and says whether a server
 * answers there. A pasted access link (`http://host:port/#token=…`, as the
 * server prints it) gives the server and its token at once.
 */
import { ACCESS_CHANGED, tokenFor, useAccessLink } from "./access.ts";
import { probeServer } from "./server-probe.ts";
import { SERVER_CHANGED, defaultServerUrl, isCustomServer, serverUrl, setServerUrl } from "./settings.ts";

export class NwlServerSettings extends HTMLElement {
  private readonly onChanged = () => this.refresh();
  /** Opening the panel (a terminal's Server button) asks the server again: its state may have changed since. */
  private panel: HTMLDetailsElement | null = null;
  private readonly onToggle = (event: Event) => {
    if ((event.target as HTMLDetailsElement).open) this.refresh(true);
  };

  connectedCallback(): void {
    this.querySelector("form")?.addEventListener("submit", this.onSubmit);
    this.querySelector("[data-action=reset]")?.addEventListener("click", this.onReset);
    window.addEventListener(SERVER_CHANGED, this.onChanged);
    window.addEventListener(ACCESS_CHANGED, this.onChanged);
    this.panel = this.closest("details");
    this.panel?.addEventListener("toggle", this.onToggle);
    this.refresh();
  }

  disconnectedCallback(): void {
    this.querySelector("form")?.removeEventListener("submit", this.onSubmit);
    this.querySelector("[data-action=reset]")?.removeEventListener("click", this.onReset);
    window.removeEventListener(SERVER_CHANGED, this.onChanged);
    window.removeEventListener(ACCESS_CHANGED, this.onChanged);
    this.panel?.removeEventListener("toggle", this.onToggle);
    this.panel = null;
  }

  private onSubmit = (event: Event): void => {
    event.preventDefault();
    const input = this.querySelector<HTMLInputElement>("input[name=server]");
    try {
      if (input?.value.trim()) useAccessLink(input.value);
      else setServerUrl(undefined);
      this.refresh(true);
    } catch (error) {
      this.say(`Not a server address: ${(error as Error).message}`, "error");
    }
  };

  private onReset = (): void => {
    setServerUrl(undefined);
    this.refresh(true);
  };

  private refresh(fresh = false): void {
    const url = serverUrl();
    const input = this.querySelector<HTMLInputElement>("input[name=server]");
    if (input) {
      input.value = isCustomServer() ? url : "";
      input.placeholder = defaultServerUrl();
    }
    this.dataset.custom = String(isCustomServer());
    this.say(`Checking ${url}…`, "checking");
    void probeServer(url, fresh).then((result) => {
      if (url !== serverUrl()) return;
      if (!result.ok) {
        this.say(`No lab server at ${url}: ${result.reason}`, "error");
        return;
      }
      const version = result.version ? ` (v${result.version})` : "";
      const access =
        result.authorized === false
          ? " It did not accept this browser's access link: open the link it printed when it started (it ends in #token=…), or paste it here."
          : tokenFor(url) === undefined
            ? " This browser has no access link for it yet: open the link it printed when it started (it ends in #token=…), or paste it here."
            : "";
      if (result.degraded) {
        const reasons = result.degraded.length ? `: ${result.degraded.join("; ")}` : "";
        this.say(`Lab server at ${url}${version} is running but degraded${reasons}.${access}`, "warning");
      } else this.say(`Lab server reachable at ${url}${version}.${access}`, access ? "warning" : "ok");
    });
  }

  private say(text: string, state: string): void {
    const status = this.querySelector<HTMLElement>("[data-part=settings-status]");
    if (status) {
      status.textContent = text;
      status.dataset.state = state;
    }
  }
}
