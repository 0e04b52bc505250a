/**
 * <nwl-server-settings>: where this page finds its lab server. The form is
 * in ServerSettings.astro; this element saves it and says whether a server
 * answers there.
 */
import { probeServer } from "./server-probe.ts";
import { SERVER_CHANGED, defaultServerUrl, isCustomServer, serverUrl, setServerUrl } from "./settings.ts";

export class NwlServerSettings extends HTMLElement {
  private readonly onChanged = () => this.refresh();

  connectedCallback(): void {
    this.querySelector("form")?.addEventListener("submit", this.onSubmit);
    this.querySelector("[data-action=reset]")?.addEventListener("click", this.onReset);
    window.addEventListener(SERVER_CHANGED, this.onChanged);
    this.refresh();
  }

  disconnectedCallback(): void {
    this.querySelector("form")?.removeEventListener("submit", this.onSubmit);
    this.querySelector("[data-action=reset]")?.removeEventListener("click", this.onReset);
    window.removeEventListener(SERVER_CHANGED, this.onChanged);
  }

  private onSubmit = (event: Event): void => {
    event.preventDefault();
    const input = this.querySelector<HTMLInputElement>("input[name=server]");
    try {
      setServerUrl(input?.value);
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
      if (result.ok) this.say(`Lab server reachable at ${url}${result.version ? ` (v${result.version})` : ""}`, "ok");
      else this.say(`No lab server at ${url}: ${result.reason}`, "error");
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
